-- parity_history_buckets: per hash bucket of doc_id, the count and two checksums of the history.
--
-- As parity_buckets, over every revision instead of the user view: a row's checksum is MD5 of
-- "doc_id|version|revision_hash|content_hash", so a missing or extra revision, another revision
-- hash or other data (a redacted copy against the original) all change the bucket's sums. The
-- bucket is still the document's, so every version of a document lands in one bucket.
SELECT
    k.bucket,
    COUNT(*) AS n,
    SUM(from_base(substr(to_hex(md5(to_utf8(k.row_key))), 1, 8), 16)) AS s1,
    SUM(from_base(substr(to_hex(md5(to_utf8(k.row_key))), 9, 8), 16)) AS s2
FROM (
    SELECT
        CAST(floor(from_base(substr(to_hex(md5(to_utf8(h.doc_id))), 1, 8), 16) / ?) AS BIGINT) AS bucket,
        CAST(floor(from_base(substr(to_hex(md5(to_utf8(h.doc_id))), 1, 8), 16) / ?) AS BIGINT) AS parent,
        concat(
            h.doc_id, '|', CAST(h.version AS VARCHAR), '|', h.revision_hash, '|',
            coalesce(lower(to_hex(sha256(to_utf8(h.data_json)))), '')
        ) AS row_key
    FROM {database}.history AS h
    WHERE h.table_name = ?
) AS k
WHERE cardinality(?) = 0 OR contains(?, k.parent)
GROUP BY k.bucket

-- parity_history_rows: the history's (doc_id, version, revision_hash, content_hash) in the listed buckets.
--
-- Parameters: the bucket width, the QLDB table, then the buckets.
SELECT r.doc_id, r.version, r.revision_hash, r.content_hash
FROM (
    SELECT
        h.doc_id,
        h.version,
        h.revision_hash,
        lower(to_hex(sha256(to_utf8(h.data_json)))) AS content_hash,
        CAST(floor(from_base(substr(to_hex(md5(to_utf8(h.doc_id))), 1, 8), 16) / ?) AS BIGINT) AS bucket
    FROM {database}.history AS h
    WHERE h.table_name = ?
) AS r
WHERE contains(?, r.bucket)

-- parity_history_buckets: per hash bucket of doc_id, the count and two checksums of the history.
--
-- As parity_buckets, over parity_history_index (every revision instead of the user view): a
-- row's checksum is MD5 of "doc_id|version|revision_hash|content_hash". The bucket is still the
-- document's, so every version of a document lands in one bucket.
SELECT
    k.bucket,
    COUNT(*) AS n,
    SUM(k.k1) AS s1,
    SUM(k.k2) AS s2
FROM (
    SELECT
        CAST(floor(h.doc_hash / ?) AS BIGINT) AS bucket,
        CAST(floor(h.doc_hash / ?) AS BIGINT) AS parent,
        h.k1,
        h.k2
    FROM {database}.parity_history_index AS h
    WHERE h.table_name = ?
) AS k
WHERE cardinality(?) = 0 OR contains(?, k.parent)
GROUP BY k.bucket

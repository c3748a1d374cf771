-- parity_buckets: per hash bucket of doc_id, the count and two checksums of the user view.
--
-- Parameters: the bucket width (2^24 for 256 buckets, 2^18 for 16,384), the parent width, the QLDB
-- table, then the parent buckets twice (an empty array: all; else only documents whose wider
-- bucket is listed). Read from parity_current_index, where every hash is computed once: a
-- document's hash (doc_hash) is the first 8 hex digits of MD5(doc_id); a row's checksum is MD5
-- of "doc_id|version|content_hash", two 32-bit halves (k1, k2) summed. The target computes the
-- same in its own SQL (restore.parity), so only per-bucket sums cross the wire.
SELECT
    k.bucket,
    COUNT(*) AS n,
    SUM(k.k1) AS s1,
    SUM(k.k2) AS s2
FROM (
    SELECT
        CAST(floor(c.doc_hash / ?) AS BIGINT) AS bucket,
        CAST(floor(c.doc_hash / ?) AS BIGINT) AS parent,
        c.k1,
        c.k2
    FROM {database}.parity_current_index AS c
    WHERE c.table_name = ?
) AS k
WHERE cardinality(?) = 0 OR contains(?, k.parent)
GROUP BY k.bucket

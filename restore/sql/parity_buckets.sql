-- parity_buckets: per hash bucket of doc_id, the count and two checksums of the user view.
--
-- Parameters: the bucket width (2^24 for 256 buckets, 2^18 for 16,384), the parent width, the QLDB
-- table, then the parent buckets twice (an empty array: all; else only documents whose wider
-- bucket is listed). A document's hash is the first 8 hex digits of MD5(doc_id); a
-- row's checksum is MD5 of "doc_id|version|content_hash", two 32-bit halves summed. The target
-- computes the same in its own SQL (restore.parity), so only per-bucket sums cross the wire.
-- from_base is Trino's; the local engine defines it for DuckDB (base 16 only).
SELECT
    k.bucket,
    COUNT(*) AS n,
    SUM(from_base(substr(to_hex(md5(to_utf8(k.row_key))), 1, 8), 16)) AS s1,
    SUM(from_base(substr(to_hex(md5(to_utf8(k.row_key))), 9, 8), 16)) AS s2
FROM (
    SELECT
        CAST(floor(from_base(substr(to_hex(md5(to_utf8(c.doc_id))), 1, 8), 16) / ?) AS BIGINT) AS bucket,
        CAST(floor(from_base(substr(to_hex(md5(to_utf8(c.doc_id))), 1, 8), 16) / ?) AS BIGINT) AS parent,
        concat(
            c.doc_id, '|', CAST(c.version AS VARCHAR), '|',
            coalesce(lower(to_hex(sha256(to_utf8(c.data_json)))), '')
        ) AS row_key
    FROM {database}.current AS c
    WHERE c.table_name = ?
) AS k
WHERE cardinality(?) = 0 OR contains(?, k.parent)
GROUP BY k.bucket

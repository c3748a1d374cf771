-- parity_rows: the user view's (doc_id, version, content_hash) in the listed hash buckets.
--
-- Parameters: the bucket width, the QLDB table, then the buckets twice. Only buckets whose
-- checksums differ are read row by row, so rows moved grow with the differences, not the table.
SELECT r.doc_id, r.version, r.content_hash
FROM (
    SELECT
        c.doc_id,
        c.version,
        lower(to_hex(sha256(to_utf8(c.data_json)))) AS content_hash,
        CAST(floor(from_base(substr(to_hex(md5(to_utf8(c.doc_id))), 1, 8), 16) / ?) AS BIGINT) AS bucket
    FROM {database}.current AS c
    WHERE c.table_name = ?
) AS r
WHERE contains(?, r.bucket)

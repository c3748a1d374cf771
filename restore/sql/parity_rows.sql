-- parity_rows: the user view's (doc_id, version, content_hash) in the listed hash buckets.
--
-- Parameters: the bucket width, the QLDB table, then the buckets. Only buckets whose checksums
-- differ are read row by row, so rows moved grow with the differences, not the table.
SELECT c.doc_id, c.version, c.content_hash
FROM {database}.parity_current_index AS c
WHERE c.table_name = ? AND contains(?, CAST(floor(c.doc_hash / ?) AS BIGINT))

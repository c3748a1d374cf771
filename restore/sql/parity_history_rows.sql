-- parity_history_rows: the history's (doc_id, version, revision_hash, content_hash) in the listed buckets.
--
-- Parameters: the QLDB table, the buckets, then the bucket width.
SELECT h.doc_id, h.version, h.revision_hash, h.content_hash
FROM {database}.parity_history_index AS h
WHERE h.table_name = ? AND contains(?, CAST(floor(h.doc_hash / ?) AS BIGINT))

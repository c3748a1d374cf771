-- parity_documents: every document of one QLDB table's user view, with its data (deep mode).
--
-- Parameter: the QLDB table.
SELECT c.doc_id, c.version, c.data_json
FROM {database}.current AS c
WHERE c.table_name = ?

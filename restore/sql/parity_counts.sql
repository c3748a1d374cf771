-- parity_counts: documents in the user view, per QLDB table.
SELECT c.table_name, COUNT(*) AS documents
FROM {database}.current AS c
GROUP BY c.table_name
ORDER BY c.table_name

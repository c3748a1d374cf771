-- parity_counts: documents in the user view, per QLDB table (from parity_current_index).
SELECT c.table_name, COUNT(*) AS documents
FROM {database}.parity_current_index AS c
GROUP BY c.table_name
ORDER BY c.table_name

-- parity_history_counts: revisions in the de-duplicated history, per QLDB table (parity_history_index).
SELECT h.table_name, COUNT(*) AS documents
FROM {database}.parity_history_index AS h
GROUP BY h.table_name
ORDER BY h.table_name

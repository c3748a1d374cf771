-- parity_history_counts: revisions in the de-duplicated history, per QLDB table.
SELECT h.table_name, COUNT(*) AS documents
FROM {database}.history AS h
GROUP BY h.table_name
ORDER BY h.table_name

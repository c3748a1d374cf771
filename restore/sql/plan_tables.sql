-- plan_tables: per QLDB table, what a restore up to block ? (inclusive) would apply.
--
-- Parameters: the block cut, then the table selection twice (an empty array: every table).
-- From the `history` view, so duplicates are already folded: duplicate_copies counts the extra
-- archived rows the restore skips; conflicts must be 0 for a restore to run.
SELECT
    h.table_name,
    COUNT(DISTINCT h.doc_id) AS documents,
    COUNT(*) AS revisions,
    SUM(CASE WHEN h.is_deleted THEN 1 ELSE 0 END) AS deletes,
    SUM(CASE WHEN h.is_redacted THEN 1 ELSE 0 END) AS redactions,
    SUM(h.copies - 1) AS duplicate_copies,
    SUM(CASE WHEN h.conflict THEN 1 ELSE 0 END) AS conflicts,
    MIN(h.block_seq) AS first_block,
    MAX(h.block_seq) AS last_block
FROM {database}.history AS h
WHERE h.block_seq <= ? AND (cardinality(?) = 0 OR contains(?, h.table_name))
GROUP BY h.table_name
ORDER BY h.table_name

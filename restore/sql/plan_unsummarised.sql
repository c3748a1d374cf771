-- plan_unsummarised: revisions up to block ? whose block has no block summary in the archive.
--
-- Parameters: the block cut, then the table selection twice. Every QLDB block that commits a
-- revision also streams a BLOCK_SUMMARY; a revision without one means summaries were lost.
SELECT h.table_name, h.doc_id, h.version, h.block_seq
FROM {database}.history AS h
LEFT JOIN (SELECT DISTINCT ledger, block_seq FROM {database}.blocks) AS b
    ON b.ledger = h.ledger AND b.block_seq = h.block_seq
WHERE b.block_seq IS NULL AND h.block_seq <= ? AND (cardinality(?) = 0 OR contains(?, h.table_name))
ORDER BY h.block_seq, h.doc_id, h.version

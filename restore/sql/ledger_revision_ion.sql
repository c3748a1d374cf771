-- ledger_revision_ion: the lossless Ion text of every revision copy in blocks ? to ? (inclusive).
--
-- Parameters: first block, last block (a chunk of `plan_revisions`). Read only for the ledger
-- targets, which need each revision's exact Ion; the other targets never pay for the column.
-- Copies of one revision with the same redaction state hold the same Ion, so the caller keys
-- them by (doc_id, version, is_redacted) and keeps any one.
SELECT
    r.doc_id,
    r.version,
    r.is_redacted,
    r.revision_ion
FROM {database}.revisions AS r
WHERE r.block_seq >= ? AND r.block_seq <= ?

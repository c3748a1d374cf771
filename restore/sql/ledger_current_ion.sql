-- ledger_current_ion: the current documents after block ? (inclusive), with their revision's Ion.
--
-- Parameters: the block cut, twice (as `current_as_of_block`). What a restored ledger must hold
-- at the end: the QLDB target compares each document's data hash in the new ledger with the Ion
-- hash of the data here.
SELECT
    v.table_name,
    v.doc_id,
    v.version,
    v.revision_ion
FROM {database}.versions AS v
WHERE v.block_seq <= ? AND (v.replaced_at_block IS NULL OR v.replaced_at_block > ?) AND NOT v.is_deleted

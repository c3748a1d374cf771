-- current_as_of_block: the user view as it was after block sequence number ? (inclusive).
--
-- A parameterised query (Athena prepared statement, DuckDB parameter, both ? the same value):
-- the versions committed by that block and not yet replaced by then, so a document deleted
-- later is still there and one inserted later is not.
SELECT
    v.ledger,
    v.table_name,
    v.doc_id,
    v.version,
    v.tx_time,
    v.block_seq,
    v.data_json
FROM {database}.versions AS v
WHERE v.block_seq <= ? AND (v.replaced_at_block IS NULL OR v.replaced_at_block > ?) AND NOT v.is_deleted

-- current_as_of_block: the user view as it was after block sequence number ? (inclusive).
--
-- A parameterised query (Athena prepared statement, DuckDB parameter): revisions are cut at the
-- block BEFORE the latest version is taken, so a document deleted later is still there and one
-- inserted later is not.
SELECT
    ledger,
    table_name,
    doc_id,
    version,
    tx_time,
    block_seq,
    data_json
FROM (
    SELECT
        h.ledger,
        h.table_name,
        h.doc_id,
        h.version,
        h.tx_time,
        h.block_seq,
        h.data_json,
        h.is_deleted,
        ROW_NUMBER() OVER (PARTITION BY h.ledger, h.doc_id ORDER BY h.version DESC) AS version_rank
    FROM {database}.history AS h
    WHERE h.block_seq <= ?
) AS latest
WHERE version_rank = 1 AND NOT is_deleted

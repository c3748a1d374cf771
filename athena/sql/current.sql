-- current: the QLDB user view, the latest revision of each document, deleted documents excluded.
--
-- Across every QLDB table (filter on table_name for one). Latest is by version, never by block or
-- arrival order, so late and repeated deliveries cannot move a document backwards.
CREATE OR REPLACE VIEW {database}.current AS
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
) AS latest
WHERE version_rank = 1 AND NOT is_deleted

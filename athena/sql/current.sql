-- current: the QLDB user view, the latest revision of each document, deleted documents excluded.
--
-- Across every QLDB table (filter on table_name for one); "latest" comes from `versions`.
CREATE OR REPLACE VIEW {database}.current AS
SELECT
    v.ledger,
    v.table_name,
    v.doc_id,
    v.version,
    v.tx_time,
    v.block_seq,
    v.data_json
FROM {database}.versions AS v
WHERE v.replaced_at_block IS NULL AND NOT v.is_deleted

CREATE OR REPLACE VIEW main.current AS
SELECT
  v.ledger,
  v.table_name,
  v.doc_id,
  v.version,
  v.tx_time,
  v.block_seq,
  v.data_json
FROM main.versions AS v
WHERE
  v.replaced_at_block IS NULL AND NOT v.is_deleted

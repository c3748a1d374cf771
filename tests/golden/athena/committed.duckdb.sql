CREATE OR REPLACE VIEW main.committed AS
SELECT
  v.ledger,
  v.table_name,
  v.table_id,
  v.doc_id,
  v.version,
  v.strand_id,
  v.block_seq,
  v.tx_id,
  v.tx_time,
  v.revision_hash,
  v.data_json,
  v.revision_ion,
  v.conflict
FROM main.versions AS v
WHERE
  v.replaced_at_block IS NULL AND NOT v.is_deleted

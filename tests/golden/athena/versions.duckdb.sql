CREATE OR REPLACE VIEW main.versions AS
SELECT
  h.ledger,
  h.table_name,
  h.table_id,
  h.doc_id,
  h.version,
  h.strand_id,
  h.block_seq,
  h.tx_id,
  h.tx_time,
  h.revision_hash,
  h.is_deleted,
  h.is_redacted,
  h.data_json,
  h.revision_ion,
  h.conflict,
  LEAD(h.block_seq) OVER (PARTITION BY h.ledger, h.doc_id ORDER BY h.version) AS replaced_at_block,
  LEAD(h.tx_time) OVER (PARTITION BY h.ledger, h.doc_id ORDER BY h.version) AS replaced_at_time
FROM main.history AS h

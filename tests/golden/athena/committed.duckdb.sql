CREATE OR REPLACE VIEW main.committed AS
SELECT
  ledger,
  table_name,
  table_id,
  doc_id,
  version,
  strand_id,
  block_seq,
  tx_id,
  tx_time,
  revision_hash,
  data_json,
  revision_ion,
  conflict
FROM (
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
    h.data_json,
    h.revision_ion,
    h.conflict,
    h.is_deleted,
    ROW_NUMBER() OVER (PARTITION BY h.ledger, h.doc_id ORDER BY h.version DESC) AS version_rank
  FROM main.history AS h
) AS latest
WHERE
  version_rank = 1 AND NOT is_deleted

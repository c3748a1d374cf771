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
  FROM main.history AS h
  WHERE
    h.tx_time <= ?
) AS latest
WHERE
  version_rank = 1 AND NOT is_deleted

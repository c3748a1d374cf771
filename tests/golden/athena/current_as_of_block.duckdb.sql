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
  v.block_seq <= ?
  AND (
    v.replaced_at_block IS NULL OR v.replaced_at_block > ?
  )
  AND NOT v.is_deleted

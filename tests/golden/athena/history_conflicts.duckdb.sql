CREATE OR REPLACE VIEW main.history_conflicts AS
SELECT
  r.ledger,
  r.table_name,
  r.doc_id,
  r.version,
  r.revision_hash,
  MIN(r.block_seq) AS block_seq,
  MIN(r.tx_id) AS tx_id,
  MIN(r.tx_time) AS tx_time,
  COUNT(*) AS copies
FROM main.revisions AS r
JOIN (
  SELECT
    ledger,
    doc_id,
    version
  FROM main.revisions
  GROUP BY
    ledger,
    doc_id,
    version
  HAVING
    MIN(revision_hash) <> MAX(revision_hash)
) AS c
  ON r.ledger = c.ledger AND r.doc_id = c.doc_id AND r.version = c.version
GROUP BY
  r.ledger,
  r.table_name,
  r.doc_id,
  r.version,
  r.revision_hash

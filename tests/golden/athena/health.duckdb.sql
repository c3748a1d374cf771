CREATE OR REPLACE VIEW main.health AS
SELECT
  ledger,
  tx_date,
  table_name,
  CAST(SUM(revisions) AS BIGINT) AS revisions,
  CAST(SUM(duplicate_copies) AS BIGINT) AS duplicate_copies,
  CAST(SUM(conflicts) AS BIGINT) AS conflicts,
  CAST(SUM(version_gaps) AS BIGINT) AS version_gaps,
  CAST(SUM(missing_versions) AS BIGINT) AS missing_versions,
  CAST(SUM(block_seq_gaps) AS BIGINT) AS block_seq_gaps,
  CAST(SUM(missing_blocks) AS BIGINT) AS missing_blocks
FROM (
  SELECT
    v.ledger,
    CAST(v.tx_time AS DATE) AS tx_date,
    v.table_name,
    CAST(1 AS BIGINT) AS revisions,
    v.copies - 1 AS duplicate_copies,
    CASE WHEN v.conflict THEN 1 ELSE 0 END AS conflicts,
    CASE WHEN v.version > v.previous_version + 1 THEN 1 ELSE 0 END AS version_gaps,
    v.version - v.previous_version - 1 AS missing_versions,
    CAST(0 AS BIGINT) AS block_seq_gaps,
    CAST(0 AS BIGINT) AS missing_blocks
  FROM (
    SELECT
      h.ledger,
      h.table_name,
      h.tx_time,
      h.version,
      h.copies,
      h.conflict,
      COALESCE(LAG(h.version) OVER (PARTITION BY h.ledger, h.doc_id ORDER BY h.version), -1) AS previous_version
    FROM main.history AS h
  ) AS v
  UNION ALL
  SELECT
    b.ledger,
    CAST(b.block_timestamp AS DATE) AS tx_date,
    CAST(NULL AS TEXT) AS table_name,
    CAST(0 AS BIGINT) AS revisions,
    CAST(0 AS BIGINT) AS duplicate_copies,
    0 AS conflicts,
    0 AS version_gaps,
    CAST(0 AS BIGINT) AS missing_versions,
    CASE WHEN b.block_seq > b.previous_block_seq + 1 THEN 1 ELSE 0 END AS block_seq_gaps,
    b.block_seq - b.previous_block_seq - 1 AS missing_blocks
  FROM (
    SELECT
      d.ledger,
      d.block_seq,
      d.block_timestamp,
      COALESCE(
        LAG(d.block_seq) OVER (PARTITION BY d.ledger, d.strand_id ORDER BY d.block_seq),
        -1
      ) AS previous_block_seq
    FROM (
      SELECT
        ledger,
        strand_id,
        block_seq,
        MIN(block_timestamp) AS block_timestamp
      FROM main.blocks
      GROUP BY
        ledger,
        strand_id,
        block_seq
    ) AS d
  ) AS b
) AS per_row
GROUP BY
  ledger,
  tx_date,
  table_name

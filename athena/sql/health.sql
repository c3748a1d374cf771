-- health: per ledger, UTC day and QLDB table, how sound the archive is.
--
-- revisions: distinct revisions (history rows) committed that day; duplicate_copies: extra
-- archived rows of them (at-least-once delivery, harmless); conflicts: revisions with more than
-- one hash (see history_conflicts); version_gaps / missing_versions: revisions whose previous
-- version (from 0) is not in the archive, and how many versions are missing before them, counted
-- on the day of the revision after the gap. Block sequence gaps come from the blocks table, one
-- row per ledger and day with table_name NULL (blocks belong to the journal, not to a table):
-- block_seq_gaps / missing_blocks count blocks whose predecessor in the strand is missing, on the
-- day of the block after the gap (a missing block 0 counts too). On a sound archive every gap
-- column is 0. The day is CAST(... AS DATE) of the UTC timestamp, never the p_date partition key.
CREATE OR REPLACE VIEW {database}.health AS
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
            COALESCE(LAG(h.version) OVER (PARTITION BY h.ledger, h.doc_id ORDER BY h.version), -1)
                AS previous_version
        FROM {database}.history AS h
    ) AS v
    UNION ALL
    SELECT
        b.ledger,
        CAST(b.block_timestamp AS DATE) AS tx_date,
        CAST(NULL AS VARCHAR) AS table_name,
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
            COALESCE(LAG(d.block_seq) OVER (PARTITION BY d.ledger, d.strand_id ORDER BY d.block_seq), -1)
                AS previous_block_seq
        FROM (
            SELECT ledger, strand_id, block_seq, MIN(block_timestamp) AS block_timestamp
            FROM {database}.blocks
            GROUP BY ledger, strand_id, block_seq
        ) AS d
    ) AS b
) AS per_row
GROUP BY ledger, tx_date, table_name

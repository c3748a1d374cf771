-- plan_revisions: every revision committed in blocks ? to ? (inclusive), once, in block order.
--
-- Parameters: first block, last block, then the table selection twice. The same choice of copy
-- as the `history` view (the redacted copy, then the smallest hash), but de-duplicated inside
-- the block range: copies of one revision share its block (the block address is part of the
-- revision), so the range filter reaches the Parquet scan and a chunk never reads the whole
-- archive. Conflicts (one version, two hashes) are refused before any chunk is read.
-- At scale this SELECT runs on Athena wrapped in UNLOAD (see restore.plan_sql.render_unload).
SELECT
    r.table_name,
    r.doc_id,
    r.version,
    r.block_seq,
    r.tx_id,
    r.tx_time,
    r.revision_hash,
    r.data_hash,
    r.is_deleted,
    r.is_redacted,
    r.data_json
FROM (
    SELECT
        x.table_name,
        x.doc_id,
        x.version,
        x.block_seq,
        x.tx_id,
        x.tx_time,
        x.revision_hash,
        x.data_hash,
        x.is_deleted,
        x.is_redacted,
        x.data_json,
        ROW_NUMBER() OVER (
            PARTITION BY x.ledger, x.doc_id, x.version
            ORDER BY x.is_redacted DESC, x.revision_hash, x.firehose_record_id, x.record_index
        ) AS copy_rank
    FROM {database}.revisions AS x
    WHERE x.block_seq >= ? AND x.block_seq <= ? AND (cardinality(?) = 0 OR contains(?, x.table_name))
) AS r
WHERE r.copy_rank = 1
ORDER BY r.block_seq, r.doc_id, r.version

-- history: every revision of every document once, de-duplicated by (ledger, doc_id, version).
--
-- Firehose delivers at least once, so the archive may hold a revision several times; `copies`
-- says how many rows it had. Copies of one revision are identical but for their delivery
-- columns. A CONFLICTING copy (same document and version, another revision hash) cannot come
-- from QLDB: it is surfaced (`conflict` is true, and history_conflicts lists every variant),
-- never hidden. The row kept is the redacted copy when there is one (a revision streamed before
-- its redaction and read again after it), then the smallest hash, so the choice is stable.
-- Portable: no DISTINCT in window aggregates (Trino has none), so `conflict` compares MIN and MAX.
CREATE OR REPLACE VIEW {database}.history AS
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
    data_hash,
    is_deleted,
    is_redacted,
    data_json,
    revision_ion,
    copies,
    conflict
FROM (
    SELECT
        r.ledger,
        r.table_name,
        r.table_id,
        r.doc_id,
        r.version,
        r.strand_id,
        r.block_seq,
        r.tx_id,
        r.tx_time,
        r.revision_hash,
        r.data_hash,
        r.is_deleted,
        r.is_redacted,
        r.data_json,
        r.revision_ion,
        COUNT(*) OVER (PARTITION BY r.ledger, r.doc_id, r.version) AS copies,
        MIN(r.revision_hash) OVER (PARTITION BY r.ledger, r.doc_id, r.version)
            <> MAX(r.revision_hash) OVER (PARTITION BY r.ledger, r.doc_id, r.version) AS conflict,
        ROW_NUMBER() OVER (
            PARTITION BY r.ledger, r.doc_id, r.version
            ORDER BY r.is_redacted DESC, r.revision_hash, r.block_seq, r.firehose_record_id, r.record_index
        ) AS copy_rank
    FROM {database}.revisions AS r
) AS ranked
WHERE copy_rank = 1

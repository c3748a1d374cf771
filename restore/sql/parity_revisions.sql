-- parity_revisions: every archived row, slim: what the views need to rank copies, not the document.
--
-- The columns history.sql reads, with data_json replaced by its SHA-256 (lower-case hex, the
-- content hash of restore.content). The views pass data_json through without reading it, so
-- history, versions and current rendered over these rows (in their own database) give each kept
-- revision's content hash where its JSON would be. Every column the views rank, partition or
-- filter by is kept, so the choice of copy, version and deletion is the one over the archive;
-- the columns they only carry and no parity index reads (table_id, strand_id, tx_id, tx_time,
-- data_hash, revision_ion) are NULL, a fraction of the bytes. On Athena: a view
-- over {database}.revisions in a second database, with the views created there too. The
-- parity cache (restore.parity_cache) keeps these rows so a later run reads only new objects.
SELECT
    r.ledger,
    r.table_name,
    CAST(NULL AS VARCHAR) AS table_id,
    r.doc_id,
    r.version,
    CAST(NULL AS VARCHAR) AS strand_id,
    r.block_seq,
    CAST(NULL AS VARCHAR) AS tx_id,
    CAST(NULL AS TIMESTAMP) AS tx_time,
    r.revision_hash,
    CAST(NULL AS VARCHAR) AS data_hash,
    r.is_deleted,
    r.is_redacted,
    lower(to_hex(sha256(to_utf8(r.data_json)))) AS data_json,
    CAST(NULL AS VARCHAR) AS revision_ion,
    r.firehose_record_id,
    r.record_index
FROM {database}.revisions AS r

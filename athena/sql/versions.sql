-- versions: every revision with the block and time at which the next version replaced it.
--
-- The one place "latest version" is decided: the user view is the versions not yet replaced
-- (`current`), and the user view at a point in time is the versions committed by then and not
-- replaced by then (the point-in-time queries). Ordered by version, never by block or arrival,
-- so late and repeated deliveries cannot move a document backwards; a document's versions
-- commit in increasing blocks, so cutting by block or time and then taking the latest version
-- is the same as this interval test. It carries every history column; queries read only the
-- columns they name (Trino and DuckDB prune through views), so `current` stays cheap.
CREATE OR REPLACE VIEW {database}.versions AS
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
FROM {database}.history AS h

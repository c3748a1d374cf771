-- committed: the QLDB committed view, the user view with each revision's metadata.
--
-- The same documents as current (the versions not yet replaced, from `versions`), with what
-- QLDB's _ql_committed_ view adds: block address (strand_id, block_seq), transaction (tx_id,
-- tx_time), revision hash, the lossless Ion text of the revision, and the history's conflict flag.
CREATE OR REPLACE VIEW {database}.committed AS
SELECT
    v.ledger,
    v.table_name,
    v.table_id,
    v.doc_id,
    v.version,
    v.strand_id,
    v.block_seq,
    v.tx_id,
    v.tx_time,
    v.revision_hash,
    v.data_json,
    v.revision_ion,
    v.conflict
FROM {database}.versions AS v
WHERE v.replaced_at_block IS NULL AND NOT v.is_deleted

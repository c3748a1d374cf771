-- current_as_of_time: the user view as it was at transaction time ? (inclusive, UTC).
--
-- The parameter is a zone-less UTC timestamp, as tx_time is in Athena (TIMESTAMP '2019-12-11
-- 07:20:51.245'); no AT TIME ZONE or from_iso8601 here, which do not transpile faithfully.
SELECT
    v.ledger,
    v.table_name,
    v.doc_id,
    v.version,
    v.tx_time,
    v.block_seq,
    v.data_json
FROM {database}.versions AS v
WHERE v.tx_time <= ? AND (v.replaced_at_time IS NULL OR v.replaced_at_time > ?) AND NOT v.is_deleted

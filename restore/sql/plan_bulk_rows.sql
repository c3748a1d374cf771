-- plan_bulk_rows: every revision up to block ? (inclusive), once, in document order, as the tables keep it.
--
-- Parameters: the range (its first document, then the next range's twice: NULL for the last;
-- `plan_document_ranges`), the block cut, the table selection twice, then whether to keep every revision (true:
-- history is restored) or only each document's newest. What a first restore into empty tables
-- loads in bulk (restore.bulk): the copy kept of a revision is the `history` view's; is_final
-- marks a document's newest revision up to the cut (its current row when live or redacted, its
-- tombstone when deleted: what `versions` calls not yet replaced); content_hash is
-- restore.content's, computed here so no row passes through Python.
SELECT
    b.table_name,
    b.doc_id,
    b.version,
    b.block_seq,
    b.tx_id,
    b.tx_time,
    b.revision_hash,
    b.data_hash,
    b.is_deleted,
    b.is_redacted,
    b.data_json,
    lower(to_hex(sha256(to_utf8(b.data_json)))) AS content_hash,
    b.is_final
FROM (
    SELECT
        h.table_name,
        h.doc_id,
        h.version,
        h.block_seq,
        h.tx_id,
        h.tx_time,
        h.revision_hash,
        h.data_hash,
        h.is_deleted,
        h.is_redacted,
        h.data_json,
        h.version = max(h.version) OVER (PARTITION BY h.ledger, h.doc_id) AS is_final
    FROM {database}.history AS h
    WHERE h.doc_id >= ? AND (h.doc_id < ? OR ? IS NULL)
        AND h.block_seq <= ? AND (cardinality(?) = 0 OR contains(?, h.table_name))
) AS b
WHERE b.is_final OR ?
ORDER BY b.table_name, b.doc_id, b.version

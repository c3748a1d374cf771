-- plan_document_order: every revision up to block ? (inclusive), once, in document order.
--
-- Parameters: the range (its first document, then the next range's twice: NULL for the last;
-- `plan_document_ranges`), the block cut, then the table selection twice. What a first restore with history
-- applies (`restore.runner`): the apply converges whatever the order, and in (doc_id, version)
-- order every table's primary key grows at its end instead of being written all over, which is
-- what keeps MySQL's history inserts fast once the table outgrows the buffer pool. The copy kept
-- of a revision is the `history` view's.
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
    h.data_json
FROM {database}.history AS h
WHERE h.doc_id >= ? AND (h.doc_id < ? OR ? IS NULL)
    AND h.block_seq <= ? AND (cardinality(?) = 0 OR contains(?, h.table_name))
ORDER BY h.table_name, h.doc_id, h.version

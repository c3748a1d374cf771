-- plan_final_state: each document's newest revision up to block ? (inclusive), in document order.
--
-- Parameters: the range (its first document, then the next range's twice: NULL for the last;
-- `plan_document_ranges`), the block cut twice, then the table selection twice. The state a restore of
-- every revision in block order would leave: the newest revision of a document is its current
-- row (live or redacted) or its tombstone (deleted). A fresh restore without history applies
-- only these rows (`restore.runner`), one per document instead of one per revision; in doc_id
-- order, so the target's primary key grows at its end. `versions` decides what is newest.
SELECT
    v.table_name,
    v.doc_id,
    v.version,
    v.block_seq,
    v.tx_id,
    v.tx_time,
    v.revision_hash,
    CAST(NULL AS VARCHAR) AS data_hash,
    v.is_deleted,
    v.is_redacted,
    v.data_json
FROM {database}.versions AS v
WHERE v.doc_id >= ? AND (v.doc_id < ? OR ? IS NULL)
    AND v.block_seq <= ? AND (v.replaced_at_block IS NULL OR v.replaced_at_block > ?)
    AND (cardinality(?) = 0 OR contains(?, v.table_name))
ORDER BY v.table_name, v.doc_id

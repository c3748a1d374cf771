-- document_history: every revision of one document (table ?, document id ?), oldest first.
SELECT
    ledger,
    table_name,
    doc_id,
    version,
    block_seq,
    tx_id,
    tx_time,
    revision_hash,
    is_deleted,
    is_redacted,
    data_json,
    copies,
    conflict
FROM {database}.history
WHERE table_name = ? AND doc_id = ?
ORDER BY version

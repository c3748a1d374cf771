-- ledger_blocks: every block summary after block ? up to block ? (inclusive), copies included, in block order.
--
-- Parameters: the block to start after, the last block. For the ledger targets, which keep the
-- journal's blocks (hashes, entries, chain) next to the revisions. Blocks without user revisions
-- (table creation, system blocks) are here too: the chain needs every block. Copies of one block
-- come out next to each other, so the caller keeps the first and refuses copies that differ.
SELECT
    b.block_seq,
    b.strand_id,
    b.tx_id,
    b.block_timestamp,
    b.block_hash,
    b.entries_hash,
    b.previous_block_hash,
    b.entries_hash_list,
    b.statements_json,
    b.revision_summaries_json,
    b.transaction_info_ion,
    b.redaction_info_ion
FROM {database}.blocks AS b
WHERE b.block_seq > ? AND b.block_seq <= ?
ORDER BY b.block_seq, b.block_hash, b.firehose_record_id, b.record_index

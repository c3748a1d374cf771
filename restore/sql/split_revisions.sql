-- split_revisions: every archived revision up to block ? of the selected tables, with its shard.
--
-- Parameters: the shard count three times, then the block cut, then the table selection twice.
-- Every archived copy is kept, not de-duplicated: each shard's worker plans its documents as a
-- restore of the whole archive would (copies, conflicts, version gaps), and a document's copies
-- all land in its shard. The shard is 1 + the first 8 bytes of MD5(doc_id), big-endian, modulo
-- the count (restore.plan.in_shard), taken in two 32-bit halves so it stays within bigint. The
-- partition column comes last, as UNLOAD's partitioned_by needs.
SELECT
    r.*,
    CAST(
        (
            (from_base(substr(to_hex(md5(to_utf8(r.doc_id))), 1, 8), 16) % ?) * (4294967296 % ?)
            + from_base(substr(to_hex(md5(to_utf8(r.doc_id))), 9, 8), 16)
        ) % ? + 1 AS INTEGER
    ) AS p_shard
FROM {database}.revisions AS r
WHERE r.block_seq <= ? AND (cardinality(?) = 0 OR contains(?, r.table_name))

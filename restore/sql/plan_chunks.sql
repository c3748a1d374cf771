-- plan_chunks: the blocks after ? up to ? cut into runs of about ? revisions, in block order.
--
-- Parameters: the chunk size, the block to start after (the checkpoint), the block cut, then the
-- table selection twice (in the order the statement reads them). The restore reads one chunk at a
-- time (`plan_revisions`), so memory stays flat however large the archive; a block is never split
-- between chunks.
SELECT MIN(c.block_seq) AS first_block, MAX(c.block_seq) AS last_block, SUM(c.n) AS revisions
FROM (
    SELECT
        per_block.block_seq,
        per_block.n,
        CAST(
            FLOOR(
                (SUM(per_block.n) OVER (ORDER BY per_block.block_seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                    - per_block.n) / ?
            ) AS BIGINT
        ) AS chunk
    FROM (
        SELECT h.block_seq, COUNT(*) AS n
        FROM {database}.history AS h
        WHERE h.block_seq > ? AND h.block_seq <= ? AND (cardinality(?) = 0 OR contains(?, h.table_name))
        GROUP BY h.block_seq
    ) AS per_block
) AS c
GROUP BY c.chunk
ORDER BY first_block

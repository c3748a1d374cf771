-- split_blocks: every archived block summary up to block ? (inclusive), for every shard's worker.
--
-- Parameters: the block cut. Copies included, as in the archive: the `blocks` readers fold them.
SELECT b.*
FROM {database}.blocks AS b
WHERE b.block_seq <= ?

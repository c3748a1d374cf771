-- plan_block_range: the first and last block summary up to block ? (inclusive).
--
-- Parameter: the block cut. The checks that read every block summary walk this range in steps.
SELECT MIN(b.block_seq) AS first_block, MAX(b.block_seq) AS last_block
FROM {database}.blocks AS b
WHERE b.block_seq <= ?

-- plan_block_for_time: the last block committed at or before time ? (UTC).
--
-- A time cut becomes a block cut: QLDB commits blocks in time order on its one strand, so
-- "committed by T" and "in a block up to B" select the same revisions.
SELECT MAX(h.block_seq) AS block_seq
FROM {database}.history AS h
WHERE h.tx_time <= ?

-- plan_conflicts: revisions archived with more than one hash, up to block ? (inclusive).
--
-- Parameters: the block cut, then the table selection twice. QLDB never writes two revisions
-- with one (document id, version): a restore stops on any of these (history_conflicts lists
-- every variant).
SELECT h.table_name, h.doc_id, h.version, h.block_seq
FROM {database}.history AS h
WHERE h.conflict AND h.block_seq <= ? AND (cardinality(?) = 0 OR contains(?, h.table_name))
ORDER BY h.block_seq, h.doc_id, h.version

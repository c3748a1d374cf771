-- plan_version_gaps: documents whose versions up to block ? do not run 0, 1, 2... without a hole.
--
-- Parameters: the block cut, then the table selection twice. One row per hole: the versions
-- first_missing..last_missing are not in the archive, and `version` (in block_seq) follows them.
SELECT
    g.table_name,
    g.doc_id,
    g.previous_version + 1 AS first_missing,
    g.version - 1 AS last_missing,
    g.version,
    g.block_seq
FROM (
    SELECT
        h.table_name,
        h.doc_id,
        h.version,
        h.block_seq,
        COALESCE(LAG(h.version) OVER (PARTITION BY h.ledger, h.doc_id ORDER BY h.version), -1)
            AS previous_version
    FROM {database}.history AS h
    WHERE h.block_seq <= ? AND (cardinality(?) = 0 OR contains(?, h.table_name))
) AS g
WHERE g.version > g.previous_version + 1
ORDER BY g.block_seq, g.doc_id

-- plan_missing_revisions: revisions the block summaries of blocks ? to ? list but the archive lacks.
--
-- Parameters: the first and last block (inclusive), three times. revisionSummaries name each revision
-- of the block by hash and document id; a summary with no revision row of that hash in that
-- block means revision records were lost. Summaries without a documentId (system entries) are
-- not revisions of user tables. The block's documents map (doc id -> tableName) comes along so
-- the caller can keep only selected tables. The caller asks one range of blocks at a time
-- (plan_block_range), so the exploded summaries of the whole journal are never held at once,
-- and the map is joined to the few missing rows only (the range on `d` too: without it the
-- join reads every block's map).
SELECT DISTINCT m.block_seq, m.doc_id, m.revision_hash, d.documents_json
FROM (
    SELECT s.ledger, s.block_seq, s.doc_id, s.revision_hash
    FROM (
        SELECT DISTINCT
            b.ledger,
            b.block_seq,
            json_extract_scalar(e, '$.documentId') AS doc_id,
            json_extract_scalar(e, '$.hash') AS revision_hash
        FROM {database}.blocks AS b
        CROSS JOIN UNNEST(CAST(json_parse(b.revision_summaries_json) AS ARRAY(JSON))) AS t (e)
        WHERE b.block_seq >= ? AND b.block_seq <= ?
    ) AS s
    LEFT JOIN (
        SELECT DISTINCT r.ledger, r.block_seq, r.doc_id, r.revision_hash
        FROM {database}.revisions AS r
        WHERE r.block_seq >= ? AND r.block_seq <= ?
    ) AS h
        ON h.ledger = s.ledger AND h.block_seq = s.block_seq AND h.doc_id = s.doc_id
        AND h.revision_hash = s.revision_hash
    WHERE s.doc_id IS NOT NULL AND h.doc_id IS NULL
) AS m
JOIN {database}.blocks AS d
    ON d.ledger = m.ledger AND d.block_seq = m.block_seq AND d.block_seq >= ? AND d.block_seq <= ?
ORDER BY m.block_seq, m.doc_id

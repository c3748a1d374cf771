-- plan_missing_revisions: revisions a block summary up to block ? lists but the archive lacks.
--
-- Parameter: the block cut. revisionSummaries name each revision of the block by hash and
-- document id; a summary with no revision row of that hash means revision records were lost.
-- Summaries without a documentId (system entries) are not revisions of user tables. The block's
-- documents map (doc id -> tableName) comes along so the caller can keep only selected tables.
SELECT s.block_seq, s.doc_id, s.revision_hash, s.documents_json
FROM (
    SELECT DISTINCT
        b.ledger,
        b.block_seq,
        json_extract_scalar(e, '$.documentId') AS doc_id,
        json_extract_scalar(e, '$.hash') AS revision_hash,
        b.documents_json
    FROM {database}.blocks AS b
    CROSS JOIN UNNEST(CAST(json_parse(b.revision_summaries_json) AS ARRAY(JSON))) AS t (e)
    WHERE b.block_seq <= ?
) AS s
LEFT JOIN {database}.history AS h
    ON h.ledger = s.ledger AND h.doc_id = s.doc_id AND h.revision_hash = s.revision_hash
WHERE s.doc_id IS NOT NULL AND h.doc_id IS NULL
ORDER BY s.block_seq, s.doc_id

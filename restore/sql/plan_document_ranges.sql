-- plan_document_ranges: the documents up to block ? (inclusive) cut into runs of about ? revisions, in doc_id order.
--
-- Parameters: the range size, the block cut, then the table selection twice. A first restore
-- reads the archive in document order one range at a time (`plan_document_order`,
-- `plan_final_state` and `plan_bulk_rows` take a range's first document and the next range's),
-- so what the engine ranks and sorts at once is one range however large the archive; a document
-- is never split between ranges. Each row is a range: its first document.
SELECT MIN(d.doc_id) AS first_doc
FROM (
    SELECT
        per_doc.doc_id,
        per_doc.n,
        CAST(
            FLOOR(
                (SUM(per_doc.n) OVER (ORDER BY per_doc.doc_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                    - per_doc.n) / ?
            ) AS BIGINT
        ) AS part
    FROM (
        SELECT h.doc_id, COUNT(*) AS n
        FROM {database}.history AS h
        WHERE h.block_seq <= ? AND (cardinality(?) = 0 OR contains(?, h.table_name))
        GROUP BY h.doc_id
    ) AS per_doc
) AS d
GROUP BY d.part
ORDER BY first_doc

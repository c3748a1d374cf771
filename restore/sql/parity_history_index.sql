-- parity_history_index: the de-duplicated history reduced to what parity compares.
--
-- As parity_current_index, one row per revision of history (where data_json is the content
-- hash): k1 and k2 are the halves of MD5("doc_id|version|revision_hash|content_hash"), so a
-- missing or extra revision, another revision hash or other data (a redacted copy against the
-- original) all change a bucket's sums. The bucket is still the document's (doc_hash).
SELECT
    k.ledger,
    k.table_name,
    k.doc_id,
    k.version,
    k.revision_hash,
    k.content_hash,
    from_base(substr(to_hex(md5(to_utf8(k.doc_id))), 1, 8), 16) AS doc_hash,
    from_base(substr(to_hex(md5(to_utf8(k.row_key))), 1, 8), 16) AS k1,
    from_base(substr(to_hex(md5(to_utf8(k.row_key))), 9, 8), 16) AS k2
FROM (
    SELECT
        h.ledger,
        h.table_name,
        h.doc_id,
        h.version,
        h.revision_hash,
        h.data_json AS content_hash,
        concat(
            h.doc_id, '|', CAST(h.version AS VARCHAR), '|', h.revision_hash, '|', coalesce(h.data_json, '')
        ) AS row_key
    FROM {database}.history AS h
) AS k

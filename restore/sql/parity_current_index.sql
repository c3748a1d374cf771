-- parity_current_index: the user view reduced to what parity compares, hashes computed once.
--
-- Over the views of parity_revisions' database, where current.data_json is the content hash.
-- Per document: its table, version and content hash; doc_hash, the first 8 hex digits of
-- MD5(doc_id) as an integer (bucket = doc_hash / width); k1 and k2, the two 32-bit halves of
-- MD5("doc_id|version|content_hash"), the row's checksum. parity_counts, parity_buckets and
-- parity_rows read this table; the target computes the same in its own SQL (restore.parity).
-- from_base is Trino's; the local engine defines it for DuckDB (base 16 only).
SELECT
    k.ledger,
    k.table_name,
    k.doc_id,
    k.version,
    k.content_hash,
    from_base(substr(to_hex(md5(to_utf8(k.doc_id))), 1, 8), 16) AS doc_hash,
    from_base(substr(to_hex(md5(to_utf8(k.row_key))), 1, 8), 16) AS k1,
    from_base(substr(to_hex(md5(to_utf8(k.row_key))), 9, 8), 16) AS k2
FROM (
    SELECT
        c.ledger,
        c.table_name,
        c.doc_id,
        c.version,
        c.data_json AS content_hash,
        concat(c.doc_id, '|', CAST(c.version AS VARCHAR), '|', coalesce(c.data_json, '')) AS row_key
    FROM {database}.current AS c
) AS k

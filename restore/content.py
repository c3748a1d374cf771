"""What "same content" means: the content hash every side computes, and a canonical JSON form.

``content_hash`` is SHA-256 (hex) of the document's JSON projection exactly as the archive
holds it (``data_json``). The projection is a pure function of the Ion value
(docs/ion-json-projection.md), so one document always has one text, and every side computes
the hash natively: the restore and live replication in Python, DuckDB and Athena in SQL
(``sha256``), so a parity check moves checksums, not documents.

What the hash cannot see is a value changed in the target's ``data`` column without its hash
column: the parity check's deep mode compares `canonical_json` of both sides, where key order
and white space are not differences (PostgreSQL's jsonb reorders keys; MySQL keeps the text).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "content_hash"]


def canonical_json(value: Any) -> str:
    """The canonical JSON text of a parsed JSON value: sorted keys, no white space, UTF-8 kept.

    >>> canonical_json({"b": 1, "a": [1.5, "é"]})
    '{"a":[1.5,"é"],"b":1}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def content_hash(data_json: str | None) -> str | None:
    """SHA-256 (hex) of the archive's JSON text of a document; None without data (deleted, redacted).

    >>> content_hash('{"a":1}')
    '015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862'
    """
    if data_json is None:
        return None
    return hashlib.sha256(data_json.encode("utf-8")).hexdigest()

"""One canonical form of a document's JSON, and its hash: what "same content" means everywhere.

The restore stores ``content_hash`` with every row; the parity check recomputes it on both sides.
Key order and white space are not differences (PostgreSQL's jsonb reorders keys, MySQL keeps the
text): the canonical form sorts keys, drops white space and keeps non-ASCII characters as they
are. Values are the archive's JSON projection, where decimals are strings and floats are
shortest round-trip, so parsing and re-serialising never changes a value.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "content_hash", "content_hash_of_value"]


def canonical_json(value: Any) -> str:
    """The canonical JSON text of a parsed JSON value.

    >>> canonical_json({"b": 1, "a": [1.5, "é"]})
    '{"a":[1.5,"é"],"b":1}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def content_hash_of_value(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of a parsed value."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def content_hash(data_json: str | None) -> str | None:
    """SHA-256 (hex) of the canonical form of a JSON text; None for no data (deleted, redacted).

    >>> content_hash('{"a": 1, "b": 2}') == content_hash('{"b":2,"a":1}')
    True
    """
    if data_json is None:
        return None
    return content_hash_of_value(json.loads(data_json))

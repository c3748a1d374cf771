"""The data-hash check of a new ledger: every current document's Ion hash equals the archive's (pure).

After a replay into a new QLDB ledger, metadata hashes differ by design (new document ids, new
transactions, new blocks), but each current document's data must be the archive's exactly, Ion
types included. So both sides are reduced to ``(table, source doc id) -> H(data)`` and compared;
the report names the documents that differ, are missing or should not be there (capped).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from restore.ledger_archive import ExpectedData

__all__ = ["MAX_LISTED", "DataHashReport", "compare_data_hash_maps"]

MAX_LISTED: Final = 50
"""Documents listed per kind of difference (the counts are always complete)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DataHashReport:
    """The outcome of the data-hash check.

    Attributes:
        documents: current documents in the archive.
        matched: documents whose data hash in the target equals the archive's.
        differ: ``table/doc_id version V`` of documents whose data hash differs (capped).
        missing: documents of the archive absent from the target (capped).
        extra: documents of the target the archive has no current version of (capped).
        differ_count, missing_count, extra_count: the full counts.
    """

    documents: int
    matched: int
    differ: tuple[str, ...] = field(default=())
    missing: tuple[str, ...] = field(default=())
    extra: tuple[str, ...] = field(default=())
    differ_count: int = 0
    missing_count: int = 0
    extra_count: int = 0

    @property
    def ok(self) -> bool:
        """True when every current document's data hash matches and nothing is missing or extra."""
        return not (self.differ_count or self.missing_count or self.extra_count)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "ok": self.ok,
            "documents": self.documents,
            "matched": self.matched,
            "differ_count": self.differ_count,
            "missing_count": self.missing_count,
            "extra_count": self.extra_count,
            "differ": list(self.differ),
            "missing": list(self.missing),
            "extra": list(self.extra),
        }

    def summary_lines(self) -> list[str]:
        """Lines for people."""
        if self.ok:
            return [
                f"  data hashes: all {self.documents:,} current documents in the target have the Ion hash "
                "of the archive's data (metadata hashes differ by design)"
            ]
        lines = [
            f"  data hashes DIFFER: {self.matched:,} of {self.documents:,} current documents match; "
            f"{self.differ_count:,} differ, {self.missing_count:,} missing, {self.extra_count:,} extra"
        ]
        for label, items, count in (
            ("differs", self.differ, self.differ_count),
            ("missing", self.missing, self.missing_count),
            ("extra", self.extra, self.extra_count),
        ):
            lines += [f"    {label}: {item}" for item in items]
            if count > len(items):
                lines.append(f"    ... and {count - len(items):,} more {label} (see the JSON report)")
        return lines


def compare_data_hash_maps(
    expected: Iterable[ExpectedData], actual: Mapping[tuple[str, str], bytes]
) -> DataHashReport:
    """Compare the archive's current documents with the target's ``(table, source id) -> H(data)``.

    >>> from restore.ledger_archive import ExpectedData
    >>> r = compare_data_hash_maps([ExpectedData("T", "d1", 2, b"h")], {("T", "d1"): b"x"})
    >>> r.ok, r.differ
    (False, ('T/d1 version 2: data hash eA== in the target, aA== in the archive',))
    """
    remaining = dict(actual)
    documents = matched = 0
    differ: list[str] = []
    missing: list[str] = []
    differ_count = missing_count = 0
    for e in expected:
        documents += 1
        got = remaining.pop((e.table_name, e.doc_id), None)
        if got is None:
            missing_count += 1
            if len(missing) < MAX_LISTED:
                missing.append(f"{e.table_name}/{e.doc_id} version {e.version}")
        elif got != e.data_hash:
            differ_count += 1
            if len(differ) < MAX_LISTED:
                differ.append(
                    f"{e.table_name}/{e.doc_id} version {e.version}: data hash {_b64(got)} in the target, "
                    f"{_b64(e.data_hash)} in the archive"
                )
        else:
            matched += 1
    extra = [f"{t}/{d}" for t, d in sorted(remaining)]
    return DataHashReport(
        documents=documents,
        matched=matched,
        differ=tuple(differ),
        missing=tuple(missing),
        extra=tuple(extra[:MAX_LISTED]),
        differ_count=differ_count,
        missing_count=missing_count,
        extra_count=len(extra),
    )


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode("ascii")

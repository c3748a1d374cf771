"""The restore plan, pure: tables and counts, gaps, conflicts, chunks, shards, batches.

The set work (de-duplication, latest version, gap search) is SQL (`restore.plan_sql`) run by
the caller; this module turns those rows into a plan and decides whether it may run. No I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from restore.batch import RevisionBatch, RevisionRow
from restore.errors import ConflictError, GapError, RestoreError

__all__ = [
    "NO_BLOCK_CUT",
    "Chunk",
    "DocumentRange",
    "Gap",
    "GapKind",
    "RestorePlan",
    "TablePlan",
    "check_plan",
    "document_ranges",
    "format_shard",
    "in_shard",
    "parse_shard",
    "range_revisions",
    "split_batches",
]

NO_BLOCK_CUT: Final = (1 << 62) - 1
"""The block cut of a restore without --as-of: larger than any block sequence number."""

GapKind = Literal["missing_versions", "unsummarised_revision", "missing_revision"]


@dataclass(frozen=True, slots=True)
class TablePlan:
    """What the restore will apply to one QLDB table (over every shard)."""

    table_name: str
    documents: int
    revisions: int
    deletes: int
    redactions: int
    duplicate_copies: int
    conflicts: int
    first_block: int
    last_block: int


@dataclass(frozen=True, slots=True)
class Gap:
    """A hole in the archive.

    Attributes:
        kind: ``missing_versions`` (a document's versions skip some), ``unsummarised_revision``
            (a revision whose block has no summary) or ``missing_revision`` (a block summary
            lists a revision the archive lacks).
        table_name: the QLDB table, when known.
        doc_id: the document.
        block_seq: the block where the hole shows.
        detail: which versions or which revision hash.
    """

    kind: GapKind
    table_name: str | None
    doc_id: str
    block_seq: int
    detail: str

    def describe(self) -> str:
        """One line for people."""
        table = f"{self.table_name}/" if self.table_name else ""
        return (
            f"{self.kind.replace('_', ' ')}: {table}{self.doc_id} at block {self.block_seq} ({self.detail})"
        )


@dataclass(frozen=True, slots=True)
class Chunk:
    """A run of whole blocks read and applied together (bounded memory)."""

    first_block: int
    last_block: int
    revisions: int


@dataclass(frozen=True, slots=True)
class DocumentRange:
    """Documents read in document order together: from `first_doc` up to `next_first` (exclusive).

    A first restore sorts one range at a time (``plan_document_ranges``), so what the engine
    holds at once does not grow with the archive.

    Attributes:
        first_doc: the range's first doc_id.
        next_first: the next range's first doc_id; None for the last range.
    """

    first_doc: str
    next_first: str | None

    @property
    def params(self) -> list[object]:
        """Its parameters of the document-order queries: ``doc_id >= ? AND (doc_id < ? OR ? IS NULL)``."""
        return [self.first_doc, self.next_first, self.next_first]


def document_ranges(starts: Sequence[str]) -> list[DocumentRange]:
    """Ranges from ``plan_document_ranges``' rows: each range's first doc_id, in order.

    >>> [(r.first_doc, r.next_first) for r in document_ranges(["a", "m"])], document_ranges([])
    ([('a', 'm'), ('m', None)], [])
    """
    if not starts:  # nothing to restore (an empty shard of a split)
        return []
    return [DocumentRange(first, after) for first, after in zip(starts, [*starts[1:], None], strict=True)]


RANGE_BYTES_PER_REVISION: Final = 400
"""What one revision costs the local engine, beyond its JSON counted twice, when a range is ranked
and sorted in document order (its other columns, the window's and the sort's own), about. On the
DMV ledger (192 characters of JSON a revision) that is 784 bytes, near the 720 measured when 1M
revisions were sorted with no limit: 204k revisions a range at 160MB, 816k at 640MB. At 1M
revisions one range could not be sorted within 160MB at all (DuckDB: "failed to pin block"); five
could, in 3.1 s (three, spilling: 3.9 s). At 640MB the bulk rows without history took 2.3 s in
one range, spilling, and 1.8 s with no limit."""


def range_revisions(memory_bytes: int, *, json_chars: float) -> int:
    """Revisions a document range may hold to sort within `memory_bytes` (at least 100).

    >>> range_revisions(160_000_000, json_chars=192), range_revisions(160_000_000, json_chars=100_000)
    (204081, 798)
    """
    return max(100, memory_bytes // (RANGE_BYTES_PER_REVISION + 2 * round(json_chars)))


@dataclass(frozen=True, slots=True, kw_only=True)
class RestorePlan:
    """Everything `--dry-run` prints and the apply follows.

    Attributes:
        tables: per-table counts, for the selection and cut (all shards).
        block_cut: the last block included (NO_BLOCK_CUT without a point in time).
        gaps: the holes found (all of them).
        conflicts: (table, doc_id, version) of conflicting revisions.
        chunks: the block runs still to apply (after the checkpoint).
        start_after: the checkpoint's block: chunks start after it (-1: from the start).
        ddl: the target's CREATE TABLE statements.
    """

    tables: tuple[TablePlan, ...]
    block_cut: int
    gaps: tuple[Gap, ...]
    conflicts: tuple[tuple[str, str, int], ...]
    chunks: tuple[Chunk, ...]
    start_after: int
    ddl: tuple[str, ...] = field(default=())

    @property
    def revisions_to_apply(self) -> int:
        """Revisions in the remaining chunks (all shards)."""
        return sum(c.revisions for c in self.chunks)

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON-ready data."""
        return {
            "block_cut": None if self.block_cut == NO_BLOCK_CUT else self.block_cut,
            "start_after_block": self.start_after,
            "revisions_to_apply": self.revisions_to_apply,
            "tables": [vars_of(t) for t in self.tables],
            "gaps": [vars_of(g) for g in self.gaps],
            "conflicts": [list(c) for c in self.conflicts],
            "chunks": len(self.chunks),
            "ddl": list(self.ddl),
        }


def vars_of(obj: Any) -> dict[str, Any]:
    """A slotted dataclass's fields as a dict."""
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


def check_plan(plan: RestorePlan, *, allow_gaps: bool) -> None:
    """Refuse a plan that would build a wrong state.

    Raises:
        ConflictError: two revisions for one (document, version).
        GapError: holes in the archive and `allow_gaps` is False.
    """
    if plan.conflicts:
        raise ConflictError(list(plan.conflicts[:50]), total=len(plan.conflicts))
    if plan.gaps and not allow_gaps:
        shown = "; ".join(g.describe() for g in plan.gaps[:3])
        more = f" ... and {len(plan.gaps) - 3} more" if len(plan.gaps) > 3 else ""
        raise GapError(shown + more, count=len(plan.gaps))


def refusal(plan: RestorePlan, *, allow_gaps: bool, dry_run: bool) -> str | None:
    """`check_plan`, for a run that may only report: a dry run's refusal as text, else None.

    Raises:
        ConflictError, GapError: the plan is refused and this is not a dry run.
    """
    try:
        check_plan(plan, allow_gaps=allow_gaps)
    except (ConflictError, GapError) as exc:
        if not dry_run:
            raise
        return str(exc)
    return None


def parse_shard(text: str) -> tuple[int, int]:
    """``i/n`` (1 <= i <= n) as a pair.

    >>> parse_shard("2/4")
    (2, 4)
    """
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = 0, 0
    if not sep or not 1 <= i <= n:
        raise RestoreError(f"--shard takes i/n with 1 <= i <= n (for example 2/4), not {text!r}")
    return i, n


def format_shard(shard: tuple[int, int]) -> str:
    """The inverse of `parse_shard`."""
    return f"{shard[0]}/{shard[1]}"


def in_shard(doc_id: str, shard: tuple[int, int]) -> bool:
    """Whether a document belongs to shard i of n: a hash range of its id, stable everywhere.

    The first 8 bytes of MD5(doc_id), big-endian, modulo n: Athena computes the same with
    ``from_big_endian_64(substr(md5(to_utf8(doc_id)), 1, 8))`` (mod n, sign aside).

    >>> sum(in_shard(f"doc{k}", (1, 4)) for k in range(1000)) in range(200, 300)
    True
    """
    i, n = shard
    if n == 1:
        return True
    digest = hashlib.md5(doc_id.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") % n == i - 1


def split_batches(rows: Sequence[RevisionRow], max_revisions: int) -> Iterator[RevisionBatch]:
    """Cut block-ordered rows into batches of whole blocks, about `max_revisions` each.

    A block is never split (the checkpoint is "every block up to N is applied"), so one
    batch may exceed `max_revisions` by the size of its last block (at most 40 documents
    per QLDB transaction keeps that small).
    """
    start = 0
    while start < len(rows):
        end = min(start + max_revisions, len(rows))
        while end < len(rows) and rows[end].block_seq == rows[end - 1].block_seq:
            end += 1
        part = tuple(rows[start:end])
        yield RevisionBatch(part, part[0].block_seq, part[-1].block_seq)
        start = end


def missing_revision_table(documents_json: str | None, doc_id: str) -> str | None:
    """The table a block's documents map gives a document, or None."""
    if not documents_json:
        return None
    try:
        entry = json.loads(documents_json).get(doc_id)
    except (ValueError, AttributeError):
        return None
    name = entry.get("tableName") if isinstance(entry, dict) else None
    return name if isinstance(name, str) else None


def keep_gaps(gaps: Iterable[Gap], *, tables: Sequence[str], shard: tuple[int, int]) -> tuple[Gap, ...]:
    """The gaps that concern the selected tables (all when none selected) and this shard."""
    return tuple(
        g
        for g in gaps
        if (not tables or g.table_name is None or g.table_name in tables) and in_shard(g.doc_id, shard)
    )

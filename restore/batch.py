"""Revisions as the restore applies them, and what one batch does to each table (pure).

A batch is a run of whole blocks in block order. Applying it is set work, not a replay: per
document, only the newest live revision can change the current table and only the newest
deletion can add a tombstone; every revision goes to history. `batch_effects` reduces a batch to
those sets, so a target applies at most one row per document and table in each statement, and
duplicates inside a batch cost nothing.

Why this converges whatever the order: a current row only moves to a higher version, a
tombstone only to a higher version, a live revision never lands when a tombstone of a higher
version exists, and a tombstone deletes the current row below it. QLDB never reuses a deleted
document's id, so a deletion is a document's last version. Among copies of one revision, the
redacted copy wins (it is the later truth about the same version), as in the ``history`` view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from restore.ledger_archive import BlockRow

__all__ = ["RevisionBatch", "RevisionRow", "TableEffects", "batch_effects"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RevisionRow:
    """One revision of one document, as read from the archive's ``history`` view.

    Attributes:
        table_name: the QLDB table.
        doc_id: the document id.
        version: the document version, from 0.
        block_seq: the block that committed it.
        tx_id: the transaction id.
        tx_time: the commit time, UTC (naive).
        revision_hash: base64 revision hash.
        data_hash: base64 data hash, set on redacted revisions.
        is_deleted: the revision deletes the document (no data).
        is_redacted: the revision's data was redacted (no data, a data hash).
        data_json: the JSON projection of the data; None when deleted or redacted.
        content_hash: SHA-256 of the canonical JSON (`restore.content`); None without data.
        revision_ion: the lossless Ion text of the revision struct, read only for targets that
            ask for it (``TargetCapabilities.revision_ion``: the ledger targets); None otherwise.
    """

    table_name: str
    doc_id: str
    version: int
    block_seq: int
    tx_id: str
    tx_time: dt.datetime
    revision_hash: str
    data_hash: str | None
    is_deleted: bool
    is_redacted: bool
    data_json: str | None
    content_hash: str | None
    revision_ion: str | None = None

    def wins_over(self, other: RevisionRow) -> bool:
        """True when this revision should replace `other` as the newest one seen."""
        if self.version != other.version:
            return self.version > other.version
        return self.is_redacted and not other.is_redacted


@dataclass(frozen=True, slots=True)
class RevisionBatch:
    """Whole blocks of revisions, applied in one transaction with their checkpoint.

    Attributes:
        rows: the revisions, in block order.
        first_block_seq: the first block the batch covers (inclusive).
        last_block_seq: the last block the batch covers (inclusive): the checkpoint after it.
        blocks: the journal blocks the batch covers, for targets that keep them
            (``TargetCapabilities.blocks``), including blocks without user revisions; else empty.
    """

    rows: tuple[RevisionRow, ...]
    first_block_seq: int
    last_block_seq: int
    blocks: tuple[BlockRow, ...] = ()

    @property
    def where(self) -> str:
        """Names the batch in messages."""
        return f"applying blocks {self.first_block_seq}-{self.last_block_seq}"


@dataclass(frozen=True, slots=True)
class TableEffects:
    """What one batch does to one QLDB table's target tables.

    Attributes:
        table_name: the QLDB table.
        upserts: the newest live revision of each document (version-guarded upsert).
        tombstones: the newest deleting revision of each document (version-guarded upsert,
            then the current row below it is deleted).
        history: every revision once per (doc_id, version), redacted copy first.
    """

    table_name: str
    upserts: tuple[RevisionRow, ...] = ()
    tombstones: tuple[RevisionRow, ...] = ()
    history: tuple[RevisionRow, ...] = field(default=())


def _newest(rows: Iterable[RevisionRow]) -> tuple[RevisionRow, ...]:
    best: dict[str, RevisionRow] = {}
    for row in rows:
        seen = best.get(row.doc_id)
        if seen is None or row.wins_over(seen):
            best[row.doc_id] = row
    return tuple(best[doc_id] for doc_id in sorted(best))


def batch_effects(rows: Sequence[RevisionRow]) -> dict[str, TableEffects]:
    """Reduce revisions to their effects per QLDB table (see the module docstring).

    A document whose newest revision in the batch is a deletion gets no upsert: the tombstone
    decides, and the target deletes any current row below it.
    """
    by_table: dict[str, list[RevisionRow]] = {}
    for row in rows:
        by_table.setdefault(row.table_name, []).append(row)
    effects: dict[str, TableEffects] = {}
    for table, table_rows in sorted(by_table.items()):
        tombstones = _newest(r for r in table_rows if r.is_deleted)
        deleted_at = {t.doc_id: t.version for t in tombstones}
        upserts = _newest(
            r for r in table_rows if not r.is_deleted and r.version > deleted_at.get(r.doc_id, -1)
        )
        unique: dict[tuple[str, int], RevisionRow] = {}
        for row in table_rows:
            key = (row.doc_id, row.version)
            seen = unique.get(key)
            if seen is None or row.wins_over(seen):
                unique[key] = row
        history = tuple(unique[k] for k in sorted(unique))
        effects[table] = TableEffects(table, upserts, tombstones, history)
    return effects

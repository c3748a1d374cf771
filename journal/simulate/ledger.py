"""Transactions to journal blocks: revision hashes, entries, the block hash chain and the digest.

Hashes follow shared/QLDB-FORMATS.md, with `H` = `journal.ion_hash.ion_hash`:

- revision: `dot(H(metadata), H(data))`; a redacted revision keeps that hash and carries
  `dataHash = H(data)` instead of `data`; a deleted revision (metadata, no data) is hashed
  `dot(H(metadata), SHA256(b""))`. That last rule is one of three *unconfirmed* candidates (H1
  in testdata/qldb-real/VECTORS.md: what the Java DMV sample computes); no real deleted revision
  has been found to settle it.
- `entriesHashList`: `[system hash, merkle(revision leaves), system hash, H(transactionInfo)]`,
  plus `H(redactionInfo)` last when the block redacts. System-only blocks (no transactionInfo)
  have the first three. System hashes are opaque in QLDB; here they are random 32 bytes drawn
  from the seed. Hash-only system revisions are leaves of the revisions tree like user ones.
- `entriesHash = merkle(entriesHashList)`; `blockHash = dot(entriesHash, previousBlockHash)`.
- Genesis: block 0 has an empty `previousBlockHash` (`{{}}`), so its block hash equals its
  entries hash (`dot` returns the other side of an empty one).
- The journal digest is `merkle(blockHash[0..tip])`; `write_simulation` keeps it with
  `journal.merkle.IncrementalMerkle` as blocks are emitted.

Redaction. QLDB can only redact an *inactive* revision (one that a later revision of the same
document superseded), one per transaction; the redacting block carries
`redactionInfo{revisions:[{blockAddress, tableId, documentId, version}]}` (the shape of the Java
DMV sample's `RedactionInfo`). The simulator decides that a revision will be redacted at most
`redaction_window` blocks after it was committed and holds blocks back that long before emitting
them, so that every output shows a redacted revision redacted (`dataHash`, no `data`), as a
stream read after the redaction, or an export, would.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from journal.ion_build import (
    ion_blob,
    ion_int,
    ion_list,
    ion_string,
    ion_struct,
    ion_timestamp_ms,
)
from journal.ion_hash import ion_hash
from journal.merkle import dot, merkle
from journal.records import Block, BlockAddress, Revision, RevisionSummary
from journal.simulate.dmv import TableInfo, new_id

if TYPE_CHECKING:
    from journal.ion_values import IonValue

__all__ = [
    "EMPTY_DATA_HASH",
    "DocumentChange",
    "Ledger",
    "TransactionKind",
    "TransactionPlan",
    "revision_hash",
]

EMPTY_DATA_HASH: Final = hashlib.sha256(b"").digest()
"""Stands for `H(data)` of a deleted revision (unconfirmed candidate H1, see the module doc)."""

TransactionKind = Literal["system", "ddl", "user", "redaction"]


@dataclass(frozen=True, slots=True)
class DocumentChange:
    """One document revision a transaction commits: version 0 inserts, `data=None` deletes."""

    table: TableInfo
    doc_id: str
    version: int
    data: IonValue | None
    statements: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionPlan:
    """What one transaction does; the ledger turns it into exactly one block.

    Attributes:
        kind: `system` (no transactionInfo, hash-only revisions), `ddl` (CREATE TABLE / INDEX),
            `user` (document changes) or `redaction` (one REDACT_REVISION).
        statements: statement texts in execution order, with `?` placeholders.
        changes: the document revisions, in the order they appear in the block.
        system_revisions: hash-only system revisions to add to the block's revisions.
        redaction_target: the inactive revision a `redaction` transaction redacts.
    """

    kind: TransactionKind
    statements: tuple[str, ...] = ()
    changes: tuple[DocumentChange, ...] = ()
    system_revisions: int = 0
    redaction_target: Revision | None = None


def revision_hash(metadata_hash: bytes, data_hash: bytes | None) -> bytes:
    """A revision's hash from `H(metadata)` and `H(data)` (None for a deleted revision)."""
    return dot(metadata_hash, EMPTY_DATA_HASH if data_hash is None else data_hash)


@dataclass(slots=True)
class _PendingBlock:
    """A committed block not yet emitted: its revisions can still be redacted."""

    seq: int
    address: IonValue
    tx_id: str
    timestamp: IonValue
    block_hash: bytes
    entries_hash: bytes
    previous_block_hash: bytes
    entries: list[bytes]
    transaction_info: IonValue | None
    redaction_info: IonValue | None
    leaves: list[Revision | bytes]  # a system revision is its hash alone
    data_hashes: list[bytes | None] = field(default_factory=list)


class Ledger:
    """Commits `TransactionPlan`s into hash-chained blocks and emits them after a delay.

    Args:
        strand_id: the journal's single strand.
        start_ms: wall-clock time of the first block, in epoch milliseconds.
        mean_gap_ms: mean time between transactions (exponentially distributed).
        window: blocks held back for redaction (see the module doc); at least 1.
        rng: the ledger's random stream (transaction ids, times, system hashes).
        hash_value: the Ion Hash function (`journal.ion_hash.ion_hash`).
    """

    def __init__(
        self,
        *,
        strand_id: str,
        start_ms: int,
        mean_gap_ms: int,
        window: int,
        rng: random.Random,
        hash_value: Callable[[IonValue], bytes] = ion_hash,
    ) -> None:
        self.strand_id = strand_id
        self._clock = start_ms
        self._mean_gap = float(mean_gap_ms)
        self._window = max(1, window)
        self._rng = rng
        self._hash = hash_value
        self._seq = 0
        self._previous = b""
        self._pending: deque[_PendingBlock] = deque()
        self._statement_digests: dict[str, IonValue] = {}  # a few dozen statement texts
        self._active: dict[tuple[str, int], tuple[_PendingBlock, int]] = {}  # live revisions held back
        self._inactive = _KeySet()  # superseded revisions held back: the redactable ones
        self.tip_block_hash = b""

    # --- state -------------------------------------------------------------------------------

    @property
    def blocks(self) -> int:
        """Blocks committed so far."""
        return self._seq

    @property
    def held_back(self) -> tuple[int, int]:
        """(blocks, redactable revisions) held back: both bounded by the window, whatever the run's length."""
        return len(self._pending), len(self._inactive)

    @property
    def tip(self) -> BlockAddress:
        """Address of the last committed block."""
        return BlockAddress(self.strand_id, self._seq - 1)

    # --- commit ------------------------------------------------------------------------------

    def commit(self, plan: TransactionPlan) -> list[Revision]:
        """Write one block for `plan`; returns its user revisions in block order."""
        rng = self._rng
        seq = self._seq
        address = ion_struct({"strandId": ion_string(self.strand_id), "sequenceNo": ion_int(seq)})
        block_address = BlockAddress(self.strand_id, seq)
        tx_id = new_id(rng)
        start = self._clock + max(1, round(rng.expovariate(1.0 / self._mean_gap)))
        starts = []
        t = start
        for _ in plan.statements:
            starts.append(t)
            t += rng.randint(2, 40)
        tx_ms = t + rng.randint(3, 30)
        block_ms = tx_ms + rng.randint(5, 25)
        self._clock = block_ms
        tx_time = ion_timestamp_ms(tx_ms)

        leaves: list[Revision | bytes] = []
        data_hashes: list[bytes | None] = []
        revisions: list[Revision] = []
        for change in plan.changes:
            revision, data_hash = self._revision(change, address, block_address, tx_id, tx_time)
            leaves.append(revision)
            data_hashes.append(data_hash)
            revisions.append(revision)
        for _ in range(plan.system_revisions):
            at = rng.randrange(len(leaves) + 1)
            leaves.insert(at, rng.randbytes(32))
            data_hashes.insert(at, None)

        transaction_info = None
        redaction_info = None
        entries = [rng.randbytes(32), merkle([_leaf_hash(x) for x in leaves]), rng.randbytes(32)]
        if plan.kind != "system":
            transaction_info = self._transaction_info(plan, starts)
            entries.append(self._hash(transaction_info))
        if plan.redaction_target is not None:
            redaction_info = self._redact(plan.redaction_target)
            entries.append(self._hash(redaction_info))
        entries_hash = merkle(entries)
        block_hash = dot(entries_hash, self._previous)

        pending = _PendingBlock(
            seq=seq,
            address=address,
            tx_id=tx_id,
            timestamp=ion_timestamp_ms(block_ms),
            block_hash=block_hash,
            entries_hash=entries_hash,
            previous_block_hash=self._previous,
            entries=entries,
            transaction_info=transaction_info,
            redaction_info=redaction_info,
            leaves=leaves,
            data_hashes=data_hashes,
        )
        for index, leaf in enumerate(leaves):
            if isinstance(leaf, Revision):
                if leaf.version > 0 and (prior := (leaf.doc_id, leaf.version - 1)) in self._active:
                    self._inactive.add(prior)
                if leaf.data is not None:
                    self._active[(leaf.doc_id, leaf.version)] = (pending, index)
        self._pending.append(pending)
        self._previous = block_hash
        self.tip_block_hash = block_hash
        self._seq += 1
        return revisions

    def _revision(
        self,
        change: DocumentChange,
        address: IonValue,
        block_address: BlockAddress,
        tx_id: str,
        tx_time: IonValue,
    ) -> tuple[Revision, bytes | None]:
        metadata = ion_struct(
            {
                "id": ion_string(change.doc_id),
                "version": ion_int(change.version),
                "txTime": tx_time,
                "txId": ion_string(tx_id),
            }
        )
        data_hash = None if change.data is None else self._hash(change.data)
        rev_hash = revision_hash(self._hash(metadata), data_hash)
        fields = {"blockAddress": address, "hash": ion_blob(rev_hash)}
        if change.data is not None:
            fields["data"] = change.data
        fields["metadata"] = metadata
        revision = Revision(
            doc_id=change.doc_id,
            version=change.version,
            address=block_address,
            tx_id=tx_id,
            tx_time=tx_time,
            revision_hash=rev_hash,
            data=change.data,
            data_hash=None,
            metadata=metadata,
            ion=ion_struct(fields),
            table_name=change.table.name,
            table_id=change.table.table_id,
        )
        return revision, data_hash

    def _transaction_info(self, plan: TransactionPlan, starts: list[int]) -> IonValue:
        statements = [
            ion_struct(
                {
                    "statement": ion_string(text),
                    "startTime": ion_timestamp_ms(start),
                    "statementDigest": self._statement_digest(text),
                }
            )
            for text, start in zip(plan.statements, starts, strict=True)
        ]
        documents = {
            c.doc_id: ion_struct(
                {
                    "tableName": ion_string(c.table.name),
                    "tableId": ion_string(c.table.table_id),
                    "statements": ion_list([ion_int(i) for i in c.statements]),
                }
            )
            for c in plan.changes
        }
        return ion_struct({"statements": ion_list(statements), "documents": ion_struct(documents)})

    def _statement_digest(self, text: str) -> IonValue:
        digest = self._statement_digests.get(text)
        if digest is None:
            digest = self._statement_digests[text] = ion_blob(self._hash(ion_string(text)))
        return digest

    # --- redaction ---------------------------------------------------------------------------

    def redaction_candidate(self, rng: random.Random) -> Revision | None:
        """An inactive revision still held back, chosen at random and reserved; None if there is none."""
        key = self._inactive.pop_random(rng)
        if key is None:
            return None
        pending, index = self._active[key]
        leaf = pending.leaves[index]
        assert isinstance(leaf, Revision)
        return leaf

    def _redact(self, target: Revision) -> IonValue:
        key = (target.doc_id, target.version)
        self._inactive.discard(key)
        where = self._active.pop(key, None)
        if where is None:
            raise ValueError(
                f"{target} is not a live revision held back by the ledger; it cannot be redacted"
            )
        pending, index = where
        data_hash = pending.data_hashes[index]
        assert data_hash is not None  # only revisions with data are in _active
        pending.leaves[index] = dataclasses.replace(
            target,
            data=None,
            data_hash=data_hash,
            ion=ion_struct(
                {
                    "blockAddress": target.ion["blockAddress"],
                    "hash": target.ion["hash"],
                    "dataHash": ion_blob(data_hash),
                    "metadata": target.metadata,
                }
            ),
        )
        request = ion_struct(
            {
                "blockAddress": target.ion["blockAddress"],
                "tableId": ion_string(target.table_id or ""),
                "documentId": ion_string(target.doc_id),
                "version": ion_int(target.version),
            }
        )
        return ion_struct({"revisions": ion_list([request])})

    # --- emission ----------------------------------------------------------------------------

    def emit_ready(self) -> Iterator[Block]:
        """Blocks that left the redaction window, oldest first."""
        while len(self._pending) > self._window:
            yield self._materialise(self._pending.popleft())

    def emit_all(self) -> Iterator[Block]:
        """Every block still held back (end of the run)."""
        while self._pending:
            yield self._materialise(self._pending.popleft())

    def _materialise(self, p: _PendingBlock) -> Block:
        revisions: list[Revision] = []
        summaries: list[RevisionSummary] = []
        items: list[IonValue] = []
        for leaf in p.leaves:
            if isinstance(leaf, Revision):
                key = (leaf.doc_id, leaf.version)
                self._active.pop(key, None)
                self._inactive.discard(key)
                revisions.append(leaf)
                summaries.append(RevisionSummary(leaf.revision_hash, leaf.doc_id))
                items.append(leaf.ion)
            else:
                summaries.append(RevisionSummary(leaf))
                items.append(ion_struct({"hash": ion_blob(leaf)}))
        fields: dict[str, IonValue] = {
            "blockAddress": p.address,
            "transactionId": ion_string(p.tx_id),
            "blockTimestamp": p.timestamp,
            "blockHash": ion_blob(p.block_hash),
            "entriesHash": ion_blob(p.entries_hash),
            "previousBlockHash": ion_blob(p.previous_block_hash),
            "entriesHashList": ion_list([ion_blob(h) for h in p.entries]),
        }
        if p.transaction_info is not None:
            fields["transactionInfo"] = p.transaction_info
        if p.redaction_info is not None:
            fields["redactionInfo"] = p.redaction_info
        fields["revisions"] = ion_list(items)
        return Block(
            address=BlockAddress(self.strand_id, p.seq),
            tx_id=p.tx_id,
            timestamp=p.timestamp,
            block_hash=p.block_hash,
            entries_hash=p.entries_hash,
            previous_block_hash=p.previous_block_hash,
            entries_hash_list=tuple(p.entries),
            transaction_info=p.transaction_info,
            redaction_info=p.redaction_info,
            summaries=tuple(summaries),
            revisions=tuple(revisions),
            ion=ion_struct(fields),
        )


class _KeySet:
    """Revision keys with O(1) add, discard and uniform random pop: pruned as blocks are emitted."""

    __slots__ = ("_index", "_keys")

    def __init__(self) -> None:
        self._keys: list[tuple[str, int]] = []
        self._index: dict[tuple[str, int], int] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: tuple[str, int]) -> None:
        if key not in self._index:
            self._index[key] = len(self._keys)
            self._keys.append(key)

    def discard(self, key: tuple[str, int]) -> None:
        i = self._index.pop(key, None)
        if i is None:
            return
        last = self._keys.pop()
        if i < len(self._keys):
            self._keys[i] = last
            self._index[last] = i

    def pop_random(self, rng: random.Random) -> tuple[str, int] | None:
        if not self._keys:
            return None
        key = self._keys[rng.randrange(len(self._keys))]
        self.discard(key)
        return key


def _leaf_hash(leaf: Revision | bytes) -> bytes:
    return leaf.revision_hash if isinstance(leaf, Revision) else leaf

"""Verify QLDB journal data: revision and block hashes, the chain, the digest and proofs.

Verification is a tuple of small pure checks (`REVISION_RULES`, `BLOCK_RULES`, `check_chain_link`,
`check_digest`, `check_proof_result`), each returning `Result`s, run by `verify_items` over the
blocks and revisions of one dataset (a Kinesis archive, a Firehose archive, an export, loose
files). The rules are those of shared/QLDB-FORMATS.md, confirmed on real QLDB output except where
a result says *unconfirmed*. A mismatch is a result, not an exception: the report names the first
failing block or revision and why, and caps the list with "... and N more".

Stream data arrives at least once and in any order: blocks are deduplicated by sequence number and
revisions by (doc_id, version) through their block's revision summaries; conflicting copies are
findings. Revisions are hashed as they arrive; blocks are checked as they arrive.

Memory. A dataset read in order (a journal export) is verified in O(largest data object + log n):
after a block's checks only its chain link and the running digest are kept (measured: 75 MB peak
for 10,000 and for 40,000 revisions, dominated by one 2,000-block data object). A dataset read
out of order (stream archives, loose files) must hold every block until the end, because a
block's revisions and the blocks around it may arrive last: per block its blockHash,
previousBlockHash, revision hashes, one seen-flag per revision, transaction id and document ids,
packed (`_Entry`), never Ion values; plus, until their block arrives, the hash and ids of early
revisions. Measured on simulated streams (1.9 revisions per block): about 250 bytes per revision,
so about 2.5 GB for 10 million revisions. Verify a stream archive that large on a machine sized
for it, or verify the ledger's journal export, which streams.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from amazon.ion.core import IonType

from journal.errors import JournalError
from journal.ion_hash import ion_hash
from journal.ion_values import IonValue, get_field
from journal.merkle import IncrementalMerkle, dot, merkle
from journal.progress import NULL_PROGRESS, ProgressReporter
from journal.proofs import LedgerDigest, Proof, check_proof
from journal.records import Block, BlockAddress, Revision, RevisionKind
from journal.sources import Item, Sources, load_sources

__all__ = [
    "BLOCK_RULES",
    "DELETED_CANDIDATES",
    "REVISION_RULES",
    "Check",
    "CheckSummary",
    "ChainLink",
    "DatasetSummary",
    "Finding",
    "Outcome",
    "Result",
    "Status",
    "VerificationReport",
    "check_block_documents",
    "check_block_hash",
    "check_block_revisions",
    "check_block_shape",
    "check_chain_link",
    "check_digest",
    "check_entries_hash",
    "check_proof_result",
    "check_redaction_info",
    "check_revision_hash",
    "check_revision_shape",
    "check_revisions_root",
    "check_statement_digests",
    "check_transaction_info",
    "verify_items",
    "verify_paths",
    "verify_sources",
]


class Check(StrEnum):
    """The check families of a report, in the order they are listed."""

    RECORD_PARSE = "record_parse"  # records of a usable input that cannot be read
    SHAPE = "shape"  # no fields QLDB does not write (no hash covers them)
    REVISION_HASH = "revision_hash"  # dot(H(metadata), H(data) or dataHash)
    STATEMENT_DIGEST = "statement_digest"  # statementDigest == H(statement)
    TRANSACTION_INFO = "transaction_info"  # H(transactionInfo) in entriesHashList
    REDACTION_INFO = "redaction_info"  # H(redactionInfo) in entriesHashList (unconfirmed rule)
    REVISIONS_ROOT = "revisions_root"  # merkle(revision hashes) in entriesHashList
    ENTRIES_HASH = "entries_hash"  # entriesHash == merkle(entriesHashList)
    BLOCK_HASH = "block_hash"  # blockHash == dot(entriesHash, previousBlockHash)
    REVISION_IN_BLOCK = "revision_in_block"  # revisions and their block's summaries agree
    DUPLICATES = "duplicates"  # repeated deliveries are identical
    CHAIN = "chain"  # previousBlockHash links, no missing sequence numbers
    DIGEST = "digest"  # merkle(blockHash[0..tip]) == saved digest
    PROOF = "proof"  # fold(dot, proof, leaf) == digest


class Outcome(StrEnum):
    """What one check of one item found."""

    PASSED = "passed"
    FAILED = "failed"  # a hash or link does not match, or conflicting copies
    GAP = "gap"  # something the input itself says exists is missing from it
    UNCONFIRMED = "unconfirmed"  # matched only a rule no real QLDB data confirms
    NOT_CHECKABLE = "not_checkable"  # the input cannot support the check (JSON, no digest, ...)


class Status(StrEnum):
    """The status of a check family over the whole input."""

    PASSED = "passed"
    FAILED = "failed"
    INCOMPLETE = "incomplete"  # gaps, no failures
    UNCONFIRMED = "unconfirmed"  # only unconfirmed rules matched for some items
    NOT_CHECKABLE = "not_checkable"
    NOT_APPLICABLE = "not_applicable"  # nothing of that kind in the input


_RANK = {
    Outcome.FAILED: 0,
    Outcome.GAP: 1,
    Outcome.UNCONFIRMED: 2,
    Outcome.NOT_CHECKABLE: 3,
    Outcome.PASSED: 4,
}

DELETED_CANDIDATES: tuple[tuple[str, Callable[[bytes], bytes]], ...] = (
    ('H1 = dot(H(md), SHA256(""))', lambda md: dot(md, hashlib.sha256(b"").digest())),
    ("H2 = H(md)", lambda md: md),
    ("H3 = SHA256(H(md))", lambda md: hashlib.sha256(md).digest()),
)
"""Candidate hashes of a deleted revision (no data): none is confirmed by real QLDB data."""

_JSON_REASON = "read from a JSON export: Ion types are lost (decimal 9.0 vs 9, timestamp precision)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """One check of one item: its outcome and, unless it passed, why."""

    check: Check
    outcome: Outcome
    block: BlockAddress | None = None
    doc_id: str | None = None
    version: int | None = None
    reason: str = ""
    tag: str | None = None  # for counting (which deleted-revision candidate matched)


@dataclass(frozen=True, slots=True)
class ChainLink:
    """What the chain checks need of a block."""

    address: BlockAddress
    block_hash: bytes
    previous_block_hash: bytes


def b64(h: bytes) -> str:
    """A hash as base64, the way QLDB prints it."""
    return base64.b64encode(h).decode()


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n:,} {singular if n == 1 else plural or singular + 's'}"


def _rev_result(
    rev: Revision, check: Check, outcome: Outcome, reason: str = "", tag: str | None = None
) -> Result:
    return Result(
        check=check,
        outcome=outcome,
        block=rev.address,
        doc_id=rev.doc_id,
        version=rev.version,
        reason=reason,
        tag=tag,
    )


def _block_result(block: Block, check: Check, outcome: Outcome, reason: str = "") -> Result:
    return Result(check=check, outcome=outcome, block=block.address, reason=reason)


# ---- revision rules ---------------------------------------------------------------------------


def check_revision_hash(rev: Revision) -> list[Result]:
    """Recompute a revision's hash from its metadata and data (or dataHash).

    Live: `dot(H(metadata), H(data))`; redacted: `dot(H(metadata), dataHash)` (from the Java
    sample; no real redacted revision was available). Deleted: never a plain pass: the result is
    UNCONFIRMED naming the matching candidate of `DELETED_CANDIDATES`, or FAILED when none matches.
    """
    check = Check.REVISION_HASH
    if not rev.ion_exact:
        return [_rev_result(rev, check, Outcome.NOT_CHECKABLE, _JSON_REASON)]
    try:
        md = ion_hash(rev.metadata)
        kind = rev.kind
        if kind is RevisionKind.LIVE:
            computed = dot(md, ion_hash(rev.data))
        elif kind is RevisionKind.REDACTED:
            computed = dot(md, rev.data_hash or b"")
        else:
            return [_check_deleted(rev, md)]
    except JournalError as exc:
        return [_rev_result(rev, check, Outcome.FAILED, f"cannot compute its Ion hash: {exc}")]
    if computed == rev.revision_hash:
        return [_rev_result(rev, check, Outcome.PASSED)]
    what = (
        "dot(H(metadata), H(data))" if kind is RevisionKind.LIVE else "dot(H(metadata), dataHash) [redacted]"
    )
    return [
        _rev_result(
            rev, check, Outcome.FAILED, f"hash is {b64(rev.revision_hash)} but {what} is {b64(computed)}"
        )
    ]


def _check_deleted(rev: Revision, md: bytes) -> Result:
    names = ", ".join(name for name, _ in DELETED_CANDIDATES)
    matched = [name for name, formula in DELETED_CANDIDATES if formula(md) == rev.revision_hash]
    if matched:
        return _rev_result(
            rev,
            Check.REVISION_HASH,
            Outcome.UNCONFIRMED,
            f"deleted revision: hash matches {matched[0].split()[0]} of the candidates {names}, "
            "none confirmed by real QLDB data",
            tag=matched[0],
        )
    return _rev_result(
        rev,
        Check.REVISION_HASH,
        Outcome.FAILED,
        f"deleted revision: hash {b64(rev.revision_hash)} matches none of the candidates ({names}); "
        "the rule is unconfirmed, so this is tampering or a formula not among them",
        tag="no candidate",
    )


_REVISION_FIELDS = frozenset({"blockAddress", "hash", "data", "dataHash", "metadata"})
_BLOCK_FIELDS = frozenset(
    {
        "blockAddress",
        "transactionId",
        "blockTimestamp",
        "blockHash",
        "entriesHash",
        "previousBlockHash",
        "entriesHashList",
        "transactionInfo",
        "redactionInfo",
        "revisions",  # journal export, get-block
        "revisionSummaries",  # stream BLOCK_SUMMARY
    }
)
_SUMMARY_FIELDS = frozenset({"hash", "documentId"})
_SYSTEM_REVISION_FIELDS = frozenset({"hash", "blockAddress"})
_ADDRESS_FIELDS = frozenset({"strandId", "sequenceNo"})


def _unexpected(struct: IonValue, allowed: frozenset[str], where: str) -> list[str]:
    """Fields QLDB does not write, and fields written twice (a struct keeps only one of them)."""
    if getattr(struct, "ion_type", None) is not IonType.STRUCT:
        return [f"{where.rstrip('.') or 'value'} (not a struct)"]
    out = [f"{where}{name}" for name in struct if name not in allowed]
    get_all = getattr(struct, "get_all_values", None)
    if get_all is not None:
        out += [f"{where}{name} (twice)" for name in struct if len(get_all(name)) > 1]
    return out


def check_revision_shape(rev: Revision) -> list[Result]:
    """A revision holds only the fields QLDB writes: anything else is covered by no hash."""
    extra = _unexpected(rev.ion, _REVISION_FIELDS, "") + _unexpected(
        get_field(rev.ion, "blockAddress"), _ADDRESS_FIELDS, "blockAddress."
    )
    if not extra:
        return [_rev_result(rev, Check.SHAPE, Outcome.PASSED)]
    return [_rev_result(rev, Check.SHAPE, Outcome.FAILED, f"fields QLDB does not write: {', '.join(extra)}")]


REVISION_RULES: tuple[Callable[[Revision], list[Result]], ...] = (check_revision_shape, check_revision_hash)
"""Checks of one revision on its own."""


# ---- block rules ------------------------------------------------------------------------------


def _hash_or_failure(value: IonValue, block: Block, check: Check) -> bytes | Result:
    try:
        return ion_hash(value)
    except JournalError as exc:
        return _block_result(block, check, Outcome.FAILED, f"cannot compute its Ion hash: {exc}")


def _entry_check(
    block: Block, check: Check, value: IonValue | None, label: str, missing: Result
) -> list[Result]:
    """`H(value)` is one of the block's `entriesHashList`; `missing` is the result when it is not."""
    if value is None:
        return []
    if not block.ion_exact:
        return [_block_result(block, check, Outcome.NOT_CHECKABLE, _JSON_REASON)]
    h = _hash_or_failure(value, block, check)
    if isinstance(h, Result):
        return [h]
    if h in block.entries_hash_list:
        return [_block_result(block, check, Outcome.PASSED)]
    return [replace(missing, reason=f"H({label}) {b64(h)} is not in entriesHashList{missing.reason}")]


def check_transaction_info(block: Block) -> list[Result]:
    """`H(transactionInfo)` is one of the block's `entriesHashList` (when the block has one)."""
    check = Check.TRANSACTION_INFO
    missing = _block_result(block, check, Outcome.FAILED, "")
    return _entry_check(block, check, block.transaction_info, "transactionInfo", missing)


def check_redaction_info(block: Block) -> list[Result]:
    """`H(redactionInfo)` is in `entriesHashList`: an unconfirmed rule, so absence is UNCONFIRMED."""
    check = Check.REDACTION_INFO
    note = "; that rule comes from a sample, not from real QLDB data"
    missing = _block_result(block, check, Outcome.UNCONFIRMED, note)
    return _entry_check(block, check, block.redaction_info, "redactionInfo", missing)


def check_statement_digests(block: Block) -> list[Result]:
    """Each statement's `statementDigest == H(statement)` (a string: exact even from JSON)."""
    check = Check.STATEMENT_DIGEST
    statements = None if block.transaction_info is None else get_field(block.transaction_info, "statements")
    if statements is None or getattr(statements, "ion_type", None) is not IonType.LIST:
        return []
    out = []
    for i, st in enumerate(statements):
        if getattr(st, "ion_type", None) is not IonType.STRUCT:
            out.append(_block_result(block, check, Outcome.FAILED, f"statements[{i}] is not a struct"))
            continue
        text, digest = get_field(st, "statement"), get_field(st, "statementDigest")
        if text is None or digest is None or getattr(digest, "ion_type", None) is not IonType.BLOB:
            continue
        h = _hash_or_failure(text, block, check)
        if isinstance(h, Result):
            out.append(h)
        elif h == bytes(digest):
            out.append(_block_result(block, check, Outcome.PASSED))
        else:
            reason = f"statements[{i}]: statementDigest {b64(bytes(digest))} but H(statement) is {b64(h)}"
            out.append(_block_result(block, check, Outcome.FAILED, reason))
    return out


def check_revisions_root(block: Block) -> list[Result]:
    """`merkle(revision hashes)` is in `entriesHashList` (system revisions are hash-only leaves)."""
    check = Check.REVISIONS_ROOT
    leaves = [s.revision_hash for s in block.summaries]
    if not leaves:
        return []
    if not block.entries_hash_list:
        return [_block_result(block, check, Outcome.NOT_CHECKABLE, "the block has no entriesHashList")]
    root = merkle(leaves)
    if root in block.entries_hash_list:
        return [_block_result(block, check, Outcome.PASSED)]
    reason = f"merkle of its {len(leaves)} revision hashes, {b64(root)}, is not in entriesHashList"
    return [_block_result(block, check, Outcome.FAILED, reason)]


def check_entries_hash(block: Block) -> list[Result]:
    """`entriesHash == merkle(entriesHashList)`."""
    check = Check.ENTRIES_HASH
    if not block.entries_hash_list:
        return [_block_result(block, check, Outcome.NOT_CHECKABLE, "the block has no entriesHashList")]
    root = merkle(block.entries_hash_list)
    if root == block.entries_hash:
        return [_block_result(block, check, Outcome.PASSED)]
    reason = f"entriesHash is {b64(block.entries_hash)} but merkle(entriesHashList) is {b64(root)}"
    return [_block_result(block, check, Outcome.FAILED, reason)]


def check_block_hash(block: Block) -> list[Result]:
    """`blockHash == dot(entriesHash, previousBlockHash)`."""
    computed = dot(block.entries_hash, block.previous_block_hash)
    if computed == block.block_hash:
        return [_block_result(block, Check.BLOCK_HASH, Outcome.PASSED)]
    reason = (
        f"blockHash is {b64(block.block_hash)} but dot(entriesHash, previousBlockHash) is {b64(computed)}"
    )
    return [_block_result(block, Check.BLOCK_HASH, Outcome.FAILED, reason)]


def check_block_shape(block: Block) -> list[Result]:
    """A block holds only the fields QLDB writes.

    Trap: fields outside the hashed entries (blockTimestamp, the names of fields) are not
    protected by any hash, so a corrupted symbol table can turn `transactionInfo` or `revisions`
    into unknown fields and leave a block whose hashes still add up.
    """
    extra = _unexpected(block.ion, _BLOCK_FIELDS, "") + _unexpected(
        get_field(block.ion, "blockAddress"), _ADDRESS_FIELDS, "blockAddress."
    )
    summaries = get_field(block.ion, "revisionSummaries")
    if summaries is not None and getattr(summaries, "ion_type", None) is IonType.LIST:
        for i, item in enumerate(summaries):
            extra += _unexpected(item, _SUMMARY_FIELDS, f"revisionSummaries[{i}].")
    revisions = get_field(block.ion, "revisions")
    if revisions is not None and getattr(revisions, "ion_type", None) is IonType.LIST:
        for i, item in enumerate(revisions):
            # a user revision has metadata; a system revision is a hash-only leaf
            allowed = _REVISION_FIELDS if get_field(item, "metadata") is not None else _SYSTEM_REVISION_FIELDS
            extra += _unexpected(item, allowed, f"revisions[{i}].")
    if not extra:
        return [_block_result(block, Check.SHAPE, Outcome.PASSED)]
    return [
        _block_result(block, Check.SHAPE, Outcome.FAILED, f"fields QLDB does not write: {', '.join(extra)}")
    ]


def check_block_documents(block: Block) -> list[Result]:
    """The documents `transactionInfo` lists and the documents of the block's revisions agree.

    Both real blocks (aws-cli block 100, stream block 3) hold exactly one revision per listed
    document. No hash ties a revision summary's `documentId` to the block, so this is what
    catches a summary or a carried revision whose document was altered or dropped.
    """
    if block.transaction_info is None:
        if any(s.doc_id is not None for s in block.summaries):
            reason = "revisions of user documents but no transactionInfo"
            return [_block_result(block, Check.REVISION_IN_BLOCK, Outcome.FAILED, reason)]
        return []
    docs = get_field(block.transaction_info, "documents")
    listed = {str(k) for k in docs} if docs is not None and docs.ion_type is IonType.STRUCT else set()
    revised = {s.doc_id for s in block.summaries if s.doc_id is not None}
    if listed == revised:
        return [_block_result(block, Check.REVISION_IN_BLOCK, Outcome.PASSED)]
    parts = []
    if listed - revised:
        parts.append(f"transactionInfo lists {', '.join(sorted(listed - revised))} without a revision")
    if revised - listed:
        parts.append(
            f"revisions of {', '.join(sorted(revised - listed))} are not in transactionInfo.documents"
        )
    return [_block_result(block, Check.REVISION_IN_BLOCK, Outcome.FAILED, "; ".join(parts))]


def check_block_revisions(block: Block) -> list[Result]:
    """Revisions carried in a block (exports, get-block) name that block and its transaction."""
    out = []
    for rev in block.revisions:
        if rev.address != block.address:
            reason = f"carried in block {block.address} but its blockAddress is {rev.address}"
            out.append(_rev_result(rev, Check.REVISION_IN_BLOCK, Outcome.FAILED, reason))
        elif rev.tx_id != block.tx_id:
            reason = f"metadata.txId {rev.tx_id} but the block's transactionId is {block.tx_id}"
            out.append(_rev_result(rev, Check.REVISION_IN_BLOCK, Outcome.FAILED, reason))
        else:
            out.append(_rev_result(rev, Check.REVISION_IN_BLOCK, Outcome.PASSED))
    return out


BLOCK_RULES: tuple[Callable[[Block], list[Result]], ...] = (
    check_block_shape,
    check_transaction_info,
    check_redaction_info,
    check_statement_digests,
    check_revisions_root,
    check_entries_hash,
    check_block_hash,
    check_block_documents,
    check_block_revisions,
)
"""Checks of one block on its own (its carried revisions get `REVISION_RULES` too)."""


# ---- chain, digest and proof rules ------------------------------------------------------------


def check_chain_link(prev: ChainLink | None, cur: ChainLink) -> list[Result]:
    """`cur.previousBlockHash == prev.blockHash` for consecutive blocks; missing blocks are a GAP."""
    if prev is None:
        return []
    gap = cur.address.block_seq - prev.address.block_seq - 1
    if gap > 0:
        first, last = prev.address.block_seq + 1, cur.address.block_seq - 1
        span = f"block {first}" if gap == 1 else f"blocks {first}-{last} ({gap:,} blocks)"
        return [Result(check=Check.CHAIN, outcome=Outcome.GAP, block=cur.address, reason=f"{span} missing")]
    if cur.previous_block_hash == prev.block_hash:
        return [Result(check=Check.CHAIN, outcome=Outcome.PASSED, block=cur.address)]
    reason = (
        f"previousBlockHash {b64(cur.previous_block_hash)} is not block {prev.address.block_seq}'s "
        f"blockHash {b64(prev.block_hash)}"
    )
    return [Result(check=Check.CHAIN, outcome=Outcome.FAILED, block=cur.address, reason=reason)]


def check_digest(computed: bytes | None, saved: LedgerDigest, *, coverage: str) -> Result:
    """A saved digest against `merkle(blockHash[0..tip])` recomputed from the chain.

    Args:
        computed: the recomputed root at `saved.tip`, or None when the chain cannot give it.
        saved: the saved digest.
        coverage: what the chain holds, for the NOT_CHECKABLE reason.
    """
    if computed is None:
        reason = (
            f"digest at tip {saved.tip} ({saved.source}) needs blocks 0-{saved.tip.block_seq}; {coverage}"
        )
        return Result(check=Check.DIGEST, outcome=Outcome.NOT_CHECKABLE, block=saved.tip, reason=reason)
    if computed == saved.digest:
        return Result(check=Check.DIGEST, outcome=Outcome.PASSED, block=saved.tip)
    reason = (
        f"saved digest {b64(saved.digest)} ({saved.source}) but merkle(blockHash[0..{saved.tip.block_seq}]) "
        f"is {b64(computed)}"
    )
    return Result(check=Check.DIGEST, outcome=Outcome.FAILED, block=saved.tip, reason=reason)


def check_proof_result(proof: Proof, digests: Sequence[LedgerDigest]) -> Result:
    """A proof against its own saved digest, else against every saved digest of its strand."""
    candidates = [proof.digest] if proof.digest is not None else list(digests)
    candidates = [d for d in candidates if d.tip.strand_id == proof.address.strand_id]

    def result(outcome: Outcome, reason: str = "") -> Result:
        return Result(
            check=Check.PROOF,
            outcome=outcome,
            block=proof.address,
            doc_id=proof.doc_id,
            version=proof.version,
            reason=reason,
        )

    if not candidates:
        return result(
            Outcome.NOT_CHECKABLE,
            f"{proof.kind.value} proof ({proof.source}): no saved digest of strand "
            f"{proof.address.strand_id}; add the get-digest output made with it",
        )
    if any(check_proof(proof, d) for d in candidates):
        return result(Outcome.PASSED)
    tips = ", ".join(f"{b64(d.digest)} (tip {d.tip})" for d in candidates)
    return result(
        Outcome.FAILED, f"{proof.kind.value} proof folds to {b64(proof.root())}, not the digest {tips}"
    )


# ---- the report -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """A result that did not pass, with the dataset it came from."""

    check: Check
    outcome: Outcome
    message: str
    dataset: str | None = None
    block: BlockAddress | None = None
    doc_id: str | None = None
    version: int | None = None

    def subject(self) -> str:
        """What the finding is about: 'document D version 3 (block S:100)', 'block S:100', ..."""
        if self.doc_id is not None:
            who = f"document {self.doc_id}" + ("" if self.version is None else f" version {self.version}")
            return who + ("" if self.block is None else f" (block {self.block})")
        return "" if self.block is None else f"block {self.block}"

    def __str__(self) -> str:
        where = f"[{self.dataset}] " if self.dataset else ""
        subject = self.subject()
        about = f"{subject}: " if subject else ""
        return f"{self.outcome.value} {self.check.value}: {where}{about}{self.message}"

    def to_json(self) -> dict[str, Any]:
        """The finding as JSON."""
        return {
            "check": self.check.value,
            "outcome": self.outcome.value,
            "dataset": self.dataset,
            "block": None if self.block is None else str(self.block),
            "doc_id": self.doc_id,
            "version": self.version,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckSummary:
    """One check family over the whole input: its status and counts (duplicate copies included)."""

    check: Check
    status: Status
    counts: dict[Outcome, int]
    note: str | None = None  # why not checkable; which deleted-revision candidates matched

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON."""
        return {
            "status": self.status.value,
            "counts": {o.value: n for o, n in self.counts.items() if n},
            "note": self.note,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetSummary:
    """What one dataset held, and the digest recomputed from its chain."""

    name: str
    kind: str
    blocks: int
    revisions: int
    duplicate_blocks: int
    duplicate_revisions: int
    unreadable: int
    strands: int
    first_block: BlockAddress | None  # of the longest strand (QLDB journals have one)
    last_block: BlockAddress | None
    digest: bytes | None  # merkle(blockHash[0..last_block]) when the chain is complete from block 0

    def describe(self) -> str:
        """One line for humans."""
        if self.first_block is None or self.last_block is None:
            span = "no blocks"
        else:
            first, last = self.first_block.block_seq, self.last_block.block_seq
            span = f"{_count(self.blocks, 'block')}, {first:,}-{last:,} of strand {self.last_block.strand_id}"
            if self.strands > 1:
                span += f" (and {_count(self.strands - 1, 'other strand')})"
        parts = [f"{self.name}: {span}, {_count(self.revisions, 'revision')}"]
        dups = self.duplicate_blocks + self.duplicate_revisions
        if dups:
            parts.append(f"{_count(dups, 'duplicate copy', 'duplicate copies')} dropped")
        if self.unreadable:
            parts.append(_count(self.unreadable, "unreadable record"))
        if self.digest is not None and self.last_block is not None:
            parts.append(f"digest at tip {self.last_block.block_seq:,}: {b64(self.digest)}")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON."""
        return {
            "name": self.name,
            "kind": self.kind,
            "blocks": self.blocks,
            "revisions": self.revisions,
            "duplicate_blocks": self.duplicate_blocks,
            "duplicate_revisions": self.duplicate_revisions,
            "unreadable_records": self.unreadable,
            "strands": self.strands,
            "first_block": None if self.first_block is None else str(self.first_block),
            "last_block": None if self.last_block is None else str(self.last_block),
            "digest": None if self.digest is None else b64(self.digest),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationReport:
    """The result of verifying an input: per-family status, per-dataset counts, capped findings."""

    checks: tuple[CheckSummary, ...]
    datasets: tuple[DatasetSummary, ...]
    findings: tuple[Finding, ...]  # failed first, then gaps, then unconfirmed; in journal order
    findings_total: int  # every result that did not pass or was not checkable, duplicates included
    ignored: tuple[str, ...] = ()  # files in the given folders of no kind verify reads

    @property
    def ok(self) -> bool:
        """True when no check failed and nothing the input refers to is missing from it."""
        return not any(c.status in (Status.FAILED, Status.INCOMPLETE) for c in self.checks)

    def check(self, check: Check) -> CheckSummary:
        """The summary of one family."""
        return next(c for c in self.checks if c.check is check)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON (what `qldb-archive verify --json` prints)."""
        return {
            "ok": self.ok,
            "checks": {c.check.value: c.to_json() for c in self.checks},
            "datasets": [d.to_json() for d in self.datasets],
            "findings": [f.to_json() for f in self.findings],
            "findings_total": self.findings_total,
            "findings_omitted": self.findings_total - len(self.findings),
            "ignored": list(self.ignored),
        }

    def summary_lines(self) -> list[str]:
        """The report for humans, one line per item."""
        failed = [c.check.value for c in self.checks if c.status is Status.FAILED]
        incomplete = [c.check.value for c in self.checks if c.status is Status.INCOMPLETE]
        if failed:
            head = f"FAILED: {', '.join(failed)}" + (
                f"; incomplete: {', '.join(incomplete)}" if incomplete else ""
            )
        elif incomplete:
            head = f"INCOMPLETE: {', '.join(incomplete)} (data the input refers to is missing)"
        else:
            unconfirmed = [c.check.value for c in self.checks if c.status is Status.UNCONFIRMED]
            head = "VERIFIED" + (
                f" (unconfirmed rules used: {', '.join(unconfirmed)})" if unconfirmed else ""
            )
        lines = [head]
        lines += [f"  {d.describe()}" for d in self.datasets]
        lines.append("checks:")
        for c in self.checks:
            counts = ", ".join(f"{n:,} {o.value.replace('_', ' ')}" for o, n in c.counts.items() if n)
            text = f"  {c.check.value:<18} {c.status.value:<14} {counts or '-'}"
            lines.append(text + (f" ({c.note})" if c.note else ""))
        if self.findings:
            # Failures and gaps first, in full; unconfirmed results are one rule applied many
            # times (the counts above say how often), so a few examples are enough here.
            serious = [f for f in self.findings if f.outcome is not Outcome.UNCONFIRMED]
            examples = [f for f in self.findings if f.outcome is Outcome.UNCONFIRMED][:3]
            lines.append("findings:")
            lines += [f"  {f}" for f in (*serious, *examples)]
            hidden = self.findings_total - len(serious) - len(examples)
            if hidden > 0:
                lines.append(f"  ... and {hidden:,} more (--json lists up to {len(self.findings):,})")
        if self.ignored:
            shown = ", ".join(self.ignored[:5])
            more = f" ... and {len(self.ignored) - 5:,} more" if len(self.ignored) > 5 else ""
            lines.append(f"ignored (not journal data): {shown}{more}")
        return lines


# ---- the engine -------------------------------------------------------------------------------


class _Log:
    """Tallies every result and keeps the first `cap` findings in journal order."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.counts: dict[Check, Counter[Outcome]] = {c: Counter() for c in Check}
        self.tags: dict[Check, Counter[str]] = {c: Counter() for c in Check}
        self.notes: dict[Check, str] = {}
        self.findings: list[tuple[tuple[Any, ...], Finding]] = []
        self.total = 0
        self._n = 0

    def add(self, results: Iterable[Result], dataset: str | None, order: int = 0) -> None:
        for r in results:
            self.counts[r.check][r.outcome] += 1
            if r.tag is not None:
                self.tags[r.check][r.tag] += 1
            if r.outcome is Outcome.PASSED:
                continue
            if r.outcome is Outcome.NOT_CHECKABLE:
                self.notes.setdefault(r.check, r.reason)
                continue
            self.total += 1
            self._n += 1
            finding = Finding(
                check=r.check,
                outcome=r.outcome,
                message=r.reason,
                dataset=dataset,
                block=r.block,
                doc_id=r.doc_id,
                version=r.version,
            )
            key = (
                _RANK[r.outcome],
                order,
                "" if r.block is None else r.block.strand_id,
                -1 if r.block is None else r.block.block_seq,
                r.doc_id or "",
                -1 if r.version is None else r.version,
                self._n,
            )
            self.findings.append((key, finding))
            if len(self.findings) > 4 * self.cap + 64:
                self._trim()

    def _trim(self) -> None:
        self.findings.sort(key=lambda kf: kf[0])
        out: list[tuple[tuple[Any, ...], Finding]] = []
        seen: set[Finding] = set()
        for kf in self.findings:
            if kf[1] not in seen:
                seen.add(kf[1])
                out.append(kf)
            if len(out) >= self.cap:
                break
        self.findings = out

    def summaries(self) -> tuple[CheckSummary, ...]:
        out = []
        for check in Check:
            counts = self.counts[check]
            if counts[Outcome.FAILED]:
                status = Status.FAILED
            elif counts[Outcome.GAP]:
                status = Status.INCOMPLETE
            elif counts[Outcome.UNCONFIRMED]:
                status = Status.UNCONFIRMED
            elif counts[Outcome.PASSED]:
                status = Status.PASSED
            elif counts[Outcome.NOT_CHECKABLE]:
                status = Status.NOT_CHECKABLE
            else:
                status = Status.NOT_APPLICABLE
            note = self.notes.get(check)
            if self.tags[check]:
                tagged = ", ".join(f"{t}: {n:,}" for t, n in self.tags[check].most_common())
                note = f"deleted revisions by candidate: {tagged}" + (f"; {note}" if note else "")
            out.append(
                CheckSummary(check=check, status=status, counts={o: counts[o] for o in Outcome}, note=note)
            )
        return tuple(out)

    def final_findings(self) -> tuple[Finding, ...]:
        self._trim()
        return tuple(f for _, f in self.findings)


_EMPTY_LEAVES = b""


class _Entry:
    """What an out-of-order dataset keeps of a block after its checks: hashes and ids, no Ion.

    Packed for memory, since a stream archive keeps one per block: when every hash is 32 bytes,
    one bytearray holds blockHash, previousBlockHash, the revision hashes and one seen-flag per
    revision; the transaction id and the revisions' document ids share one string.
    """

    __slots__ = ("loose", "n", "packed", "text")

    def __init__(self, block: Block) -> None:
        hashes = [s.revision_hash for s in block.summaries]
        self.n = len(hashes)
        parts = [block.block_hash, block.previous_block_hash, *hashes]
        if all(len(h) == 32 for h in parts):
            self.packed: bytearray | None = bytearray(b"".join(parts) + bytes(self.n))
            self.loose: tuple[bytes, bytes, tuple[bytes, ...], bytearray] | None = None
        else:  # a hash of another length (malformed input): kept as is
            self.packed = None
            self.loose = (block.block_hash, block.previous_block_hash, tuple(hashes), bytearray(self.n))
        ids = [block.tx_id, *(s.doc_id or "" for s in block.summaries)]
        self.text: str | tuple[str, ...] = tuple(ids) if any("\x00" in d for d in ids) else "\x00".join(ids)

    @property
    def block_hash(self) -> bytes:
        return bytes(self.packed[:32]) if self.packed is not None else self.loose[0]  # type: ignore[index]

    @property
    def previous_block_hash(self) -> bytes:
        return bytes(self.packed[32:64]) if self.packed is not None else self.loose[1]  # type: ignore[index]

    @property
    def tx_id(self) -> str:
        return self.text[0] if isinstance(self.text, tuple) else self.text.split("\x00", 1)[0]

    def doc_ids(self) -> list[str]:
        """Document id of each leaf ("" for a system revision)."""
        return list(self.text[1:]) if isinstance(self.text, tuple) else self.text.split("\x00")[1:]

    def same_as(self, block: Block) -> bool:
        other = _Entry(block)
        if self.packed is not None and other.packed is not None:
            mine, theirs = self.packed[: 64 + 32 * self.n], other.packed[: 64 + 32 * other.n]
            return bool(mine == theirs and self.text == other.text)
        return (self.block_hash, self.previous_block_hash, self._leaves(), self.text) == (
            other.block_hash,
            other.previous_block_hash,
            other._leaves(),
            other.text,
        )

    def _leaves(self) -> tuple[bytes, ...]:
        if self.packed is None:
            return self.loose[2]  # type: ignore[index]
        return tuple(bytes(self.packed[64 + 32 * i : 96 + 32 * i]) for i in range(self.n))

    def leaf_index(self, h: bytes) -> int:
        if self.packed is None:
            leaves = self._leaves()
            return leaves.index(h) if h in leaves else -1
        end = 64 + 32 * self.n
        i = self.packed.find(h, 64, end) if len(h) == 32 else -1
        while i != -1 and i % 32:
            i = self.packed.find(h, i + 1, end)
        return -1 if i == -1 else (i - 64) // 32

    def seen(self, i: int) -> bool:
        if self.packed is None:
            return bool(self.loose[3][i])  # type: ignore[index]
        return bool(self.packed[64 + 32 * self.n + i])

    def mark_seen(self, i: int) -> None:
        if self.packed is None:
            self.loose[3][i] = 1  # type: ignore[index]
        else:
            self.packed[64 + 32 * self.n + i] = 1

    def all_seen(self) -> bool:
        return all(self.seen(i) for i in range(self.n))


@dataclass(slots=True)
class _Pending:
    """A revision that arrived before its block (out-of-order datasets)."""

    revision_hash: bytes
    doc_id: str
    version: int
    address: BlockAddress


@dataclass(slots=True)
class _Strand:
    """Running chain state of one strand, fed blocks in sequence order."""

    last: ChainLink | None = None
    merkle: IncrementalMerkle = field(default_factory=IncrementalMerkle)
    from_zero: bool = True
    first: BlockAddress | None = None
    blocks: int = 0
    roots: dict[int, bytes] = field(default_factory=dict)  # tip seq -> merkle(blockHash[0..tip])


class _DatasetVerifier:
    """Runs the rules over the blocks and revisions of one dataset, in any order.

    Feed it with `add_block`, `add_revision` and `add_unreadable`, then call `finish`. A dataset
    `ordered` by sequence number (a journal export) is verified as it streams; others keep the
    hashes described in the module docstring until `finish`.
    """

    def __init__(
        self,
        name: str,
        *,
        log: _Log,
        ordered: bool = False,
        digests: Sequence[LedgerDigest] = (),
        kind: str = "",
        order: int = 0,
    ) -> None:
        self.name, self.kind, self.ordered, self._log, self._order = name, kind, ordered, log, order
        self._digests = list(digests)
        self._tips: dict[str, set[int]] = {}
        for d in digests:
            self._tips.setdefault(d.tip.strand_id, set()).add(d.tip.block_seq)
        self._entries: dict[str, dict[int, _Entry]] = {}  # strand -> block_seq -> entry
        self._pending: dict[tuple[str, int], list[_Pending]] = {}
        self._strands: dict[str, _Strand] = {}
        self._revisions = 0
        self._dup_blocks = 0
        self._dup_revisions = 0
        self._unreadable = 0
        self._blocks = 0

    def _emit(self, results: Iterable[Result]) -> None:
        self._log.add(results, self.name, self._order)

    def _apply(
        self,
        rule: Callable[[Any], list[Result]],
        item: Block | Revision,
        block: BlockAddress,
        doc_id: str | None,
        version: int | None,
    ) -> None:
        """Run one rule; a value of an unexpected Ion type deep inside is a SHAPE failure."""
        try:
            self._emit(rule(item))
        except (AttributeError, TypeError, KeyError, ValueError) as exc:
            reason = f"{rule.__name__} cannot read it ({type(exc).__name__}: {exc})"
            self._emit(
                [
                    Result(
                        check=Check.SHAPE,
                        outcome=Outcome.FAILED,
                        block=block,
                        doc_id=doc_id,
                        version=version,
                        reason=reason,
                    )
                ]
            )

    def add_unreadable(self, source: str, reason: str) -> None:
        """A record of this dataset that could not be parsed."""
        self._unreadable += 1
        self._emit([Result(check=Check.RECORD_PARSE, outcome=Outcome.FAILED, reason=f"{source}: {reason}")])

    def add_block(self, block: Block) -> None:
        """Check a block (and the revisions it carries) and keep what the chain needs."""
        for rule in BLOCK_RULES:
            self._apply(rule, block, block.address, None, None)
        for rev in block.revisions:
            for rev_rule in REVISION_RULES:
                self._apply(rev_rule, rev, rev.address, rev.doc_id, rev.version)
        if self.ordered:
            self._add_ordered(block)
            return
        key = (block.address.strand_id, block.block_seq)
        strand_entries = self._entries.setdefault(block.address.strand_id, {})
        entry = strand_entries.get(block.block_seq)
        if entry is not None:
            self._dup_blocks += 1
            if entry.same_as(block):
                self._emit([_block_result(block, Check.DUPLICATES, Outcome.PASSED)])
            else:
                reason = "two different copies of this block (blockHash, hashes or revision summaries differ)"
                self._emit([_block_result(block, Check.DUPLICATES, Outcome.FAILED, reason)])
            for rev in block.revisions:
                self._match(entry, rev)
            return
        self._blocks += 1
        entry = _Entry(block)
        strand_entries[block.block_seq] = entry
        for rev in block.revisions:
            if self._match(entry, rev):
                self._revisions += 1
        for p in self._pending.pop(key, ()):
            if self._match_pending(entry, p):
                self._revisions += 1

    def _add_ordered(self, block: Block) -> None:
        strand = self._strands.setdefault(block.address.strand_id, _Strand())
        if strand.last is not None and block.block_seq <= strand.last.address.block_seq:
            self._dup_blocks += 1
            same = (
                block.block_seq == strand.last.address.block_seq
                and block.block_hash == strand.last.block_hash
            )
            if same:
                self._emit([_block_result(block, Check.DUPLICATES, Outcome.PASSED)])
            else:
                reason = f"comes after block {strand.last.address.block_seq} in an ordered export"
                self._emit([_block_result(block, Check.CHAIN, Outcome.FAILED, reason)])
            return
        self._blocks += 1
        self._revisions += len(block.revisions)
        carried = {r.revision_hash for r in block.revisions}
        for s in block.summaries:
            if s.doc_id is not None and s.revision_hash not in carried:
                reason = (
                    f"the block lists a revision of document {s.doc_id} ({b64(s.revision_hash)}) but lacks it"
                )
                self._emit(
                    [
                        Result(
                            check=Check.REVISION_IN_BLOCK,
                            outcome=Outcome.GAP,
                            block=block.address,
                            doc_id=s.doc_id,
                            reason=reason,
                        )
                    ]
                )
        self._feed_chain(strand, ChainLink(block.address, block.block_hash, block.previous_block_hash))

    def _feed_chain(self, strand: _Strand, link: ChainLink) -> None:
        self._emit(check_chain_link(strand.last, link))
        if strand.last is None:
            strand.first = link.address
            strand.from_zero = link.address.block_seq == 0
        elif link.address.block_seq != strand.last.address.block_seq + 1:
            strand.from_zero = False
        if strand.from_zero:
            strand.merkle.add(link.block_hash)
            seq = link.address.block_seq
            if seq in self._tips.get(link.address.strand_id, ()):
                strand.roots[seq] = strand.merkle.root()
        strand.last = link
        strand.blocks += 1

    def add_revision(self, rev: Revision) -> None:
        """Check a revision that arrived on its own (REVISION_DETAILS, get-revision)."""
        for rule in REVISION_RULES:
            self._apply(rule, rev, rev.address, rev.doc_id, rev.version)
        key = (rev.address.strand_id, rev.block_seq)
        entry = self._entries.get(rev.address.strand_id, {}).get(rev.block_seq)
        if entry is not None:
            if rev.tx_id != entry.tx_id:
                reason = f"metadata.txId {rev.tx_id} but block {rev.address}'s transactionId is {entry.tx_id}"
                self._emit([_rev_result(rev, Check.REVISION_IN_BLOCK, Outcome.FAILED, reason)])
            if self._match(entry, rev):
                self._revisions += 1
            return
        self._pending.setdefault(key, []).append(
            _Pending(rev.revision_hash, rev.doc_id, rev.version, rev.address)
        )

    def _match(self, entry: _Entry, rev: Revision) -> bool:
        """Match a revision to its block's summaries; True when it is a first copy."""
        return self._match_pending(entry, _Pending(rev.revision_hash, rev.doc_id, rev.version, rev.address))

    def _match_pending(self, entry: _Entry, p: _Pending) -> bool:
        def result(outcome: Outcome, reason: str = "") -> Result:
            return Result(
                check=Check.REVISION_IN_BLOCK,
                outcome=outcome,
                block=p.address,
                doc_id=p.doc_id,
                version=p.version,
                reason=reason,
            )

        i = entry.leaf_index(p.revision_hash)
        if i < 0:
            docs = entry.doc_ids()
            other = (
                " (the block lists another hash for this document: a conflicting copy)"
                if p.doc_id in docs
                else ""
            )
            self._emit(
                [
                    result(
                        Outcome.FAILED,
                        f"hash {b64(p.revision_hash)} is not among the block's revision summaries{other}",
                    )
                ]
            )
            return False
        doc = entry.doc_ids()[i]
        if doc and doc != p.doc_id:
            self._emit([result(Outcome.FAILED, f"the block lists this hash for document {doc}")])
            return False
        if entry.seen(i):
            self._dup_revisions += 1
            self._emit(
                [
                    Result(
                        check=Check.DUPLICATES,
                        outcome=Outcome.PASSED,
                        block=p.address,
                        doc_id=p.doc_id,
                        version=p.version,
                    )
                ]
            )
            return False
        entry.mark_seen(i)
        self._emit([result(Outcome.PASSED)])
        return True

    def finish(self) -> DatasetSummary:
        """Run the chain, completeness and digest checks; summarise the dataset."""
        if not self.ordered:
            for strand_id in sorted(self._entries):
                strand = self._strands.setdefault(strand_id, _Strand())
                entries = self._entries[strand_id]
                for seq in sorted(entries):
                    entry = entries[seq]
                    address = BlockAddress(strand_id, seq)
                    self._feed_chain(strand, ChainLink(address, entry.block_hash, entry.previous_block_hash))
                    self._report_unseen(address, entry)
            self._report_pending()
        for d in self._digests:
            self._emit([self._digest_result(d)])
        return self._summary()

    def _report_unseen(self, address: BlockAddress, entry: _Entry) -> None:
        if entry.all_seen():
            return
        for i, doc in enumerate(entry.doc_ids()):
            if doc and not entry.seen(i):
                reason = f"the block lists a revision of document {doc} that is not in the input"
                self._emit(
                    [
                        Result(
                            check=Check.REVISION_IN_BLOCK,
                            outcome=Outcome.GAP,
                            block=address,
                            doc_id=doc,
                            reason=reason,
                        )
                    ]
                )

    def _report_pending(self) -> None:
        strands = {strand for strand, entries in self._entries.items() if entries}
        for key in sorted(self._pending):
            first: dict[tuple[str, int], bytes] = {}
            for p in self._pending[key]:
                prev = first.get((p.doc_id, p.version))
                if prev is not None:
                    self._dup_revisions += 1
                    if prev == p.revision_hash:
                        self._emit([self._pending_result(p, Check.DUPLICATES, Outcome.PASSED)])
                    else:
                        reason = f"two copies with different hashes: {b64(prev)} and {b64(p.revision_hash)}"
                        self._emit([self._pending_result(p, Check.DUPLICATES, Outcome.FAILED, reason)])
                    continue
                first[(p.doc_id, p.version)] = p.revision_hash
                self._revisions += 1
                if p.address.strand_id in strands:
                    result = self._pending_result(
                        p, Check.REVISION_IN_BLOCK, Outcome.GAP, f"its block {p.address} is not in the input"
                    )
                else:
                    reason = "the input holds no blocks to check revisions against"
                    result = self._pending_result(p, Check.REVISION_IN_BLOCK, Outcome.NOT_CHECKABLE, reason)
                self._emit([result])

    @staticmethod
    def _pending_result(p: _Pending, check: Check, outcome: Outcome, reason: str = "") -> Result:
        return Result(
            check=check, outcome=outcome, block=p.address, doc_id=p.doc_id, version=p.version, reason=reason
        )

    def _digest_result(self, d: LedgerDigest) -> Result:
        strand = self._strands.get(d.tip.strand_id)
        if strand is None or strand.last is None or strand.first is None:
            return check_digest(None, d, coverage=f"{self.name} has no block of that strand")
        root = strand.roots.get(d.tip.block_seq)
        first, last = strand.first.block_seq, strand.last.address.block_seq
        if first != 0:
            why = f"it starts at block {first:,}"
        elif last < d.tip.block_seq:
            why = f"it ends at block {last:,}"
        else:
            why = "blocks are missing before the tip"
        return check_digest(root, d, coverage=f"{self.name} cannot give it: {why}")

    def _summary(self) -> DatasetSummary:
        first = last = None
        digest = None
        if self._strands:
            strand = max(self._strands.values(), key=lambda s: s.blocks)
            first, last = strand.first, None if strand.last is None else strand.last.address
            digest = strand.merkle.root() if strand.from_zero and strand.merkle.count else None
        return DatasetSummary(
            strands=len(self._strands),
            name=self.name,
            kind=self.kind,
            blocks=self._blocks,
            revisions=self._revisions,
            duplicate_blocks=self._dup_blocks,
            duplicate_revisions=self._dup_revisions,
            unreadable=self._unreadable,
            first_block=first,
            last_block=last,
            digest=digest,
        )


def _run(
    datasets: Iterable[tuple[str, str, bool, Iterable[Item]]],
    *,
    digests: Sequence[LedgerDigest],
    proofs: Sequence[Proof],
    ignored: Sequence[str],
    progress: ProgressReporter,
    max_findings: int,
) -> VerificationReport:
    log = _Log(max_findings)
    summaries = []
    order = 0
    for order, (name, kind, ordered, items) in enumerate(datasets):
        verifier = _DatasetVerifier(name, log=log, ordered=ordered, digests=digests, kind=kind, order=order)
        progress.start(f"verify {name}", total=None, unit="items")
        for item in items:
            if isinstance(item, Block):
                verifier.add_block(item)
            elif isinstance(item, Revision):
                verifier.add_revision(item)
            else:
                verifier.add_unreadable(item.source, item.reason)
            progress.advance()
        progress.finish()
        summaries.append(verifier.finish())
    for proof in proofs:
        log.add([check_proof_result(proof, digests)], proof.source, order + 1)
    return VerificationReport(
        checks=log.summaries(),
        datasets=tuple(summaries),
        findings=log.final_findings(),
        findings_total=log.total,
        ignored=tuple(ignored),
    )


def verify_items(
    items: Iterable[Item],
    *,
    ordered: bool = False,
    digests: Sequence[LedgerDigest] = (),
    proofs: Sequence[Proof] = (),
    name: str = "input",
    max_findings: int = 20,
    progress: ProgressReporter = NULL_PROGRESS,
) -> VerificationReport:
    """Verify blocks and revisions already parsed, as one dataset (tests, other tools).

    Args:
        items: blocks, revisions and unreadable records, in any order unless `ordered`.
        ordered: blocks come in sequence order, each once (an export): verified as they stream.
        digests: saved digests to compare with the recomputed one, and to check proofs against.
        proofs: proofs to check.
        name: names the dataset in findings.
        max_findings: how many findings the report lists.
        progress: receives one task for the dataset.
    """
    kind = "export" if ordered else "items"
    return _run(
        [(name, kind, ordered, items)],
        digests=digests,
        proofs=proofs,
        ignored=(),
        progress=progress,
        max_findings=max_findings,
    )


def verify_sources(
    sources: Sources,
    *,
    progress: ProgressReporter = NULL_PROGRESS,
    max_findings: int = 20,
) -> VerificationReport:
    """Verify loaded sources (`journal.sources.load_sources`): every dataset, digest and proof."""
    return _run(
        ((ds.name, ds.kind.value, ds.ordered, ds.iter_items()) for ds in sources.datasets),
        digests=sources.digests,
        proofs=sources.proofs,
        ignored=[str(p) for p in sources.ignored],
        progress=progress,
        max_findings=max_findings,
    )


def verify_paths(
    paths: Sequence[Path],
    *,
    progress: ProgressReporter = NULL_PROGRESS,
    max_findings: int = 20,
) -> VerificationReport:
    """Verify every journal input under `paths`: the one entry point of `qldb-archive verify`.

    Args:
        paths: files and folders (see docs/files.md); kinds are detected by shape.
        progress: receives one task per dataset.
        max_findings: how many findings the report lists (the rest are counted).

    Raises:
        JournalError: an input is unusable (missing, unreadable, of no known kind), or there is
            nothing to verify. A mismatch never raises: it is in the report.
    """
    return verify_sources(load_sources(paths), progress=progress, max_findings=max_findings)

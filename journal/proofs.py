"""Read saved digests and proofs (AWS CLI outputs, receipts) and check a proof against a digest.

`aws qldb get-digest` gives `Digest` (base64) and `DigestTipAddress.IonText`; `get-block` and
`get-revision` give `Block.IonText` or `Revision.IonText` and, when called with a digest tip,
`Proof.IonText`: an Ion list of hashes. A proof is valid when folding it onto its leaf with `dot`
gives the digest (https://docs.aws.amazon.com/qldb/latest/developerguide/verification.results.html).
Receipts (as the amazon-qldb-rest-api and amazon-qldb-kvs-nodejs samples save them) carry a
revision hash, its block address, a proof and, optionally, the digest it was made against.

A proof does not say which digest tip it was made against: check it against every saved digest
of the same strand, and say which one matched.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypedDict

from amazon.ion import simpleion
from amazon.ion.core import IonType

from journal.errors import ProofParseError
from journal.ion_values import FieldError, IonValue, ion_type, req_int, req_str
from journal.merkle import fold_proof
from journal.records import Block, BlockAddress, Revision, block_from_ion, revision_from_ion

__all__ = [
    "GetBlockOutput",
    "GetRevisionOutput",
    "LedgerDigest",
    "Proof",
    "ProofKind",
    "Receipt",
    "SavedOutput",
    "check_proof",
    "parse_get_block",
    "parse_get_digest",
    "parse_get_revision",
    "parse_receipt",
    "parse_saved_output",
    "read_digest_files",
]


class IonTextWire(TypedDict):
    """An Ion value as the AWS CLI prints it: `{"IonText": "..."}`."""

    IonText: str


class GetDigestWire(TypedDict):
    """`aws qldb get-digest` output."""

    Digest: str
    DigestTipAddress: IonTextWire


class ProofKind(StrEnum):
    """What a proof's leaf is: a block hash (get-block) or a revision hash (get-revision, receipts)."""

    BLOCK = "block"
    REVISION = "revision"


@dataclass(frozen=True, slots=True)
class LedgerDigest:
    """A saved journal digest: the Merkle root over the block hashes up to `tip`."""

    digest: bytes
    tip: BlockAddress
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Proof:
    """A leaf hash and the sibling hashes that fold it into a digest (innermost first)."""

    kind: ProofKind
    leaf: bytes
    hashes: tuple[bytes, ...]
    address: BlockAddress  # the block holding the leaf
    source: str
    doc_id: str | None = None  # revision proofs
    version: int | None = None
    digest: LedgerDigest | None = None  # saved with the proof (receipts)

    def root(self) -> bytes:
        """The digest this proof claims: `fold(dot, hashes, leaf)`."""
        return fold_proof(self.leaf, self.hashes)

    def __str__(self) -> str:
        who = f"block {self.address}" if self.kind is ProofKind.BLOCK else f"revision in block {self.address}"
        if self.doc_id is not None:
            who = f"document {self.doc_id}" + ("" if self.version is None else f" version {self.version}")
            who += f" (block {self.address})"
        return f"{self.kind.value} proof of {who} from {self.source}"


@dataclass(frozen=True, slots=True)
class GetBlockOutput:
    """`aws qldb get-block` output: the block, and its proof when a digest tip was given."""

    block: Block
    proof: Proof | None
    source: str


@dataclass(frozen=True, slots=True)
class GetRevisionOutput:
    """`aws qldb get-revision` output: the revision, and its proof when a digest tip was given."""

    revision: Revision
    proof: Proof | None
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """A saved verification receipt: a revision hash, its proof and the digest it was made against."""

    proof: Proof
    ledger_name: str | None
    table_name: str | None
    source: str


SavedOutput = LedgerDigest | GetBlockOutput | GetRevisionOutput | Receipt


def check_proof(proof: Proof, digest: LedgerDigest) -> bool:
    """Whether `proof` folds into `digest` (`fold(dot, proof, leaf) == digest`).

    A proof of another strand never checks.
    """
    return proof.address.strand_id == digest.tip.strand_id and proof.root() == digest.digest


def _json(data: bytes, *, source: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProofParseError(f"not JSON: {exc}", source=source) from None
    if not isinstance(obj, dict):
        raise ProofParseError("expected a JSON object", source=source)
    return obj


def _ion_text(obj: dict[str, Any], name: str, *, source: str) -> IonValue:
    wire = obj.get(name)
    text = wire.get("IonText") if isinstance(wire, dict) else None
    if not isinstance(text, str):
        raise ProofParseError(f"{name}.IonText is missing or not a string", source=source)
    try:
        return simpleion.loads(text)
    except Exception as exc:  # amazon-ion raises bare exceptions on bad text
        raise ProofParseError(
            f"{name}.IonText is not Ion ({type(exc).__name__}: {exc})", source=source
        ) from None


def _b64(obj: dict[str, Any], name: str, *, source: str) -> bytes:
    v = obj.get(name)
    if not isinstance(v, str):
        raise ProofParseError(f"{name} is missing or not a base64 string", source=source)
    try:
        return base64.b64decode(v, validate=True)
    except binascii.Error:
        raise ProofParseError(f"{name} is not base64", source=source) from None


def _address(value: IonValue, what: str, *, source: str) -> BlockAddress:
    try:
        if ion_type(value) is not IonType.STRUCT:
            raise FieldError("must be a struct")
        return BlockAddress(req_str(value, "strandId"), req_int(value, "sequenceNo"))
    except FieldError as exc:
        raise ProofParseError(f"{what}: {exc}", source=source) from None


def _hashes(obj: dict[str, Any], *, source: str) -> tuple[bytes, ...] | None:
    if obj.get("Proof") is None:
        return None
    value = _ion_text(obj, "Proof", source=source)
    if ion_type(value) is not IonType.LIST:
        raise ProofParseError("Proof.IonText must be an Ion list of hashes", source=source)
    out = []
    for i, h in enumerate(value):
        if ion_type(h) is not IonType.BLOB:
            raise ProofParseError(f"Proof.IonText[{i}] is not a blob", source=source)
        out.append(bytes(h))
    return tuple(out)


def _digest(obj: dict[str, Any], *, source: str) -> LedgerDigest:
    tip = _address(_ion_text(obj, "DigestTipAddress", source=source), "DigestTipAddress", source=source)
    return LedgerDigest(_b64(obj, "Digest", source=source), tip, source)


def parse_get_digest(data: bytes, *, source: str) -> LedgerDigest:
    r"""Parse `aws qldb get-digest` output.

    >>> d = parse_get_digest(b'{"Digest": "AAAA", "DigestTipAddress": '
    ...     b'{"IonText": "{strandId:\\"S\\",sequenceNo:7}"}}', source="d.json")
    >>> d.digest, str(d.tip)
    (b'\x00\x00\x00', 'S:7')

    Raises:
        ProofParseError: not this shape.
    """
    return _digest(_json(data, source=source), source=source)


def read_digest_files(paths: Sequence[Path]) -> list[LedgerDigest]:
    """Read saved `aws qldb get-digest` outputs.

    Raises:
        ProofParseError: a file cannot be read or is not a get-digest output (it names the file).
    """
    digests = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ProofParseError(f"{exc.strerror}; check the path", source=str(path)) from None
        digests.append(parse_get_digest(data, source=str(path)))
    return digests


def _get_block(obj: dict[str, Any], *, source: str) -> GetBlockOutput:
    value = _ion_text(obj, "Block", source=source)
    try:
        if ion_type(value) is not IonType.STRUCT:
            raise FieldError("must be a struct")
        block = block_from_ion(value, revisions_field="revisions")
    except FieldError as exc:
        raise ProofParseError(f"Block.IonText: {exc}", source=source) from None
    hashes = _hashes(obj, source=source)
    proof = None
    if hashes is not None:
        proof = Proof(
            kind=ProofKind.BLOCK, leaf=block.block_hash, hashes=hashes, address=block.address, source=source
        )
    return GetBlockOutput(block, proof, source)


def parse_get_block(data: bytes, *, source: str) -> GetBlockOutput:
    """Parse `aws qldb get-block` output (`Block.IonText`, optional `Proof.IonText`).

    Raises:
        ProofParseError: not this shape, or a malformed block.
    """
    return _get_block(_json(data, source=source), source=source)


def _get_revision(obj: dict[str, Any], *, source: str) -> GetRevisionOutput:
    value = _ion_text(obj, "Revision", source=source)
    try:
        if ion_type(value) is not IonType.STRUCT:
            raise FieldError("must be a struct")
        revision = revision_from_ion(value)
    except FieldError as exc:
        raise ProofParseError(f"Revision.IonText: {exc}", source=source) from None
    hashes = _hashes(obj, source=source)
    proof = None
    if hashes is not None:
        proof = Proof(
            kind=ProofKind.REVISION,
            leaf=revision.revision_hash,
            hashes=hashes,
            address=revision.address,
            source=source,
            doc_id=revision.doc_id,
            version=revision.version,
        )
    return GetRevisionOutput(revision, proof, source)


def parse_get_revision(data: bytes, *, source: str) -> GetRevisionOutput:
    """Parse `aws qldb get-revision` output (`Revision.IonText`, optional `Proof.IonText`).

    Raises:
        ProofParseError: not this shape, or a malformed revision.
    """
    return _get_revision(_json(data, source=source), source=source)


def _receipt(obj: dict[str, Any], *, source: str) -> Receipt:
    address = _address(_ion_text(obj, "BlockAddress", source=source), "BlockAddress", source=source)
    hashes = _hashes(obj, source=source)
    if hashes is None:
        raise ProofParseError("a receipt needs Proof.IonText", source=source)
    ledger = obj.get("LedgerDigest")
    digest = _digest(ledger, source=source) if isinstance(ledger, dict) else None
    doc_id = obj.get("DocumentId")
    proof = Proof(
        kind=ProofKind.REVISION,
        leaf=_b64(obj, "RevisionHash", source=source),
        hashes=hashes,
        address=address,
        source=source,
        doc_id=doc_id if isinstance(doc_id, str) else None,
        digest=digest,
    )
    name, table = obj.get("LedgerName"), obj.get("TableName")
    return Receipt(
        proof=proof,
        ledger_name=name if isinstance(name, str) else None,
        table_name=table if isinstance(table, str) else None,
        source=source,
    )


def parse_receipt(data: bytes, *, source: str) -> Receipt:
    """Parse a receipt: `RevisionHash`, `BlockAddress.IonText`, `Proof.IonText`, optional `LedgerDigest`.

    Raises:
        ProofParseError: not this shape.
    """
    return _receipt(_json(data, source=source), source=source)


def saved_output_kind(obj: Any) -> str | None:
    """Which saved output a parsed JSON document is ("get-digest", ...), or None.

    >>> saved_output_kind({"Digest": "x", "DigestTipAddress": {}}), saved_output_kind([])
    ('get-digest', None)
    """
    if not isinstance(obj, dict):
        return None
    if "Block" in obj:
        return "get-block"
    if "Revision" in obj:
        return "get-revision"
    if "RevisionHash" in obj and "Proof" in obj:
        return "receipt"
    if "Digest" in obj and "DigestTipAddress" in obj:
        return "get-digest"
    return None


def parse_saved_output(data: bytes, *, source: str) -> SavedOutput:
    """Parse any saved output this module knows, by its shape.

    Raises:
        ProofParseError: not JSON, of no known shape, or malformed.
    """
    obj = _json(data, source=source)
    kind = saved_output_kind(obj)
    if kind == "get-block":
        return _get_block(obj, source=source)
    if kind == "get-revision":
        return _get_revision(obj, source=source)
    if kind == "receipt":
        return _receipt(obj, source=source)
    if kind == "get-digest":
        return _digest(obj, source=source)
    raise ProofParseError(
        "expected get-digest (Digest), get-block (Block.IonText), get-revision (Revision.IonText) "
        "or a receipt (RevisionHash, Proof)",
        source=source,
    )

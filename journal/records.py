"""The journal model (blocks, revisions, stream records) and the QLDB stream record parser.

A Kinesis record from a QLDB stream holds one or more Ion values (binary or text), each
`{qldbStreamArn, recordType, payload}`. Journal export blocks (`journal.export`) parse into the
same `Block` and `Revision` classes. Every record keeps its parsed Ion: hashes depend on exact
Ion types (decimal precision, timestamp precision, symbol vs string), so verification always
hashes the original values, never a JSON or Python copy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

from amazon.ion import simpleion
from amazon.ion.core import IonType
from amazon.ion.simpleion import IonPyValueModel

from journal.errors import RecordParseError
from journal.ion_framing import ion_bytes_problem
from journal.ion_values import (
    FieldError,
    IonValue,
    blob_list,
    get_field,
    ion_type,
    opt_blob,
    opt_str,
    req_blob,
    req_int,
    req_list,
    req_str,
    req_struct,
    req_timestamp,
)

__all__ = [
    "Block",
    "BlockAddress",
    "BlockSummaryRecord",
    "ControlRecord",
    "RevisionDetailsRecord",
    "Revision",
    "RevisionKind",
    "RevisionSummary",
    "StreamRecord",
    "block_from_ion",
    "parse_stream_records",
    "revision_from_ion",
]


class RevisionKind(StrEnum):
    """What a revision holds: live data, nothing (the document was deleted), or only a data hash."""

    LIVE = "live"
    DELETED = "deleted"
    REDACTED = "redacted"


@dataclass(frozen=True, slots=True)
class BlockAddress:
    """Where a block sits in the journal; one strand per journal, so `block_seq` orders blocks."""

    strand_id: str
    block_seq: int

    def __str__(self) -> str:
        return f"{self.strand_id}:{self.block_seq}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Revision:
    """One document revision, as QLDB committed it.

    `ion` is the whole revision struct as parsed (blockAddress, hash, data or dataHash,
    metadata); `metadata` and `data` are the parsed sub-values the hash is computed from.
    """

    doc_id: str
    version: int
    address: BlockAddress
    tx_id: str
    tx_time: dt.datetime
    revision_hash: bytes
    data: IonValue | None  # None, and no data_hash: deleted
    data_hash: bytes | None  # set without data: redacted
    metadata: IonValue
    ion: IonValue
    table_name: str | None = None  # stream records say; export revisions get it from the block
    table_id: str | None = None
    ion_exact: bool = True  # False when parsed from a JSON down-conversion: Ion hashes not recomputable

    @property
    def block_seq(self) -> int:
        """Sequence number of the block that committed this revision."""
        return self.address.block_seq

    @property
    def kind(self) -> RevisionKind:
        """Live, deleted or redacted."""
        if self.data is not None:
            return RevisionKind.LIVE
        return RevisionKind.REDACTED if self.data_hash is not None else RevisionKind.DELETED

    def __str__(self) -> str:
        return f"document {self.doc_id} version {self.version} (block {self.address})"


@dataclass(frozen=True, slots=True)
class RevisionSummary:
    """A leaf of a block's revisions tree; without `doc_id` it is a hash-only system revision."""

    revision_hash: bytes
    doc_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """A journal block, from a stream BLOCK_SUMMARY or from a journal export.

    `summaries` are the revision leaves in journal order (user and system revisions);
    `revisions` are the full revisions where the source carries them (exports do, stream
    block summaries do not: their revisions arrive as separate REVISION_DETAILS records).
    """

    address: BlockAddress
    tx_id: str
    timestamp: dt.datetime
    block_hash: bytes
    entries_hash: bytes
    previous_block_hash: bytes
    entries_hash_list: tuple[bytes, ...]
    transaction_info: IonValue | None
    redaction_info: IonValue | None
    summaries: tuple[RevisionSummary, ...]
    revisions: tuple[Revision, ...]
    ion: IonValue
    ion_exact: bool = True  # False when parsed from a JSON export: Ion hashes not recomputable

    @property
    def block_seq(self) -> int:
        """Sequence number of this block."""
        return self.address.block_seq

    def document_tables(self) -> dict[str, tuple[str, str]]:
        """doc_id -> (table name, table id), from `transactionInfo.documents`."""
        return {} if self.transaction_info is None else _tables(self.transaction_info)


@dataclass(frozen=True, slots=True)
class ControlRecord:
    """CONTROL: a stream started (CREATED) or finished (COMPLETED)."""

    stream_arn: str
    control_type: str
    ion: IonValue
    record_type: Literal["CONTROL"] = "CONTROL"


@dataclass(frozen=True, slots=True)
class BlockSummaryRecord:
    """BLOCK_SUMMARY: one committed block, with its revision summaries."""

    stream_arn: str
    block: Block
    ion: IonValue
    record_type: Literal["BLOCK_SUMMARY"] = "BLOCK_SUMMARY"


@dataclass(frozen=True, slots=True)
class RevisionDetailsRecord:
    """REVISION_DETAILS: one revision of a user document, with its table."""

    stream_arn: str
    revision: Revision
    ion: IonValue
    record_type: Literal["REVISION_DETAILS"] = "REVISION_DETAILS"


StreamRecord = ControlRecord | BlockSummaryRecord | RevisionDetailsRecord


def _address(struct: IonValue) -> BlockAddress:
    addr = req_struct(struct, "blockAddress")
    return BlockAddress(req_str(addr, "strandId"), req_int(addr, "sequenceNo"))


def revision_from_ion(
    rev: IonValue, *, table_name: str | None = None, table_id: str | None = None, ion_exact: bool = True
) -> Revision:
    """Build a `Revision` from a parsed revision struct (stream or export).

    `ion_exact=False` marks a revision rebuilt from JSON (a JSON journal export): its Ion types
    were lost, so its hash cannot be recomputed.

    Raises:
        FieldError: a required field is missing or mistyped.
    """
    md = req_struct(rev, "metadata")
    data = get_field(rev, "data")
    return Revision(
        doc_id=req_str(md, "id"),
        version=req_int(md, "version"),
        address=_address(rev),
        tx_id=req_str(md, "txId"),
        tx_time=req_timestamp(md, "txTime"),
        revision_hash=req_blob(rev, "hash"),
        data=data,
        data_hash=None if data is not None else opt_blob(rev, "dataHash"),
        metadata=md,
        ion=rev,
        table_name=table_name,
        table_id=table_id,
        ion_exact=ion_exact,
    )


def block_from_ion(
    block: IonValue, *, revisions_field: Literal["revisionSummaries", "revisions"], ion_exact: bool = True
) -> Block:
    """Build a `Block` from a BLOCK_SUMMARY payload or an export block.

    `ion_exact=False` marks a block (and its revisions) rebuilt from a JSON journal export.

    Raises:
        FieldError: a required field is missing or mistyped.
    """
    address = _address(block)
    summaries: list[RevisionSummary] = []
    revisions: list[Revision] = []
    tx_info = get_field(block, "transactionInfo")
    tables: dict[str, tuple[str, str]] = {}
    raw = get_field(block, revisions_field)
    items = [] if raw is None else raw if type(raw) is list else req_list(block, revisions_field)
    if revisions_field == "revisions" and tx_info is not None:
        tables = _tables(tx_info)
    for i, item in enumerate(items):
        try:
            if revisions_field == "revisions" and get_field(item, "metadata") is not None:
                md = req_struct(item, "metadata")
                name, tid = tables.get(req_str(md, "id"), (None, None))
                r = revision_from_ion(item, table_name=name, table_id=tid, ion_exact=ion_exact)
                revisions.append(r)
                summaries.append(RevisionSummary(r.revision_hash, r.doc_id))
            else:
                summaries.append(RevisionSummary(req_blob(item, "hash"), opt_str(item, "documentId")))
        except FieldError as exc:
            raise FieldError(f"{revisions_field}[{i}]: {exc}") from None
    return Block(
        address=address,
        tx_id=req_str(block, "transactionId"),
        timestamp=req_timestamp(block, "blockTimestamp"),
        block_hash=req_blob(block, "blockHash"),
        entries_hash=req_blob(block, "entriesHash"),
        previous_block_hash=opt_blob(block, "previousBlockHash") or b"",
        entries_hash_list=blob_list(block, "entriesHashList") if get_field(block, "entriesHashList") else (),
        transaction_info=tx_info,
        redaction_info=get_field(block, "redactionInfo"),
        summaries=tuple(summaries),
        revisions=tuple(revisions),
        ion=block,
        ion_exact=ion_exact,
    )


def _tables(tx_info: IonValue) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    docs = get_field(tx_info, "documents")
    if docs is not None:
        for doc_id, info in docs.items():
            name, tid = get_field(info, "tableName"), get_field(info, "tableId")
            if name is not None and tid is not None:
                out[str(doc_id)] = (str(name), str(tid))
    return out


def _record_from_ion(value: IonValue) -> StreamRecord:
    t = ion_type(value)
    if t is not IonType.STRUCT:
        raise FieldError(f"a stream record is a struct, not {t.name.lower()}")
    arn = req_str(value, "qldbStreamArn")
    rtype = req_str(value, "recordType")
    payload = req_struct(value, "payload")
    if rtype == "REVISION_DETAILS":
        info = req_struct(payload, "tableInfo")
        rev = revision_from_ion(
            req_struct(payload, "revision"),
            table_name=req_str(info, "tableName"),
            table_id=req_str(info, "tableId"),
        )
        return RevisionDetailsRecord(arn, rev, value)
    if rtype == "BLOCK_SUMMARY":
        return BlockSummaryRecord(arn, block_from_ion(payload, revisions_field="revisionSummaries"), value)
    if rtype == "CONTROL":
        return ControlRecord(arn, req_str(payload, "controlRecordType"), value)
    raise FieldError(f"unknown recordType {rtype!r}")


def iter_stream_records(data: bytes, *, source: str, bare: bool = False) -> Iterator[StreamRecord]:
    """Parse every Ion value of one Kinesis record (Ion binary or text) into stream records.

    The bytes are checked first (`journal.ion_framing.ion_bytes_problem`): amazon-ion's C reader
    can loop forever on some malformed binary and crash on non-UTF-8 text, and archives hold
    whatever was written to them.

    Args:
        data: the record's bytes.
        source: names the record in errors.
        bare: parse with amazon-ion's ``MAY_BE_BARE`` value model. The records' Ion values
            (`ion`, `data`, `metadata`...) then hold plain Python values where that loses no Ion
            type (see `journal.ion_values`): they dump back to the same Ion, but code that reads
            ``.ion_type`` or ``.ion_annotations`` on every value cannot take them. The archive
            transform, which only projects and dumps them, parses 2.5 times faster this way.

    Raises:
        RecordParseError: the bytes are not Ion, or a value is not a QLDB stream record.
            The error names `source` and the index of the value at fault.
    """
    problem = ion_bytes_problem(data)
    if problem is not None:  # never hand the C reader bytes it could loop on or crash with
        raise RecordParseError(f"not Ion: {problem}", source=source)
    try:
        values = simpleion.loads(data, single_value=False, value_model=_BARE if bare else _ION_PY)
    except Exception as exc:  # amazon-ion raises bare IonException/ValueError/... on bad bytes
        raise RecordParseError(f"not Ion ({type(exc).__name__}: {exc})", source=source) from None
    if not values:
        raise RecordParseError("no Ion value in record", source=source)
    for i, value in enumerate(values):
        try:
            yield _record_from_ion(value)
        except (FieldError, AttributeError, TypeError) as exc:
            raise RecordParseError(str(exc), source=source, offset=i) from None


_ION_PY: Final = IonPyValueModel.ION_PY
_BARE: Final = IonPyValueModel.MAY_BE_BARE


def parse_stream_records(data: bytes, *, source: str, bare: bool = False) -> list[StreamRecord]:
    """Parse one Kinesis record's bytes into its stream records (see `iter_stream_records`)."""
    return list(iter_stream_records(data, source=source, bare=bare))

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
from decimal import Decimal
from enum import StrEnum
from typing import Final, Literal

from amazon.ion import simpleion
from amazon.ion.core import IonType, Timestamp
from amazon.ion.simple_types import IonPyNull
from amazon.ion.simpleion import IonPyValueModel
from amazon.ion.symbols import SymbolToken

from journal.errors import RecordParseError
from journal.ion_framing import ion_bytes_problem
from journal.ion_values import FieldError, IonValue, get_field, ion_type

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


# Field access for both value models ---------------------------------------------------------
#
# `simpleion.loads` builds `IonPy*` objects by default. With `IonPyValueModel.MAY_BE_BARE` it
# returns plain Python values wherever that loses nothing: an unannotated string is a `str`, a
# symbol a `SymbolToken`, a blob `bytes`, an int `int`, a timestamp a `Timestamp`, a list a `list`,
# an untyped null `None`. Structs, sexps, clobs, typed nulls and annotated values stay `IonPy*`, so
# the value still says its exact Ion type and dumps back to the same Ion. The accessors below read
# either model and raise the same `FieldError`s as `journal.ion_values` for the same input.

_BARE_TYPES: Final[dict[type, IonType]] = {
    type(None): IonType.NULL,
    bool: IonType.BOOL,
    int: IonType.INT,
    float: IonType.FLOAT,
    Decimal: IonType.DECIMAL,
    Timestamp: IonType.TIMESTAMP,
    dt.datetime: IonType.TIMESTAMP,
    str: IonType.STRING,
    SymbolToken: IonType.SYMBOL,
    bytes: IonType.BLOB,
    list: IonType.LIST,
}


def _field(struct: IonValue, name: str) -> IonValue | None:
    """`journal.ion_values.get_field` inlined for IonPyDict (a call less: 30 fields a record)."""
    try:
        fields = struct._IonPyDict__store.get(name)
    except AttributeError:
        return get_field(struct, name)
    v = fields[-1] if fields else None
    return None if v is None or isinstance(v, IonPyNull) else v


def _type_of(value: IonValue) -> IonType:
    """The Ion type of a parsed value, bare (MAY_BE_BARE) or `IonPy*`."""
    t = _BARE_TYPES.get(type(value))
    return ion_type(value) if t is None else t


def _as_str(v: IonValue, name: str) -> str:
    if type(v) is str:  # bare: the common case first
        return v
    t = _type_of(v)
    if t is IonType.STRING:
        return str(v)
    if t is IonType.SYMBOL:
        return str(v.text)
    raise FieldError(f"field {name!r} must be a string, not {t.name.lower()}")


def _req_str(struct: IonValue, name: str) -> str:
    v = _field(struct, name)
    if v is None:
        raise FieldError(f"field {name!r} is missing")
    return _as_str(v, name)


def _opt_str(struct: IonValue, name: str) -> str | None:
    v = _field(struct, name)
    return None if v is None else _as_str(v, name)


def _req_struct(struct: IonValue, name: str) -> IonValue:
    v = _field(struct, name)  # structs are never bare: always an IonPyDict
    if v is None or getattr(v, "ion_type", None) is not IonType.STRUCT:
        raise FieldError(f"field {name!r} must be a struct")
    return v


def _req_int(struct: IonValue, name: str) -> int:
    v = _field(struct, name)
    if type(v) is int:
        return v
    if v is None or getattr(v, "ion_type", None) is not IonType.INT:
        raise FieldError(f"field {name!r} must be an int")
    return int(v)


def _as_blob(v: IonValue, name: str) -> bytes:
    if type(v) is bytes:
        return v
    if getattr(v, "ion_type", None) is not IonType.BLOB:
        raise FieldError(f"field {name!r} must be a blob")
    return bytes(v)


def _req_blob(struct: IonValue, name: str) -> bytes:
    v = _field(struct, name)
    if v is None:
        raise FieldError(f"field {name!r} must be a blob")
    return _as_blob(v, name)


def _opt_blob(struct: IonValue, name: str) -> bytes | None:
    v = _field(struct, name)
    return None if v is None else _as_blob(v, name)


def _req_timestamp(struct: IonValue, name: str) -> dt.datetime:
    v = _field(struct, name)
    if v is None or _BARE_TYPES.get(type(v), getattr(v, "ion_type", None)) is not IonType.TIMESTAMP:
        raise FieldError(f"field {name!r} must be a timestamp")
    return v  # type: ignore[no-any-return]


def _req_list(struct: IonValue, name: str) -> list[IonValue]:
    v = _field(struct, name)
    if type(v) is list:
        return v
    if v is None or getattr(v, "ion_type", None) is not IonType.LIST:
        raise FieldError(f"field {name!r} must be a list")
    return list(v)


def _blob_list(struct: IonValue, name: str) -> tuple[bytes, ...]:
    items = _req_list(struct, name)
    for i, h in enumerate(items):
        if type(h) is not bytes and getattr(h, "ion_type", None) is not IonType.BLOB:
            raise FieldError(f"{name}[{i}] must be a blob")
    return tuple(bytes(h) for h in items)


def _address(struct: IonValue) -> BlockAddress:
    addr = _req_struct(struct, "blockAddress")
    return BlockAddress(_req_str(addr, "strandId"), _req_int(addr, "sequenceNo"))


def revision_from_ion(
    rev: IonValue, *, table_name: str | None = None, table_id: str | None = None, ion_exact: bool = True
) -> Revision:
    """Build a `Revision` from a parsed revision struct (stream or export).

    `ion_exact=False` marks a revision rebuilt from JSON (a JSON journal export): its Ion types
    were lost, so its hash cannot be recomputed.

    Raises:
        FieldError: a required field is missing or mistyped.
    """
    md = _req_struct(rev, "metadata")
    data = _field(rev, "data")
    return Revision(
        doc_id=_req_str(md, "id"),
        version=_req_int(md, "version"),
        address=_address(rev),
        tx_id=_req_str(md, "txId"),
        tx_time=_req_timestamp(md, "txTime"),
        revision_hash=_req_blob(rev, "hash"),
        data=data,
        data_hash=None if data is not None else _opt_blob(rev, "dataHash"),
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
    tx_info = _field(block, "transactionInfo")
    tables: dict[str, tuple[str, str]] = {}
    raw = _field(block, "revisions" if revisions_field == "revisions" else "revisionSummaries")
    items = [] if raw is None else _req_list(block, revisions_field)
    if revisions_field == "revisions" and tx_info is not None:
        tables = _tables(tx_info)
    for i, item in enumerate(items):
        try:
            if revisions_field == "revisions" and _field(item, "metadata") is not None:
                md = _req_struct(item, "metadata")
                name, tid = tables.get(_req_str(md, "id"), (None, None))
                r = revision_from_ion(item, table_name=name, table_id=tid, ion_exact=ion_exact)
                revisions.append(r)
                summaries.append(RevisionSummary(r.revision_hash, r.doc_id))
            else:
                summaries.append(RevisionSummary(_req_blob(item, "hash"), _opt_str(item, "documentId")))
        except FieldError as exc:
            raise FieldError(f"{revisions_field}[{i}]: {exc}") from None
    return Block(
        address=address,
        tx_id=_req_str(block, "transactionId"),
        timestamp=_req_timestamp(block, "blockTimestamp"),
        block_hash=_req_blob(block, "blockHash"),
        entries_hash=_req_blob(block, "entriesHash"),
        previous_block_hash=_opt_blob(block, "previousBlockHash") or b"",
        entries_hash_list=_blob_list(block, "entriesHashList") if _field(block, "entriesHashList") else (),
        transaction_info=tx_info,
        redaction_info=_field(block, "redactionInfo"),
        summaries=tuple(summaries),
        revisions=tuple(revisions),
        ion=block,
        ion_exact=ion_exact,
    )


def _tables(tx_info: IonValue) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    docs = _field(tx_info, "documents")
    if docs is not None:
        for doc_id, info in docs.items():
            name, tid = _field(info, "tableName"), _field(info, "tableId")
            if name is not None and tid is not None:
                out[str(doc_id)] = (str(name), str(tid))
    return out


def _record_from_ion(value: IonValue) -> StreamRecord:
    t = _type_of(value)
    if t is not IonType.STRUCT:
        raise FieldError(f"a stream record is a struct, not {t.name.lower()}")
    arn = _req_str(value, "qldbStreamArn")
    rtype = _req_str(value, "recordType")
    payload = _req_struct(value, "payload")
    if rtype == "REVISION_DETAILS":
        info = _req_struct(payload, "tableInfo")
        rev = revision_from_ion(
            _req_struct(payload, "revision"),
            table_name=_req_str(info, "tableName"),
            table_id=_req_str(info, "tableId"),
        )
        return RevisionDetailsRecord(arn, rev, value)
    if rtype == "BLOCK_SUMMARY":
        return BlockSummaryRecord(arn, block_from_ion(payload, revisions_field="revisionSummaries"), value)
    if rtype == "CONTROL":
        return ControlRecord(arn, _req_str(payload, "controlRecordType"), value)
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
            type (see the accessors above): they dump back to the same Ion, but code that reads
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

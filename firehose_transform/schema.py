"""The archive schema: every column of the Parquet archive, declared once, and what derives from it.

One union row for all record types. A Firehose delivery stream's record format conversion reads
ONE Glue table schema, so every row the transformation Lambda emits must fit that one schema,
whatever its QLDB record type. Dynamic partitioning then files REVISION_DETAILS, BLOCK_SUMMARY and
CONTROL rows under different prefixes (`p_record_type=...`, see `PARTITION_KEYS`), and the Athena
table or view for each record type selects its subset of the columns (`columns_for`). A column
that does not apply to a record type is null in its rows (`Column.record_types` says which types
fill it); Parquet stores such all-null runs in a few bytes.

Derived from `COLUMNS`, never retyped elsewhere:

- `arrow_schema()`: the pyarrow schema (Parquet types). pyarrow is imported inside the function,
  so the Lambda handler, which imports this module, never loads pyarrow.
- `glue_types()`: column -> Glue/Hive type string, for the Glue table that Firehose's format
  conversion reads and for the Athena DDL.
- `ArchiveRow` and `build_row()`: the JSON object the Lambda emits per stream record. It has
  exactly the schema's fields (an absent value is an explicit null) with JSON-safe values,
  because Firehose silently drops fields the Glue table does not name and fails a record whose
  value does not fit its column.
- `ndjson_to_arrow()`: the local twin of Firehose's conversion (JSON lines -> Arrow table, read
  against `arrow_schema()`, an unknown field is an error).

Value encodings, and why:

- Timestamps (`tx_time`, `block_timestamp`, arrival times) are JSON strings in UTC with exactly
  millisecond precision: ``2019-12-11T07:20:51.245Z``. That is the ``yyyy-MM-dd'T'HH:mm:ss[.S]'Z'``
  form Firehose's OpenX JSON SerDe parses into a Glue ``timestamp`` without any configured
  `TimestampFormats` (https://docs.aws.amazon.com/firehose/latest/dev/record-format-conversion.html);
  the Hive JSON SerDe would need ``TimestampFormats: ["yyyy-MM-dd'T'HH:mm:ss.SSSZZ"]`` (hence:
  configure the OpenX SerDe). QLDB writes these times with millisecond precision in UTC, and Parquet
  stores them as UTC-adjusted instants (``timestamp[ms, tz=UTC]`` here; Firehose's Hive writer uses
  INT96), which Athena reads as a UTC ``timestamp``. The exact Ion timestamps, with their precision
  and offset, stay in the lossless Ion text columns (`revision_ion`, `transaction_info_ion`).
  Epoch millis would also parse (with the Hive SerDe's ``millis`` format) but are unreadable in the
  raw JSON and in the error prefix.
- Hashes and other blobs are standard base64 strings (padding kept), as QLDB's own JSON shows them.
- `entries_hash_list` is an ``array<string>``; the nested block parts (statements, the
  document-to-table map, the revision summaries) are JSON text projected with the rules of
  `firehose_transform.normalise` (query them with Athena's ``json_extract``), next to the lossless
  Ion text of the hashed values (`transaction_info_ion`, `redaction_info_ion`).
- Column names avoid Hive and Trino reserved words (``table``, ``date``, ``timestamp``), are
  lowercase (the OpenX SerDe lowercases JSON keys by default) and never equal a partition key name:
  a Hive table may not declare a name both as a column and as a partition key.

Lossless: a REVISION_DETAILS record is rebuilt exactly from `qldb_stream_arn`, `table_name`,
`table_id` and `revision_ion`; a BLOCK_SUMMARY from its hash columns (base64 is exact), the block
address, `tx_id`, `block_timestamp` (QLDB writes milliseconds in UTC), `revision_summaries_json`
(hashes and ids only) and the Ion text of `transactionInfo` and `redactionInfo`; a CONTROL from
`qldb_stream_arn` and `control_type`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Final, TypedDict

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "PARTITION_KEYS",
    "SCHEMA_VERSION",
    "ArchiveRow",
    "Column",
    "Kind",
    "PartitionKey",
    "PartitionKeys",
    "RecordType",
    "arrow_schema",
    "build_row",
    "column",
    "columns_for",
    "empty_row",
    "glue_types",
    "ndjson_to_arrow",
    "partition_value",
]

SCHEMA_VERSION: Final = 1
"""Written in every row (`schema_version`); bumped when a column changes meaning or type."""


class RecordType(StrEnum):
    """The QLDB stream record types, spelled as QLDB writes them in `recordType`."""

    CONTROL = "CONTROL"
    BLOCK_SUMMARY = "BLOCK_SUMMARY"
    REVISION_DETAILS = "REVISION_DETAILS"


class Kind(StrEnum):
    """Logical column types; each maps to one Glue type and one Arrow type."""

    STRING = "string"
    INT32 = "int"
    INT64 = "bigint"
    BOOLEAN = "boolean"
    TIMESTAMP = "timestamp"
    STRING_ARRAY = "array<string>"

    @property
    def glue_type(self) -> str:
        """The Glue/Hive type string (the enum value)."""
        return self.value


ALL: Final = frozenset(RecordType)
RD: Final = frozenset({RecordType.REVISION_DETAILS})
BS: Final = frozenset({RecordType.BLOCK_SUMMARY})
CTL: Final = frozenset({RecordType.CONTROL})
IN_BLOCK: Final = RD | BS


@dataclass(frozen=True, slots=True)
class Column:
    """One archive column.

    Attributes:
        name: snake_case, lowercase; the JSON key, Parquet column and Glue column name.
        kind: its logical type (`Kind`).
        doc: what it holds; becomes the Glue column comment.
        record_types: the record types whose rows fill it; it is null in every other row.
    """

    name: str
    kind: Kind
    doc: str
    record_types: frozenset[RecordType]


COLUMNS: Final[tuple[Column, ...]] = (
    # Identity of the row.
    Column("schema_version", Kind.INT32, "Archive schema version of this row (SCHEMA_VERSION).", ALL),
    Column("record_type", Kind.STRING, "QLDB recordType: REVISION_DETAILS, BLOCK_SUMMARY or CONTROL.", ALL),
    Column("ledger", Kind.STRING, "Ledger name, from the QLDB stream ARN.", ALL),
    Column("qldb_stream_arn", Kind.STRING, "qldbStreamArn of the stream record.", ALL),
    # Where in the journal.
    Column("strand_id", Kind.STRING, "blockAddress.strandId (one strand per journal).", IN_BLOCK),
    Column("block_seq", Kind.INT64, "blockAddress.sequenceNo: total order of blocks.", IN_BLOCK),
    Column("tx_id", Kind.STRING, "Transaction id (metadata.txId, or the block's transactionId).", IN_BLOCK),
    Column("tx_time", Kind.TIMESTAMP, "metadata.txTime, UTC, milliseconds.", RD),
    Column("block_timestamp", Kind.TIMESTAMP, "blockTimestamp, UTC, milliseconds.", BS),
    # REVISION_DETAILS.
    Column("table_name", Kind.STRING, "tableInfo.tableName (case-sensitive, as in QLDB).", RD),
    Column("table_id", Kind.STRING, "tableInfo.tableId.", RD),
    Column("doc_id", Kind.STRING, "Document id (metadata.id).", RD),
    Column("version", Kind.INT64, "Document version (metadata.version), from 0.", RD),
    Column("revision_hash", Kind.STRING, "revision.hash, base64.", RD),
    Column("data_hash", Kind.STRING, "revision.dataHash, base64: set only on redacted revisions.", RD),
    Column("is_deleted", Kind.BOOLEAN, "True when the revision has neither data nor dataHash.", RD),
    Column("is_redacted", Kind.BOOLEAN, "True when the revision has a dataHash but no data.", RD),
    Column("data_json", Kind.STRING, "JSON projection of revision.data (docs/ion-json-projection.md).", RD),
    Column("revision_ion", Kind.STRING, "Lossless Ion text of the revision struct (hashes recompute).", RD),
    # BLOCK_SUMMARY.
    Column("block_hash", Kind.STRING, "blockHash, base64.", BS),
    Column("entries_hash", Kind.STRING, "entriesHash, base64.", BS),
    Column("previous_block_hash", Kind.STRING, "previousBlockHash, base64 (empty string when absent).", BS),
    Column("entries_hash_list", Kind.STRING_ARRAY, "entriesHashList, base64 each, in order.", BS),
    Column("statements_json", Kind.STRING, "JSON projection of transactionInfo.statements.", BS),
    Column("documents_json", Kind.STRING, "JSON projection of transactionInfo.documents (doc -> table).", BS),
    Column("revision_summaries_json", Kind.STRING, "JSON projection of revisionSummaries, in order.", BS),
    Column("transaction_info_ion", Kind.STRING, "Lossless Ion text of transactionInfo.", BS),
    Column("redaction_info_ion", Kind.STRING, "Lossless Ion text of redactionInfo.", BS),
    # CONTROL.
    Column("control_type", Kind.STRING, "payload.controlRecordType: CREATED or COMPLETED.", CTL),
    # Where the row came from.
    Column("record_index", Kind.INT32, "Position of this stream record in its Firehose record, from 0.", ALL),
    Column("firehose_record_id", Kind.STRING, "Firehose recordId of the input record.", ALL),
    Column("firehose_arrival_time", Kind.TIMESTAMP, "Firehose approximateArrivalTimestamp, UTC.", ALL),
    Column("kinesis_stream_arn", Kind.STRING, "Source Kinesis stream ARN (null for direct PUT).", ALL),
    Column("kinesis_shard_id", Kind.STRING, "Kinesis shardId.", ALL),
    Column("kinesis_partition_key", Kind.STRING, "Kinesis (or KPL user record) partition key.", ALL),
    Column("kinesis_sequence_number", Kind.STRING, "Kinesis sequenceNumber (a decimal string).", ALL),
    Column("kinesis_subsequence_number", Kind.INT64, "Kinesis subsequenceNumber (KPL user record).", ALL),
    Column("kinesis_arrival_time", Kind.TIMESTAMP, "Kinesis approximateArrivalTimestamp, UTC.", ALL),
)
"""The archive's columns, in Parquet/Glue order."""

COLUMN_NAMES: Final[tuple[str, ...]] = tuple(c.name for c in COLUMNS)
_BY_NAME: Final[dict[str, Column]] = {c.name: c for c in COLUMNS}


class ArchiveRow(TypedDict):
    """The JSON row the Lambda emits: the static twin of `COLUMNS` (a test checks they agree)."""

    schema_version: int
    record_type: str
    ledger: str
    qldb_stream_arn: str
    strand_id: str | None
    block_seq: int | None
    tx_id: str | None
    tx_time: str | None
    block_timestamp: str | None
    table_name: str | None
    table_id: str | None
    doc_id: str | None
    version: int | None
    revision_hash: str | None
    data_hash: str | None
    is_deleted: bool | None
    is_redacted: bool | None
    data_json: str | None
    revision_ion: str | None
    block_hash: str | None
    entries_hash: str | None
    previous_block_hash: str | None
    entries_hash_list: list[str] | None
    statements_json: str | None
    documents_json: str | None
    revision_summaries_json: str | None
    transaction_info_ion: str | None
    redaction_info_ion: str | None
    control_type: str | None
    record_index: int
    firehose_record_id: str | None
    firehose_arrival_time: str | None
    kinesis_stream_arn: str | None
    kinesis_shard_id: str | None
    kinesis_partition_key: str | None
    kinesis_sequence_number: str | None
    kinesis_subsequence_number: int | None
    kinesis_arrival_time: str | None


_NULL_ROW: Final[dict[str, object]] = dict.fromkeys(COLUMN_NAMES)
_COLUMN_SET: Final = frozenset(COLUMN_NAMES)


def build_row(values: Mapping[str, object]) -> ArchiveRow:
    """Make a complete row: every column present, in schema order, absent ones null.

    Raises:
        KeyError: `values` names a field that is not a column (a bug: Firehose would drop it).

    >>> row = build_row({"record_type": "CONTROL", "control_type": "CREATED"})
    >>> list(row) == list(COLUMN_NAMES), row["control_type"], row["doc_id"]
    (True, 'CREATED', None)
    """
    unknown = values.keys() - _COLUMN_SET
    if unknown:
        raise KeyError(f"not archive columns: {sorted(unknown)}")
    row = dict(_NULL_ROW)
    row.update(values)
    return row  # type: ignore[return-value]


_EMPTY_ROW: Final[dict[str, object]] = {**_NULL_ROW, "schema_version": SCHEMA_VERSION}


def empty_row() -> ArchiveRow:
    """A row with every column null but `schema_version`, for a builder to fill in."""
    return _EMPTY_ROW.copy()  # type: ignore[return-value]


def column(name: str) -> Column:
    """The column called `name` (KeyError when there is none)."""
    return _BY_NAME[name]


def columns_for(record_type: RecordType) -> tuple[Column, ...]:
    """The columns an Athena table or view of one record type selects, in schema order.

    >>> [c.name for c in columns_for(RecordType.CONTROL)][:5]
    ['schema_version', 'record_type', 'ledger', 'qldb_stream_arn', 'control_type']
    """
    return tuple(c for c in COLUMNS if record_type in c.record_types)


def glue_types() -> dict[str, str]:
    """Column name -> Glue/Hive type string, in schema order.

    >>> glue_types()["block_seq"], glue_types()["tx_time"], glue_types()["entries_hash_list"]
    ('bigint', 'timestamp', 'array<string>')
    """
    return {c.name: c.kind.glue_type for c in COLUMNS}


def _arrow_type(kind: Kind) -> pa.DataType:
    import pyarrow as pa

    return {
        Kind.STRING: pa.string(),
        Kind.INT32: pa.int32(),
        Kind.INT64: pa.int64(),
        Kind.BOOLEAN: pa.bool_(),
        Kind.TIMESTAMP: pa.timestamp("ms", tz="UTC"),
        Kind.STRING_ARRAY: pa.list_(pa.string()),
    }[kind]


def arrow_schema() -> pa.Schema:
    """The archive's Arrow schema (every field nullable; the doc in the field metadata).

    pyarrow is imported here, not at module level: the Lambda handler imports this module.
    """
    import pyarrow as pa

    return pa.schema(
        [pa.field(c.name, _arrow_type(c.kind), nullable=True, metadata={"doc": c.doc}) for c in COLUMNS],
        metadata={"qldb_archive_schema_version": str(SCHEMA_VERSION)},
    )


def ndjson_to_arrow(data: bytes) -> pa.Table:
    """Read the Lambda's output (JSON lines) against `arrow_schema()`, as Firehose converts it.

    Raises:
        pyarrow.ArrowInvalid: a field is not a column, or a value does not fit its column.
    """
    import io

    import pyarrow.json as pj

    options = pj.ParseOptions(explicit_schema=arrow_schema(), unexpected_field_behavior="error")
    return pj.read_json(io.BytesIO(data), parse_options=options)


# Partitioning ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartitionKey:
    """A dynamic partitioning key the Lambda returns in `metadata.partitionKeys`.

    Attributes:
        name: the key in `partitionKeys`, and the Hive partition column name in the S3 layout
            (``<name>=<value>/``); never equal to a column name.
        doc: what its value is.
    """

    name: str
    doc: str


PARTITION_KEYS: Final[tuple[PartitionKey, ...]] = (
    PartitionKey("p_ledger", "Ledger name (from qldbStreamArn), sanitised by partition_value()."),
    PartitionKey("p_record_type", "record_type in lower case: revision_details, block_summary, control."),
    PartitionKey("p_table", "Table name, sanitised; _block for block summaries, _control for controls."),
    PartitionKey("p_date", "UTC date (yyyy-mm-dd) of tx_time or block_timestamp; arrival for controls."),
)
"""Partition keys, outermost first: ``p_ledger=/p_record_type=/p_table=/p_date=``."""


class PartitionKeys(TypedDict):
    """The `metadata.partitionKeys` of one Ok result (the static twin of `PARTITION_KEYS`)."""

    p_ledger: str
    p_record_type: str
    p_table: str
    p_date: str


BLOCK_TABLE: Final = "_block"
"""`p_table` of block summaries."""
CONTROL_TABLE: Final = "_control"
"""`p_table` of control records."""
MIXED: Final = "_mixed"
"""A key whose value differs between the rows of one Firehose record (see normalise.py)."""
UNDATED: Final = "_undated"
"""`p_date` of a control record with no arrival time."""
EMPTY: Final = "_empty"
"""The partition value of an empty name."""

MAX_PARTITION_VALUE: Final = 160
"""Longest sanitised value kept whole; QLDB names (at most 128 characters) always fit."""

_SAFE: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


@lru_cache(maxsize=4096)
def partition_value(text: str) -> str:
    """Sanitise a user-supplied name (ledger, table) for use as a partition value.

    Rules: ASCII letters, digits, ``_`` and ``-`` are kept; every other character is
    percent-encoded as its UTF-8 bytes (``%2F``), as Hive escapes partition paths, so distinct
    names stay distinct and ``urllib.parse.unquote`` gives the name back. A leading ``_`` is
    encoded too (``%5F``): values beginning with ``_`` are reserved for the sentinels
    (``_block``, ``_control``, ``_mixed``, ``_undated``, ``_empty``). A value longer than
    `MAX_PARTITION_VALUE` is cut and suffixed with ``~`` and 16 hex digits of the name's SHA-256
    (``~`` is otherwise always encoded). Case is kept: QLDB names are case-sensitive, and so are
    S3 keys.

    >>> partition_value("VehicleRegistration"), partition_value("a/b=c"), partition_value("_x")
    ('VehicleRegistration', 'a%2Fb%3Dc', '%5Fx')
    >>> partition_value(""), partition_value("Größe")
    ('_empty', 'Gr%C3%B6%C3%9Fe')
    """
    if not text:
        return EMPTY
    if text[0] != "_" and all(ch in _SAFE for ch in text) and len(text) <= MAX_PARTITION_VALUE:
        return text
    parts = []
    for i, ch in enumerate(text):
        if ch in _SAFE and not (i == 0 and ch == "_"):
            parts.append(ch)
        else:
            parts.append("".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass")))
    out = "".join(parts)
    if len(out) <= MAX_PARTITION_VALUE:
        return out
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    keep, size = [], 0
    for part in parts:
        if size + len(part) > MAX_PARTITION_VALUE - 17:
            break
        keep.append(part)
        size += len(part)
    return "".join(keep) + "~" + digest

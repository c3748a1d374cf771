"""The normaliser: one Firehose record's bytes -> archive rows, their JSON lines and partition keys.

Pure: no AWS, no environment, no logging. `normalise_payload` de-aggregates a KPL record (Firehose
does this itself for Kinesis sources, not for direct PUT or backfills), checks the framing of
Ion binary before the C reader sees it (`ion_framing`: some malformed Ion makes amazon-ion's C
extension loop forever), parses every QLDB stream record, builds one `ArchiveRow` per stream
record (`firehose_transform.schema`), serialises them as JSON lines, and computes the record's
dynamic partition keys.

Records are parsed into bare values (`IonPyValueModel.MAY_BE_BARE`, where that loses no Ion
type), 2.5x faster than `IonPy*` objects. The lossless Ion text columns are written by
`firehose_transform.ion_text`: amazon-ion's C writer's text, at about half its cost; a
revision's Ion text and its `data_json`, and a block's `transactionInfo` text and its
statements and documents JSON, each come from one walk of the value (`ion_text_and_json`).

Ion -> JSON projection (`ion_to_json`; also docs/ion-json-projection.md)
------------------------------------------------------------------------
`data_json` and the other ``*_json`` columns are a projection for queries, not the archive of
record: the lossless Ion text (`revision_ion`, `transaction_info_ion`, ...) sits next to them and
is what hashes are recomputed from. The projection is I-JSON (RFC 7493): every value means the
same thing to every JSON reader (JavaScript, Trino/Athena, DuckDB, PostgreSQL), and one Ion type
always gives the same JSON type.

==========================  ===============================================================
Ion                         JSON
==========================  ===============================================================
null, every typed null      ``null`` (``null.int``, ``null.struct``... are all ``null``)
bool                        ``true`` / ``false``
int, abs(n) <= 2^53 - 1     number (``42``)
int beyond 2^53 - 1         string of its decimal digits (``"9007199254740993"``): a double
                            cannot hold it, and JavaScript readers would round it
float                       number, shortest round-trip form (``1.5``, ``1e+300``);
                            ``nan``, ``+inf``, ``-inf`` become the strings ``"nan"``,
                            ``"+inf"``, ``"-inf"`` (JSON has no such numbers)
decimal                     string of the exact decimal, precision kept: ``90.25`` ->
                            ``"90.25"``, ``9.0`` -> ``"9.0"``, ``1.50`` -> ``"1.50"``,
                            ``-0.0`` -> ``"-0.0"``, ``1.2d30`` -> ``"1.2E+30"`` (Python's
                            ``str(Decimal)``, which ``Decimal()``, Java's ``BigDecimal`` and
                            Trino's ``CAST(... AS DECIMAL(p, s))`` read back exactly). Not a
                            number: readers parse JSON numbers as doubles, which lose digits
                            and the trailing zeros (``9.0`` vs ``9``) that Ion keeps
timestamp                   ISO 8601 string with the Ion precision and offset kept:
                            ``2007T`` -> ``"2007"``, ``2007-02T`` -> ``"2007-02"``,
                            ``1963-08-19T`` -> ``"1963-08-19"``, ``2019-12-11T07:20Z`` ->
                            ``"2019-12-11T07:20Z"``, fractional seconds with exactly their
                            digits (``.245``, ``.2450``, ``.1234567``); offset ``Z``,
                            ``+01:00``, or ``-00:00`` (Ion's unknown local offset: the time
                            is UTC). Not normalised to UTC: that would invent precision
string                      string
symbol                      string of its text; a symbol without text (``$0``) is ``null``
blob, clob                  base64 string (standard alphabet, padded)
list, sexp                  array (a sexp is indistinguishable from a list in JSON)
struct                      object; a repeated field name keeps its last value (as JSON
                            parsers do); a field name without text is ``"$0"``
annotations                 dropped (kept in the Ion text)
==========================  ===============================================================

In Athena: ``CAST(json_extract_scalar(data_json, '$.Fees') AS DECIMAL(10, 2))``,
``from_iso8601_timestamp(json_extract_scalar(data_json, '$.ValidToDate'))`` (for full
timestamps), ``json_extract_scalar(data_json, '$.Owners.PrimaryOwner.PersonId')``.

Partition keys of one Firehose record
-------------------------------------
Firehose applies ONE `metadata.partitionKeys` to each output record, but one input record can
hold several stream records (a KPL aggregate given by direct PUT or a backfill; a Kinesis record
with several Ion values), possibly of different types, tables or dates. Firehose cannot split a
record, and failing it would send good data to the error prefix forever. So each key takes the
value its rows agree on, and the sentinel ``_mixed`` when they differ (for example
``p_record_type=_mixed/p_table=_mixed``). Rows always carry their own `record_type`,
`table_name`, `tx_time`...: readers of one record type read its own prefix plus the ``_mixed``
ones and filter on the columns (a `p_*` value is only ever a pruning hint). With a Kinesis source
this does not happen in practice: Firehose de-aggregates KPL records first, and every QLDB user
record seen holds one stream record; the handler logs how many records were mixed.

Partition values: `p_ledger` and `p_table` are sanitised with `schema.partition_value`
(percent-encoding of anything outside ``[A-Za-z0-9_-]``); `p_record_type` is the lower-case
record type; `p_date` is the UTC date of `tx_time` (revisions) or `block_timestamp` (block
summaries), and of the Kinesis (else Firehose) arrival for CONTROL records, which carry no time.
"""

from __future__ import annotations

import binascii
import datetime as dt
import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, Final, NamedTuple, TypedDict

import orjson
from amazon.ion.core import IonType, Timestamp
from amazon.ion.simple_types import (
    IonPyBool,
    IonPyBytes,
    IonPyDecimal,
    IonPyDict,
    IonPyFloat,
    IonPyInt,
    IonPyList,
    IonPyNull,
    IonPyStdDict,
    IonPySymbol,
    IonPyText,
    IonPyTimestamp,
)
from amazon.ion.symbols import SymbolToken

from firehose_transform.errors import TransformError
from firehose_transform.ion_text import (
    MAX_SAFE_INT,
    ion_text_and_json,
    ion_to_ion_text,
    timestamp_to_ion_text,
)
from firehose_transform.json_float import JsonFloat
from firehose_transform.schema import (
    BLOCK_TABLE,
    CONTROL_TABLE,
    MIXED,
    UNDATED,
    ArchiveRow,
    PartitionKeys,
    RecordType,
    empty_row,
    partition_value,
)
from journal.ion_values import IonValue, get_field
from journal.kpl import deaggregate, is_aggregated
from journal.records import (
    BlockSummaryRecord,
    RevisionDetailsRecord,
    RevisionKind,
    StreamRecord,
    parse_stream_records,
)

__all__ = [
    "MAX_SAFE_INT",
    "JsonFloat",
    "JsonValue",
    "KinesisRecordMetadata",
    "NormalisedRecord",
    "ion_to_ion_text",
    "ion_to_json",
    "ion_to_json_text",
    "ledger_from_arn",
    "millis_to_iso",
    "normalise_payload",
    "rows_to_json_lines",
    "timestamp_to_iso",
    "timestamp_to_utc_iso",
    "to_json_text",
]

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]
"""A JSON-safe Python value (what `json.dumps(..., allow_nan=False)` accepts)."""


class KinesisRecordMetadata(TypedDict, total=False):
    """`kinesisRecordMetadata` of a Firehose record from a Kinesis source (absent for direct PUT)."""

    shardId: str
    partitionKey: str
    approximateArrivalTimestamp: int  # epoch milliseconds
    sequenceNumber: str
    subsequenceNumber: int


# Ion -> JSON projection ---------------------------------------------------------------------

_UTC: Final = dt.UTC
_STRUCT_STORE: Final = "_IonPyDict__store"  # IonPyDict's {name: [values]}: read directly for speed


def timestamp_to_iso(ts: dt.datetime) -> str:
    """An Ion timestamp as ISO 8601 text with its precision and offset (the projection rule).

    Its Ion text, but for the ``T`` that Ion writes after a year or a month alone.

    >>> from amazon.ion import simpleion
    >>> texts = ("2007T", "1963-08-19T", "2019-12-11T07:20:51.20-02:30")
    >>> [timestamp_to_iso(simpleion.loads(t)) for t in texts]
    ['2007', '1963-08-19', '2019-12-11T07:20:51.20-02:30']
    """
    text = timestamp_to_ion_text(ts)
    return text[:-1] if text[-1] == "T" else text


def timestamp_to_utc_iso(ts: dt.datetime) -> str:
    """A timestamp as the archive's timestamp columns hold it: UTC, exactly milliseconds, ``Z``.

    An unknown offset (naive datetime, Ion ``-00:00``) is UTC, as Ion defines it; finer
    precision than milliseconds is cut (QLDB writes milliseconds; the Ion text keeps all digits).

    >>> from amazon.ion import simpleion
    >>> timestamp_to_utc_iso(simpleion.loads("2019-12-11T08:20:51.2459+01:00"))
    '2019-12-11T07:20:51.245Z'
    """
    tz = ts.tzinfo
    u = ts if tz is None or tz is _UTC else ts.astimezone(_UTC)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031 - 2x `isoformat` (cut to ms)
        u.year,
        u.month,
        u.day,
        u.hour,
        u.minute,
        u.second,
        u.microsecond // 1000,
    )


def millis_to_iso(ms: int) -> str:
    """Epoch milliseconds (a Firehose or Kinesis arrival time) as a UTC timestamp column value.

    >>> millis_to_iso(1576048851261)
    '2019-12-11T07:20:51.261Z'
    """
    seconds, millis = divmod(int(ms), 1000)
    text = _UTC_SECONDS.get(seconds)
    if text is None:
        text = _utc_seconds(seconds)
    return f"{text}.{millis:03d}Z"


_UTC_SECONDS: dict[int, str] = {}  # arrival times of one batch share their seconds: a dict, not lru_cache


def _utc_seconds(seconds: int) -> str:
    t = time.gmtime(seconds)
    text = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    if len(_UTC_SECONDS) >= 4096:
        _UTC_SECONDS.clear()
    _UTC_SECONDS[seconds] = text
    return text


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")  # `base64.b64encode`, one call less


def _p_null(v: Any) -> JsonValue:
    return None


def _p_bool(v: Any) -> JsonValue:
    return bool(v)


def _p_int(v: Any) -> JsonValue:
    return v if -MAX_SAFE_INT <= v <= MAX_SAFE_INT else str(int(v))


def _p_float(v: Any) -> JsonValue:
    if math.isfinite(v):
        return JsonFloat(v)
    return "nan" if math.isnan(v) else ("+inf" if v > 0 else "-inf")


def _p_decimal(v: Any) -> JsonValue:
    return str(Decimal(v))


def _p_timestamp(v: Any) -> JsonValue:
    return timestamp_to_iso(v)


def _p_text(v: Any) -> JsonValue:
    return str(v)


def _p_str(v: Any) -> JsonValue:
    return v  # type: ignore[no-any-return]


def _p_symbol(v: Any) -> JsonValue:
    text = v.text
    return None if text is None else str(text)


def _p_bytes(v: Any) -> JsonValue:
    return _b64(bytes(v))


def _p_list(v: Any) -> JsonValue:
    out: list[JsonValue] = []
    append = out.append
    for x in v:
        t = type(x)
        if t is str or t is IonPyText:  # the common cases, inlined (a string is JSON-safe as it is)
            append(x)
        elif t is IonPyDict:
            append(_p_struct(x))
        else:
            append(ion_to_json(x))
    return out


def _key(name: Any) -> str:
    if type(name) is str:
        return name
    text = getattr(name, "text", name)
    return "$0" if text is None else str(text)


def _p_struct(v: Any) -> JsonValue:
    out: dict[str, JsonValue] = {}
    store = getattr(v, _STRUCT_STORE, None)
    if store is None:
        for k, x in v.items():
            out[_key(k)] = ion_to_json(x)
        return out
    for k, values in store.items():  # last value of a repeated name, like the JSON parsers
        if not values:
            continue
        x = values[-1]
        t = type(x)
        key = k if type(k) is str else _key(k)
        if t is str or t is IonPyText or ((t is int or t is IonPyInt) and -MAX_SAFE_INT <= x <= MAX_SAFE_INT):
            out[key] = x  # the common cases, inlined
        elif t is bytes:
            out[key] = _b64(x)
        else:
            out[key] = ion_to_json(x)
    return out


_BY_CLASS: Final[dict[type, Callable[[Any], JsonValue]]] = {
    IonPyNull: _p_null,
    IonPyBool: _p_bool,
    IonPyInt: _p_int,
    IonPyFloat: _p_float,
    IonPyDecimal: _p_decimal,
    IonPyTimestamp: _p_timestamp,
    IonPyText: _p_text,
    IonPySymbol: _p_symbol,
    IonPyBytes: _p_bytes,
    IonPyList: _p_list,
    IonPyDict: _p_struct,
    IonPyStdDict: _p_struct,
    # Bare values (`simpleion.loads(..., value_model=IonPyValueModel.MAY_BE_BARE)`, as the
    # normaliser parses): exact types, so a `bool` never reads as an `int`.
    type(None): _p_null,
    bool: _p_bool,
    int: _p_int,
    float: _p_float,
    Decimal: _p_decimal,
    Timestamp: _p_timestamp,
    str: _p_str,
    SymbolToken: _p_symbol,
    bytes: _p_bytes,
    list: _p_list,
}
_BY_ION_TYPE: Final[dict[IonType, Callable[[Any], JsonValue]]] = {
    IonType.NULL: _p_null,
    IonType.BOOL: _p_bool,
    IonType.INT: _p_int,
    IonType.FLOAT: _p_float,
    IonType.DECIMAL: _p_decimal,
    IonType.TIMESTAMP: _p_timestamp,
    IonType.STRING: _p_text,
    IonType.SYMBOL: _p_symbol,
    IonType.BLOB: _p_bytes,
    IonType.CLOB: _p_bytes,
    IonType.LIST: _p_list,
    IonType.SEXP: _p_list,
    IonType.STRUCT: _p_struct,
}
_BY_PYTHON_TYPE: Final[tuple[tuple[type | tuple[type, ...], Callable[[Any], JsonValue]], ...]] = (
    (bool, _p_bool),
    (int, _p_int),
    (float, _p_float),
    (Decimal, _p_decimal),
    (dt.datetime, _p_timestamp),
    (str, _p_text),
    ((bytes, bytearray), _p_bytes),
    ((list, tuple), _p_list),
    (dict, _p_struct),
)


def ion_to_json(value: IonValue) -> JsonValue:
    """Project a parsed Ion value to JSON-safe Python values (rules in the module docstring).

    Accepts amazon-ion's `IonPy*` values and plain Python values alike.

    >>> from amazon.ion import simpleion
    >>> ion_to_json(simpleion.loads("a::{n: 90.25, z: 9.0, d: 1963-08-19T, b: {{aGk=}}, s: a, x: null.int}"))
    {'n': '90.25', 'z': '9.0', 'd': '1963-08-19', 'b': 'aGk=', 's': 'a', 'x': None}
    """
    project = _BY_CLASS.get(type(value))
    if project is None:
        if value is None:
            return None
        ion_type = getattr(value, "ion_type", None)
        project = _BY_ION_TYPE.get(ion_type) if isinstance(ion_type, IonType) else None
        if project is None:
            project = next((p for t, p in _BY_PYTHON_TYPE if isinstance(value, t)), None)
        if project is None:
            raise TypeError(f"not an Ion value: {type(value).__name__}")
    return project(value)


def _reject(value: object) -> object:
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


_C_ENCODER: Final = (
    None
    if c_make_encoder is None
    else c_make_encoder(None, _reject, encode_basestring, None, ":", ",", False, False, False)
)


def to_json_text(value: object) -> str:
    """Compact JSON text (UTF-8 characters kept, no NaN): `json.dumps` with a prebuilt C encoder.

    `json.dumps` with non-default options builds a new encoder on every call, which costs as much
    as encoding a whole row; the archive writes millions of rows.

    >>> to_json_text({"a": [1, "é", None]})
    '{"a":[1,"é",null]}'
    """
    if _C_ENCODER is None:  # pragma: no cover - CPython always has the _json accelerator
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return "".join(_C_ENCODER(value, 0))


def rows_to_json_lines(rows: Iterable[ArchiveRow]) -> bytes:
    r"""Rows as UTF-8 JSON lines, each ending in a newline: byte for byte `to_json_text` of each row.

    Serialised with orjson, five times faster than the standard encoder on rows, whose two long
    Ion and JSON text columns are full of quotes to escape (10 us a row against 2 us, DMV
    revisions). orjson writes the same compact JSON for what a row holds (str, int, bool, None,
    lists of str; a test compares every code point), and rows hold no float, where the two
    differ (``1e-05`` against ``1e-5``). What orjson refuses (an int beyond 64 bits, a lone
    surrogate) goes through `to_json_text`, so the result and the errors are the same.

    >>> rows_to_json_lines([{"a": [1, "é", None]}, {"b": True}])
    b'{"a":[1,"\xc3\xa9",null]}\n{"b":true}\n'
    """
    lines = []
    for row in rows:
        try:
            lines.append(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
        except TypeError:  # orjson.JSONEncodeError: let the standard encoder decide
            lines.append(to_json_text(row).encode("utf-8") + b"\n")
    return lines[0] if len(lines) == 1 else b"".join(lines)


def ion_to_json_text(value: IonValue) -> str:
    """`ion_to_json`, serialised compactly (UTF-8 text, no NaN, no spaces): `to_json_text` of it.

    Serialised with orjson, which writes the same text for everything a projection holds but
    floats (a test compares them): a float is a `JsonFloat`, which orjson refuses, and so are
    values beyond it (a lone surrogate); those go to `to_json_text`, whose text is the rule.

    >>> from amazon.ion import simpleion
    >>> ion_to_json_text(simpleion.loads("{a: 1, b: [nan, 1.5e0, 1e-5]}"))
    '{"a":1,"b":["nan",1.5,1e-05]}'
    """
    projected = ion_to_json(value)
    try:
        return orjson.dumps(projected).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError: a float, or what orjson cannot write
        return to_json_text(projected)


# Rows -----------------------------------------------------------------------------------------

_RECORD_TYPE_PARTITION: Final = {t.value: t.value.lower() for t in RecordType}
_ARN: Final = re.compile(r"arn:aws[a-z-]*:qldb:[^:]*:[^:]*:stream/([^/]+)/[^/]+")


@lru_cache(maxsize=64)
def ledger_from_arn(arn: str) -> str | None:
    """The ledger name in a QLDB stream ARN, or None when `arn` is not one.

    >>> ledger_from_arn("arn:aws:qldb:us-east-1:466800022684:stream/vehicle-registration/17CR7ArZ1AMHgHO")
    'vehicle-registration'
    """
    m = _ARN.fullmatch(arn)
    return m.group(1) if m else None


@dataclass(frozen=True, slots=True)
class NormalisedRecord:
    """What one Firehose record becomes: its rows, as JSON lines, and its partition keys.

    Attributes:
        record_id: the Firehose recordId.
        rows: one archive row per stream record, in input order.
        data: the rows as JSON lines (UTF-8, each line ending in a newline): the Ok result's data.
        partition_keys: the record's dynamic partition keys (``_mixed`` where rows disagree).
    """

    record_id: str
    rows: tuple[ArchiveRow, ...]
    data: bytes
    partition_keys: PartitionKeys

    @property
    def data_b64(self) -> str:
        """`data`, base64-encoded, as a Firehose result carries it."""
        return _b64(self.data)

    @property
    def mixed(self) -> bool:
        """Whether some partition key is ``_mixed`` (rows of several partitions in one record)."""
        return MIXED in self.partition_keys.values()

    def counts(self) -> Counter[str]:
        """Rows per record type."""
        return Counter(row["record_type"] for row in self.rows)


class _Source(NamedTuple):
    """Row fields that come from the Firehose record rather than from its stream records.

    Immutable like the frozen dataclasses elsewhere, but a NamedTuple: one is built per record,
    and a frozen dataclass's `__init__` (one `object.__setattr__` per field) costs 1.5 us more.
    """

    record_id: str
    firehose_arrival_time: str | None
    kinesis_stream_arn: str | None
    kinesis_shard_id: str | None
    kinesis_partition_key: str | None
    kinesis_sequence_number: str | None
    kinesis_subsequence_number: int | None
    kinesis_arrival_time: str | None

    @property
    def arrival_date(self) -> str | None:
        """UTC date of the Kinesis arrival, else of the Firehose arrival (for CONTROL records)."""
        arrival = self.kinesis_arrival_time or self.firehose_arrival_time
        return None if arrival is None else arrival[:10]


def _opt_str(md: KinesisRecordMetadata, name: str) -> str | None:
    v = md.get(name)
    return None if v is None else str(v)


def _opt_int(md: KinesisRecordMetadata, name: str) -> int | None:
    v = md.get(name)
    if v is None or type(v) is int:
        return v
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise ValueError(f"kinesisRecordMetadata.{name} is not a number")
    return int(v)


def _source(
    record_id: str, stream_arn: str | None, md: KinesisRecordMetadata, arrival_ms: int | None
) -> _Source:
    kinesis_ms = _opt_int(md, "approximateArrivalTimestamp")
    return _Source(  # positional: a third cheaper than by keyword, once per record
        record_id,
        None if arrival_ms is None else millis_to_iso(int(arrival_ms)),  # firehose_arrival_time
        stream_arn,  # kinesis_stream_arn
        _opt_str(md, "shardId"),
        _opt_str(md, "partitionKey"),
        _opt_str(md, "sequenceNumber"),
        _opt_int(md, "subsequenceNumber"),
        None if kinesis_ms is None else millis_to_iso(kinesis_ms),  # kinesis_arrival_time
    )


def _opt_json(struct: IonValue | None, name: str) -> str | None:
    v = None if struct is None else get_field(struct, name)
    return None if v is None else ion_to_json_text(v)


_DATA: Final = frozenset({"data"})
_TX_INFO_JSON: Final = frozenset({"statements", "documents"})


def _opt_ion(value: IonValue | None) -> str | None:
    return None if value is None else ion_to_ion_text(value)


def _row(rec: StreamRecord, ledger: str, src: _Source, index: int) -> tuple[ArchiveRow, str, str]:
    """One stream record's row, its `p_table` and its `p_date` ("" when it has no time)."""
    row = empty_row()
    row["record_type"] = rec.record_type
    row["ledger"] = ledger
    row["qldb_stream_arn"] = rec.stream_arn
    row["record_index"] = index
    row["firehose_record_id"] = src.record_id
    row["firehose_arrival_time"] = src.firehose_arrival_time
    row["kinesis_stream_arn"] = src.kinesis_stream_arn
    row["kinesis_shard_id"] = src.kinesis_shard_id
    row["kinesis_partition_key"] = src.kinesis_partition_key
    row["kinesis_sequence_number"] = src.kinesis_sequence_number
    row["kinesis_subsequence_number"] = src.kinesis_subsequence_number
    row["kinesis_arrival_time"] = src.kinesis_arrival_time
    if isinstance(rec, RevisionDetailsRecord):
        rev = rec.revision
        kind = rev.kind
        row["strand_id"] = rev.address.strand_id
        row["block_seq"] = rev.address.block_seq
        row["tx_id"] = rev.tx_id
        row["tx_time"] = tx_time = timestamp_to_utc_iso(rev.tx_time)
        row["table_name"] = rev.table_name
        row["table_id"] = rev.table_id
        row["doc_id"] = rev.doc_id
        row["version"] = rev.version
        row["revision_hash"] = _b64(rev.revision_hash)
        row["data_hash"] = None if rev.data_hash is None else _b64(rev.data_hash)
        row["is_deleted"] = kind is RevisionKind.DELETED
        row["is_redacted"] = kind is RevisionKind.REDACTED
        row["revision_ion"], texts = ion_text_and_json(rev.ion, _DATA, ion_to_json_text)
        row["data_json"] = texts.get("data")
        return row, partition_value(rev.table_name or ""), tx_time[:10]
    if isinstance(rec, BlockSummaryRecord):
        block = rec.block
        tx_info = block.transaction_info
        row["strand_id"] = block.address.strand_id
        row["block_seq"] = block.address.block_seq
        row["tx_id"] = block.tx_id
        row["block_timestamp"] = timestamp = timestamp_to_utc_iso(block.timestamp)
        row["block_hash"] = _b64(block.block_hash)
        row["entries_hash"] = _b64(block.entries_hash)
        row["previous_block_hash"] = _b64(block.previous_block_hash)
        row["entries_hash_list"] = [_b64(h) for h in block.entries_hash_list]
        if tx_info is not None:
            row["transaction_info_ion"], texts = ion_text_and_json(tx_info, _TX_INFO_JSON, ion_to_json_text)
            row["statements_json"] = texts.get("statements")
            row["documents_json"] = texts.get("documents")
        row["revision_summaries_json"] = _opt_json(get_field(rec.ion, "payload"), "revisionSummaries")
        row["redaction_info_ion"] = _opt_ion(block.redaction_info)
        return row, BLOCK_TABLE, timestamp[:10]
    row["control_type"] = rec.control_type
    return row, CONTROL_TABLE, ""


def _agree(values: Iterable[str]) -> str:
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else MIXED


def normalise_payload(
    data: bytes,
    *,
    record_id: str,
    stream_arn: str | None,
    kinesis_metadata: KinesisRecordMetadata | None,
    arrival_ms: int | None = None,
) -> NormalisedRecord:
    """Turn one Firehose record's bytes into archive rows, JSON lines and partition keys.

    Args:
        data: the record's bytes (base64-decoded): Ion binary or text, one or more stream
            records, or a KPL aggregate of them.
        record_id: the Firehose recordId; names the record in errors and in every row.
        stream_arn: the source Kinesis stream ARN (`sourceKinesisStreamArn`), None for direct PUT.
        kinesis_metadata: the record's `kinesisRecordMetadata`, None for direct PUT.
        arrival_ms: the Firehose `approximateArrivalTimestamp` (epoch milliseconds).

    Returns:
        One row per stream record (several for an aggregate), all for this one recordId.

    Raises:
        AggregationError: a corrupt KPL aggregate.
        RecordParseError: bytes that are not Ion (malformed Ion binary framing included), or Ion
            that is not a QLDB stream record.
        TransformError: empty data, a stream ARN that is not a QLDB one, or a value that cannot
            be projected (nesting too deep, a time out of range, bad Kinesis metadata).
    """
    if not data:
        raise TransformError("empty record: no bytes to parse", record_id=record_id)
    md: KinesisRecordMetadata = kinesis_metadata or {}
    try:
        source = _source(record_id, stream_arn, md, arrival_ms)
        where = f"Firehose record {record_id}"
        if is_aggregated(data):
            users = [
                (  # de-aggregated here: each user record has its own key and position
                    user.data,
                    f"{where}, KPL user record #{u}",
                    source._replace(
                        kinesis_partition_key=user.partition_key or None,
                        kinesis_subsequence_number=u
                        if source.kinesis_subsequence_number is None
                        else source.kinesis_subsequence_number,
                    ),
                )
                for u, user in enumerate(deaggregate(data, source=where))
            ]
        else:
            users = [(data, where, source)]
        rows: list[ArchiveRow] = []
        parts: list[tuple[str, str, str, str]] = []
        for user_data, user_where, src in users:
            for rec in parse_stream_records(user_data, source=user_where, bare=True):
                ledger = ledger_from_arn(rec.stream_arn)
                if ledger is None:
                    raise TransformError(
                        f"qldbStreamArn of stream record #{len(rows)} is not a QLDB stream ARN",
                        record_id=record_id,
                    )
                row, table, date = _row(rec, ledger, src, len(rows))
                rows.append(row)
                parts.append(
                    (
                        partition_value(ledger),
                        _RECORD_TYPE_PARTITION[rec.record_type],
                        table,
                        date or source.arrival_date or UNDATED,
                    )
                )
        out = rows_to_json_lines(rows)
    except RecursionError:
        raise TransformError("an Ion value is nested too deeply to project", record_id=record_id) from None
    except (ValueError, OverflowError, TypeError) as exc:  # times out of range, bad metadata
        raise TransformError(f"{type(exc).__name__}: {str(exc)[:200]}", record_id=record_id) from None
    if len(parts) == 1:
        ledger_p, type_p, table_p, date_p = parts[0]
    else:
        ledger_p, type_p, table_p, date_p = (_agree(p[i] for p in parts) for i in range(4))
    keys = PartitionKeys(p_ledger=ledger_p, p_record_type=type_p, p_table=table_p, p_date=date_p)
    return NormalisedRecord(record_id, tuple(rows), out, keys)

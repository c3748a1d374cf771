"""KPL record aggregation: split an aggregated Kinesis record into user records, and build one.

QLDB streams aggregate by default (`KinesisConfiguration.AggregationEnabled`), so a Kinesis
record may hold many QLDB stream records. The format (see the KPL's `aggregation-format.md`,
https://github.com/awslabs/amazon-kinesis-producer/blob/master/aggregation-format.md) is::

    F3 89 9A C2                      magic
    AggregatedRecord (protobuf 2)    {1: repeated string partition_key_table,
                                      2: repeated string explicit_hash_key_table,
                                      3: repeated Record records}
    MD5 of the protobuf bytes        16 bytes

    Record {1: required uint64 partition_key_index, 2: optional uint64 explicit_hash_key_index,
            3: required bytes data, 4: repeated Tag tags}
    Tag {1: required string key, 2: optional string value}

Why a hand-written protobuf reader and writer rather than `protobuf` or `aws-kinesis-agg`: the
format needs varints and length-delimited fields only, and the Lambda bundle stays small. More
importantly, `aws-kinesis-agg`'s deaggregator treats a record whose MD5 does not match as a plain
record, and logs and stops halfway through one whose protobuf fails mid-way: either way an
archive would silently keep garbage or lose user records. Here a corrupt aggregate raises
`AggregationError` naming its source, and the caller keeps the original bytes (Firehose's error
prefix) instead.

Trap: a record is recognised as aggregated by its magic alone (as the KPL and KCL do). QLDB stream
records are Ion binary (they begin with the Ion version marker `E0 01 00 EA`), so a plain QLDB
record never starts with the magic; any record that does and is not a valid aggregate is corrupt.

Tags are validated but not returned: QLDB never writes them and nothing downstream reads them.

Limits (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecordsRequestEntry.html):
a Kinesis record's data plus its partition key may not exceed the stream's maximum record size,
1 MiB by default (streams can be configured for up to 10 MiB); a partition key is 1 to 256 Unicode
characters. The KPL's own defaults are `AggregationMaxSize` 51,200 bytes (allowed 64 to 1,048,576)
and `AggregationMaxCount` 4,294,967,295 user records: a latency trade-off, not a service limit.
`aggregate_batches` packs up to the service limit, less room for the outer partition key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from journal.errors import AggregationError, UserRecordTooLargeError

__all__ = [
    "DEFAULT_MAX_AGGREGATE_BYTES",
    "KINESIS_MAX_RECORD_BYTES",
    "KPL_AGGREGATION_MAX_COUNT",
    "MAGIC",
    "UserRecord",
    "UserRecordTooLargeError",
    "aggregate",
    "aggregate_batches",
    "deaggregate",
    "is_aggregated",
]

MAGIC = b"\xf3\x89\x9a\xc2"
"""The four bytes that open every KPL-aggregated Kinesis record."""

DIGEST_SIZE = 16
"""Length of the MD5 digest that closes an aggregated record."""

KINESIS_MAX_RECORD_BYTES = 1_048_576
"""Default maximum size of a Kinesis record: data blob plus partition key (1 MiB)."""

MAX_PARTITION_KEY_BYTES = 1_024
"""A partition key is at most 256 Unicode characters, so at most 1,024 bytes in UTF-8."""

DEFAULT_MAX_AGGREGATE_BYTES = KINESIS_MAX_RECORD_BYTES - MAX_PARTITION_KEY_BYTES
"""Largest aggregate that fits a default stream whatever outer partition key the caller picks."""

KPL_AGGREGATION_MAX_COUNT = 4_294_967_295
"""The KPL's default `AggregationMaxCount`: in effect no limit on user records per aggregate."""

_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5
_WIRE_NAMES = {
    0: "varint",
    1: "fixed64",
    2: "length-delimited",
    3: "start group",
    4: "end group",
    5: "fixed32",
}
_OVERHEAD = len(MAGIC) + DIGEST_SIZE


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One KPL user record: for QLDB, one stream record (Ion binary) with its partition key."""

    partition_key: str
    data: bytes
    explicit_hash_key: str | None = None


def is_aggregated(data: bytes) -> bool:
    """Whether `data` claims to be a KPL aggregate (starts with the magic).

    >>> is_aggregated(bytes.fromhex("f3899ac2") + bytes(16)), is_aggregated(bytes.fromhex("e00100ea"))
    (True, False)
    """
    return data[: len(MAGIC)] == MAGIC


def deaggregate(data: bytes, *, source: str, partition_key: str = "") -> list[UserRecord]:
    """Split a Kinesis record's bytes into its user records, in order.

    Args:
        data: the Kinesis record's data blob (base64-decoded).
        source: names the record in errors: file and line, sequence number or Firehose recordId.
        partition_key: the Kinesis record's partition key, given to a plain (non-aggregated) record.

    Returns:
        The user records; a plain record comes back unchanged as a single user record.

    Raises:
        AggregationError: the record has the magic but is not a valid aggregate. Nothing is
            returned for it, not even the user records before the fault.

    >>> deaggregate(b"plain", source="seq 1", partition_key="pk")
    [UserRecord(partition_key='pk', data=b'plain', explicit_hash_key=None)]
    >>> packed = aggregate([UserRecord("a", b"x"), UserRecord("b", b"y", "42")])
    >>> [(r.partition_key, r.data, r.explicit_hash_key) for r in deaggregate(packed, source="seq 2")]
    [('a', b'x', None), ('b', b'y', '42')]
    """
    if not is_aggregated(data):
        return [UserRecord(partition_key, bytes(data))]
    data = bytes(data)
    if len(data) < _OVERHEAD:
        raise AggregationError(
            f"{len(data)} bytes is shorter than the magic and MD5 digest ({_OVERHEAD} bytes): truncated",
            source=source,
        )
    end = len(data) - DIGEST_SIZE
    if hashlib.md5(data[len(MAGIC) : end], usedforsecurity=False).digest() != data[end:]:
        raise AggregationError(
            "MD5 digest does not match the protobuf bytes: truncated or corrupt", source=source
        )
    try:
        return _decode_aggregated_record(data, len(MAGIC), end)
    except _DecodeError as exc:
        raise AggregationError(f"{exc.reason} (at byte {exc.offset})", source=source) from None


def aggregate(records: Sequence[UserRecord]) -> bytes:
    """Build one aggregated record, sharing repeated keys through the key tables as the KPL does.

    Fields are written in the KPL's order (key tables, then records), so the output is byte for
    byte what the KPL writes for the same user records.

    Raises:
        ValueError: `records` is empty; the KPL never writes an empty aggregate and `deaggregate`
            rejects one.

    >>> aggregate([UserRecord("a", b"x")])[:14].hex(" ")
    'f3 89 9a c2 0a 01 61 1a 05 08 00 1a 01 78'
    """
    if not records:
        raise ValueError("cannot aggregate zero user records")
    builder = _Builder()
    for record in records:
        builder.add(record)
    return builder.to_bytes()


def aggregate_batches(
    records: Iterable[UserRecord],
    *,
    max_bytes: int = DEFAULT_MAX_AGGREGATE_BYTES,
    max_records: int = KPL_AGGREGATION_MAX_COUNT,
) -> Iterator[bytes]:
    """Pack user records, in order, into aggregates under the limits (limits are checked at once).

    Greedy, like the KPL: a record that would push the current aggregate over a limit starts the
    next one. Sizes are computed exactly, so an aggregate can be exactly `max_bytes` long.

    Args:
        records: user records, in the order they must be read back.
        max_bytes: largest aggregate, magic and digest included. The default leaves room for a
            256-character outer partition key under Kinesis's 1 MiB record limit.
        max_records: most user records per aggregate (the KPL's `AggregationMaxCount`).

    Yields:
        Aggregated records, each ready to be a Kinesis record's data.

    Raises:
        UserRecordTooLargeError: a single user record does not fit even alone.
        ValueError: a limit is too small to hold any record.

    >>> [len(b) for b in aggregate_batches([UserRecord("k", bytes(10))] * 5, max_bytes=60)]
    [55, 55, 39]
    """
    if max_bytes <= _OVERHEAD:
        raise ValueError(f"max_bytes must exceed the {_OVERHEAD} bytes of magic and digest, got {max_bytes}")
    if max_records < 1:
        raise ValueError(f"max_records must be at least 1, got {max_records}")
    return _pack(records, max_bytes, max_records)


def _pack(records: Iterable[UserRecord], max_bytes: int, max_records: int) -> Iterator[bytes]:
    builder = _Builder()
    for index, record in enumerate(records):
        grown = builder.size_with(record)
        if builder.count and (grown > max_bytes or builder.count >= max_records):
            yield builder.to_bytes()
            builder = _Builder()
            grown = builder.size_with(record)
        if grown > max_bytes:
            raise UserRecordTooLargeError(
                index=index, partition_key=record.partition_key, size=grown, max_bytes=max_bytes
            )
        builder.add(record)
    if builder.count:
        yield builder.to_bytes()


# --- writing -------------------------------------------------------------------------------------


def _varint_size(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


def _write_varint(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _len_field_size(payload_size: int) -> int:
    """Size of a length-delimited field with a one-byte tag (all our field numbers are below 16)."""
    return 1 + _varint_size(payload_size) + payload_size


class _Builder:
    """One aggregate in the making; tracks its exact serialised size as records are added."""

    def __init__(self) -> None:
        self.pk_index: dict[str, int] = {}
        self.ehk_index: dict[str, int] = {}
        self.pk_table: list[bytes] = []
        self.ehk_table: list[bytes] = []
        self.entries: list[tuple[int, int | None, bytes]] = []
        self.body_size = 0

    @property
    def count(self) -> int:
        return len(self.entries)

    def _entry_size(self, pk_index: int, ehk_index: int | None, data: bytes) -> int:
        inner = 1 + _varint_size(pk_index) + _len_field_size(len(data))
        if ehk_index is not None:
            inner += 1 + _varint_size(ehk_index)
        return _len_field_size(inner)

    def size_with(self, record: UserRecord) -> int:
        """The aggregate's total size if `record` were added."""
        size = self.body_size
        pk_index = self.pk_index.get(record.partition_key)
        if pk_index is None:
            pk_index = len(self.pk_table)
            size += _len_field_size(len(record.partition_key.encode()))
        ehk_index: int | None = None
        if record.explicit_hash_key is not None:
            ehk_index = self.ehk_index.get(record.explicit_hash_key)
            if ehk_index is None:
                ehk_index = len(self.ehk_table)
                size += _len_field_size(len(record.explicit_hash_key.encode()))
        return _OVERHEAD + size + self._entry_size(pk_index, ehk_index, record.data)

    def add(self, record: UserRecord) -> None:
        pk_index = self.pk_index.get(record.partition_key)
        if pk_index is None:
            pk_index = self.pk_index[record.partition_key] = len(self.pk_table)
            self.pk_table.append(encoded := record.partition_key.encode())
            self.body_size += _len_field_size(len(encoded))
        ehk_index: int | None = None
        if record.explicit_hash_key is not None:
            ehk_index = self.ehk_index.get(record.explicit_hash_key)
            if ehk_index is None:
                ehk_index = self.ehk_index[record.explicit_hash_key] = len(self.ehk_table)
                self.ehk_table.append(encoded := record.explicit_hash_key.encode())
                self.body_size += _len_field_size(len(encoded))
        self.entries.append((pk_index, ehk_index, bytes(record.data)))
        self.body_size += self._entry_size(pk_index, ehk_index, record.data)

    def to_bytes(self) -> bytes:
        body = bytearray()
        for number, table in ((1, self.pk_table), (2, self.ehk_table)):
            for key in table:
                body.append(number << 3 | _LEN)
                _write_varint(body, len(key))
                body += key
        inner = bytearray()
        for pk_index, ehk_index, data in self.entries:
            inner.clear()
            inner.append(1 << 3 | _VARINT)
            _write_varint(inner, pk_index)
            if ehk_index is not None:
                inner.append(2 << 3 | _VARINT)
                _write_varint(inner, ehk_index)
            inner.append(3 << 3 | _LEN)
            _write_varint(inner, len(data))
            inner += data
            body.append(3 << 3 | _LEN)
            _write_varint(body, len(inner))
            body += inner
        return MAGIC + bytes(body) + hashlib.md5(body, usedforsecurity=False).digest()


# --- reading -------------------------------------------------------------------------------------


class _DecodeError(Exception):
    """Malformed protobuf; `deaggregate` turns it into an `AggregationError` naming the record."""

    def __init__(self, reason: str, offset: int) -> None:
        self.reason, self.offset = reason, offset
        super().__init__(reason)


def _read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Decode a base-128 varint of at most 10 bytes that fits 64 bits; return it and the next position."""
    start, result, shift = pos, 0, 0
    while True:
        if pos >= end:
            raise _DecodeError("truncated varint", start)
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if shift >= 70:
            raise _DecodeError("varint longer than 10 bytes", start)
    if result >> 64:
        raise _DecodeError("varint does not fit 64 bits", start)
    return result, pos


# (field number, wire type, offset of the tag, varint value, payload start, payload end)
_Field = tuple[int, int, int, int, int, int]


def _iter_fields(buf: bytes, pos: int, end: int) -> Iterator[_Field]:
    """Walk the fields of one message in `buf[pos:end]`, checking every length against `end`."""
    while pos < end:
        tag_at = pos
        tag, pos = _read_varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        if number == 0 or tag > 0xFFFF_FFFF:
            raise _DecodeError(f"invalid field number {number}", tag_at)
        value = 0
        if wire == _VARINT:
            value, pos = _read_varint(buf, pos, end)
            start = pos
        elif wire == _LEN:
            length, start = _read_varint(buf, pos, end)
            pos = start + length
            if pos > end:
                raise _DecodeError(
                    f"field {number} declares {length} bytes but only {end - start} remain", tag_at
                )
        elif wire in (_FIXED64, _FIXED32):
            start = pos
            pos += 8 if wire == _FIXED64 else 4
            if pos > end:
                raise _DecodeError(f"field {number} ({_WIRE_NAMES[wire]}) is truncated", tag_at)
        else:  # groups are deprecated and never written by the KPL; 6 and 7 do not exist
            raise _DecodeError(f"field {number} has unsupported wire type {wire}", tag_at)
        yield number, wire, tag_at, value, start, pos


def _expect_wire(field: _Field, expected: int, name: str) -> None:
    number, wire, tag_at = field[0], field[1], field[2]
    if wire != expected:
        raise _DecodeError(
            f"{name} (field {number}) has wire type {_WIRE_NAMES.get(wire, wire)}, "
            f"expected {_WIRE_NAMES[expected]}",
            tag_at,
        )


def _read_string(buf: bytes, field: _Field, name: str) -> str:
    _expect_wire(field, _LEN, name)
    try:
        return buf[field[4] : field[5]].decode()
    except UnicodeDecodeError:
        raise _DecodeError(f"{name} is not valid UTF-8", field[2]) from None


def _decode_aggregated_record(buf: bytes, pos: int, end: int) -> list[UserRecord]:
    """Decode `AggregatedRecord`; fields may come in any order, so indexes are resolved last."""
    pk_table: list[str] = []
    ehk_table: list[str] = []
    entries: list[tuple[int, int, int | None, bytes]] = []
    for field in _iter_fields(buf, pos, end):
        number = field[0]
        if number == 1:
            pk_table.append(_read_string(buf, field, "partition_key_table entry"))
        elif number == 2:
            ehk_table.append(_read_string(buf, field, "explicit_hash_key_table entry"))
        elif number == 3:
            _expect_wire(field, _LEN, f"user record #{len(entries)}")
            entries.append((field[2], *_decode_record(buf, field[4], field[5], len(entries))))
    if not entries:
        raise _DecodeError("the aggregate holds no user records (the KPL never writes one)", pos)
    records = []
    for index, (offset, pk_index, ehk_index, data) in enumerate(entries):
        if pk_index >= len(pk_table):
            raise _DecodeError(
                f"user record #{index}: partition_key_index {pk_index} is outside the "
                f"{len(pk_table)}-entry partition key table",
                offset,
            )
        if ehk_index is not None and ehk_index >= len(ehk_table):
            raise _DecodeError(
                f"user record #{index}: explicit_hash_key_index {ehk_index} is outside the "
                f"{len(ehk_table)}-entry explicit hash key table",
                offset,
            )
        ehk = None if ehk_index is None else ehk_table[ehk_index]
        records.append(UserRecord(pk_table[pk_index], data, ehk))
    return records


def _decode_record(buf: bytes, pos: int, end: int, index: int) -> tuple[int, int | None, bytes]:
    """Decode one `Record`: (partition_key_index, explicit_hash_key_index, data)."""
    pk_index: int | None = None
    ehk_index: int | None = None
    data: bytes | None = None
    where = f"user record #{index}"
    for field in _iter_fields(buf, pos, end):
        number = field[0]
        if number == 1:
            _expect_wire(field, _VARINT, f"{where}: partition_key_index")
            pk_index = field[3]
        elif number == 2:
            _expect_wire(field, _VARINT, f"{where}: explicit_hash_key_index")
            ehk_index = field[3]
        elif number == 3:
            _expect_wire(field, _LEN, f"{where}: data")
            data = buf[field[4] : field[5]]
        elif number == 4:
            _expect_wire(field, _LEN, f"{where}: tag")
            _check_tag(buf, field[4], field[5], where)
    if pk_index is None:
        raise _DecodeError(f"{where}: required partition_key_index is missing", pos)
    if data is None:
        raise _DecodeError(f"{where}: required data is missing", pos)
    return pk_index, ehk_index, data


def _check_tag(buf: bytes, pos: int, end: int, where: str) -> None:
    """Validate a `Tag` (required key, optional value); its content is not kept."""
    has_key = False
    for field in _iter_fields(buf, pos, end):
        if field[0] == 1:
            _read_string(buf, field, f"{where}: tag key")
            has_key = True
        elif field[0] == 2:
            _read_string(buf, field, f"{where}: tag value")
    if not has_key:
        raise _DecodeError(f"{where}: a tag lacks its required key", pos)

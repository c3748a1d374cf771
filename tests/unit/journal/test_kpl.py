"""KPL aggregation: real KPL-written records, every corruption kind, round trips and batching."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journal.errors import AggregationError
from journal.kpl import (
    DEFAULT_MAX_AGGREGATE_BYTES,
    UserRecord,
    UserRecordTooLargeError,
    aggregate,
    aggregate_batches,
    deaggregate,
    is_aggregated,
)

if TYPE_CHECKING:
    from pathlib import Path

MAGIC = bytes.fromhex("f3899ac2")
SOURCE = "shardId-000000000003:4958154495"

# Expected user records from awslabs/kinesis-aggregation python/test/test_deagg.py (written by the KPL).
WITH_EHKS = [
    UserRecord(
        "fc03dd88-3e79-448a-b01a-7cf1bd47b784",
        b"RECORD 22 peeobhczbzdmskboupgyq\n",
        "38486495867508399078159723846051807020",
    ),
    UserRecord(
        "cae41b1c-ea61-43f2-90be-b8755ebf88e2",
        b"RECORD 23 uswkxftxroeusscxsjhno\n",
        "193787600037681706952143357071916352604",
    ),
    UserRecord(
        "d490690c-e74d-4db2-a3c8-d8f2f184fd23",
        b"RECORD 24 casehdgivfaxeustlyszy\n",
        "266880436964932424265466916734068684439",
    ),
    UserRecord(
        "c924bc09-b85e-47f1-b32e-336522ee53c8",
        b"RECORD 25 nvffvpmuogdopjhamevrk\n",
        "339606600942967391854603552402021847292",
    ),
]
NO_EHKS = [
    UserRecord("78feb12a-dba0-45ca-a91e-bb1f2f1819b4", b"RECORD 18 iklrpsvyhxnerodfeheru\n"),
    UserRecord("c2a75787-469b-4310-840d-d486dca7eb5e", b"RECORD 19 lnmnudyhvpvcgrokfmzdh\n"),
    UserRecord("650e9362-572b-4427-b3fc-13549d7e5ae5", b"RECORD 20 pjqrcfbxafzdndzmbgane\n"),
    UserRecord("1d8d9600-00b7-46f3-a983-de83477540c0", b"RECORD 21 aafreyrntwuwxliygkbhk\n"),
    UserRecord("f2e718a0-389b-494a-b796-3355b07569cc", b"RECORD 22 qsaadhbsgmvqgdifguyou\n"),
    UserRecord("965b8da4-a6bd-4755-81c9-e7181ab7dc9a", b"RECORD 23 wjokoiwvzzhlftlzhqfjk\n"),
    UserRecord("d693c5f0-5772-46c9-8d86-08c7055bdb75", b"RECORD 24 zopcascrthbbpnjiwuhjb\n"),
    UserRecord("8d92476b-eb89-4e81-99fb-c2ba63ad6d90", b"RECORD 25 txbbvnozrwsboxuomqboq\n"),
]
VECTORS = {
    "kpl_generated_rec_with_ehks.lambda_event_record.json": WITH_EHKS,
    "kpl_generated_rec_no_ehks.lambda_event_record.json": NO_EHKS,
}

# Same upstream test: a KPL aggregate whose four records share one partition key and one EHK,
# so its key tables hold one entry each (the deduplication `aggregate` must reproduce).
SHARED_KEYS_B64 = (
    "84mawgoNMTU2MjYwMjA3NDg5NhInMzM5NjA2NjAwOTQyOTY3MzkxODU0NjAzNTUyNDAyMDIxODQ3MjkyGicIABAAGiFSRUNPUkQgMjAwNSB"
    "wanFyY2ZieGFmemRuZHptYmdhbmUaJwgAEAAaIVJFQ09SRCAyMDA2IHBqcXJjZmJ4YWZ6ZG5kem1iZ2FuZRonCAAQABohUkVDT1JEIDIwMD"
    "cgcGpxcmNmYnhhZnpkbmR6bWJnYW5lGicIABAAGiFSRUNPUkQgMjAwOCBwanFyY2ZieGFmemRuZHptYmdhbmUHrLqXAgpJOT8v1lp81gM/"
)
SHARED_KEYS = [
    UserRecord(
        "1562602074896",
        f"RECORD {n} pjqrcfbxafzdndzmbgane".encode(),
        "339606600942967391854603552402021847292",
    )
    for n in (2005, 2006, 2007, 2008)
]


def kinesis_data(qldb_real: Path, name: str) -> bytes:
    event = json.loads((qldb_real / "kinesis-aggregation" / name).read_text())
    return base64.b64decode(event["kinesis"]["data"])


def wrap(body_hex: str) -> bytes:
    """An aggregate around a hand-written protobuf body, with a correct MD5 so the parser is reached."""
    body = bytes.fromhex(body_hex)
    return MAGIC + body + hashlib.md5(body).digest()


# --- real KPL output ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), VECTORS.items(), ids=["with_ehks", "no_ehks"])
def test_deaggregates_real_kpl_records(qldb_real: Path, name: str, expected: list[UserRecord]) -> None:
    data = kinesis_data(qldb_real, name)
    assert is_aggregated(data)
    assert deaggregate(data, source=name, partition_key="a") == expected


@pytest.mark.parametrize(("name", "expected"), VECTORS.items(), ids=["with_ehks", "no_ehks"])
def test_aggregate_writes_the_kpl_bytes(qldb_real: Path, name: str, expected: list[UserRecord]) -> None:
    assert aggregate(expected) == kinesis_data(qldb_real, name)


def test_shared_keys_are_deduplicated_like_the_kpl() -> None:
    data = base64.b64decode(SHARED_KEYS_B64)
    assert deaggregate(data, source="ka") == SHARED_KEYS
    assert aggregate(SHARED_KEYS) == data


# --- plain records -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"\xe0\x01\x00\xea\xee\x8e\x81", b"RECORD 749 pjqrcfbxafzdndzmbgane", MAGIC[:3], b"\x00" + MAGIC],
    ids=["empty", "ion", "text", "magic-prefix", "magic-not-at-start"],
)
def test_plain_record_passes_through(data: bytes) -> None:
    assert not is_aggregated(data)
    assert deaggregate(data, source=SOURCE, partition_key="1562602074896") == [
        UserRecord("1562602074896", data)
    ]


# --- corruption --------------------------------------------------------------------------------

PK_A = "0a 01 61"  # partition_key_table: "a"
REC_X = "1a 05 08 00 1a 01 78"  # record {partition_key_index: 0, data: "x"}

CORRUPT = {
    "truncated varint": PK_A + REC_X + "80",
    "varint longer than 10 bytes": PK_A + REC_X + "78" + "ff" * 10 + "01",
    "varint does not fit 64 bits": PK_A + REC_X + "78" + "ff" * 9 + "7f",
    "partition_key_table entry .field 1. has wire type varint": "08 01" + PK_A + REC_X,
    "partition_key_index .field 1. has wire type length-delimited": PK_A + "1a 05 0a 00 1a 01 78",
    "data .field 3. has wire type varint": PK_A + "1a 04 08 00 18 01",
    "user record #0 .field 3. has wire type varint": PK_A + "18 00",
    "field 3 declares 9 bytes but only 5 remain": PK_A + "1a 09 08 00 1a 01 78",
    "field 3 declares 5 bytes but only 1 remain": PK_A + "1a 05 08 00 1a 05 78",
    "fixed64. is truncated": PK_A + REC_X + "79 00 00",
    "partition_key_index 1 is outside the 1-entry partition key table": PK_A + "1a 05 08 01 1a 01 78",
    "explicit_hash_key_index 0 is outside the 0-entry": PK_A + "1a 07 08 00 10 00 1a 01 78",
    "user record #1: required data is missing": PK_A + REC_X + "1a 02 08 00",
    "required partition_key_index is missing": PK_A + "1a 03 1a 01 78",
    "a tag lacks its required key": PK_A + "1a 09 08 00 1a 01 78 22 02 12 00",
    "not valid UTF-8": "0a 01 ff" + REC_X,
    "invalid field number 0": "02 00" + PK_A + REC_X,
    "unsupported wire type 3": PK_A + REC_X + "7b",
    "holds no user records": PK_A,
    "holds no user records ": "",
}


@pytest.mark.parametrize(("reason", "body_hex"), CORRUPT.items(), ids=list(CORRUPT))
def test_malformed_protobuf_raises_naming_the_record(reason: str, body_hex: str) -> None:
    with pytest.raises(AggregationError, match=reason.strip()) as raised:
        deaggregate(wrap(body_hex), source=SOURCE)
    assert raised.value.source == SOURCE
    assert SOURCE in str(raised.value)


def test_every_md5_byte_is_checked(qldb_real: Path) -> None:
    data = kinesis_data(qldb_real, "kpl_generated_rec_with_ehks.lambda_event_record.json")
    for i in range(len(data) - 16, len(data)):
        corrupt = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
        with pytest.raises(AggregationError, match=f"MD5.*{SOURCE}|{SOURCE}.*MD5"):
            deaggregate(corrupt, source=SOURCE)


def test_every_bit_flip_in_the_body_is_caught(qldb_real: Path) -> None:
    data = kinesis_data(qldb_real, "kpl_generated_rec_no_ehks.lambda_event_record.json")
    for i in range(len(MAGIC), len(data) - 16):
        for bit in range(8):
            corrupt = data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1 :]
            with pytest.raises(AggregationError, match=SOURCE):
                deaggregate(corrupt, source=SOURCE)


@pytest.mark.parametrize("name", VECTORS)
def test_truncation_at_every_length_raises(qldb_real: Path, name: str) -> None:
    data = kinesis_data(qldb_real, name)
    for length in range(len(MAGIC), len(data)):
        with pytest.raises(AggregationError, match=SOURCE):
            deaggregate(data[:length], source=SOURCE)
    # Shorter than the magic it is indistinguishable from a plain record.
    for length in range(len(MAGIC)):
        assert deaggregate(data[:length], source=SOURCE) == [UserRecord("", data[:length])]


@pytest.mark.parametrize(("name", "expected"), VECTORS.items(), ids=["with_ehks", "no_ehks"])
def test_truncated_protobuf_with_a_matching_md5_never_yields_garbage(
    qldb_real: Path, name: str, expected: list[UserRecord]
) -> None:
    # GIVEN the protobuf cut at every length and re-sealed with its own MD5 (a buggy producer)
    body = kinesis_data(qldb_real, name)[len(MAGIC) : -16]
    prefixes, errors = 0, []
    for length in range(len(body)):
        # WHEN it is decoded
        try:
            records = deaggregate(wrap(body[:length].hex()), source=SOURCE)
        except AggregationError as exc:
            errors.append(exc)
            continue
        # THEN only a cut between two whole records decodes, to exactly the records before the cut
        assert 0 < len(records) < len(expected)
        assert records == expected[: len(records)]
        prefixes += 1
    assert prefixes == len(expected) - 1  # one cut between each pair of records
    assert all(exc.source == SOURCE for exc in errors)


def test_unknown_fields_are_skipped() -> None:
    unknown_top = "78 05" + "79" + "00" * 8 + "7a 02 ab cd" + "7d" + "00" * 4 + "78" + "ff" * 9 + "01"
    record_with_extras = "1a 0f 08 00 28 07 1a 01 78 22 06 0a 01 6b 12 01 76"  # field 5, and a tag k=v
    assert deaggregate(wrap(unknown_top + PK_A + record_with_extras), source=SOURCE) == [
        UserRecord("a", b"x")
    ]


def test_field_order_does_not_matter() -> None:
    ehk = "12 02 34 32"  # explicit_hash_key_table: "42"
    record = "1a 07 10 00 1a 01 78 08 00"  # ehk index, data, then pk index
    assert deaggregate(wrap(record + ehk + PK_A), source=SOURCE) == [UserRecord("a", b"x", "42")]


# --- round trips -------------------------------------------------------------------------------

keys = st.one_of(st.sampled_from(["a", "b", "é"]), st.text(max_size=12))
hash_keys = st.one_of(
    st.none(), st.sampled_from(["0", "42"]), st.from_regex(r"0|[1-9][0-9]{0,38}", fullmatch=True)
)
user_records = st.builds(
    UserRecord, partition_key=keys, data=st.binary(max_size=200), explicit_hash_key=hash_keys
)


@given(st.lists(user_records, min_size=1, max_size=30))
def test_aggregate_then_deaggregate_round_trips(records: list[UserRecord]) -> None:
    data = aggregate(records)
    assert is_aggregated(data)
    assert deaggregate(data, source=SOURCE) == records


def test_aggregate_refuses_zero_records() -> None:
    with pytest.raises(ValueError, match="zero"):
        aggregate([])


# --- batching ----------------------------------------------------------------------------------


@settings(max_examples=200)
@given(
    st.lists(user_records, max_size=40),
    st.integers(min_value=400, max_value=3_000),
    st.integers(min_value=1, max_value=12),
)
def test_batches_respect_the_limits_and_keep_order(
    records: list[UserRecord], max_bytes: int, max_records: int
) -> None:
    batches = list(aggregate_batches(records, max_bytes=max_bytes, max_records=max_records))
    decoded = [deaggregate(batch, source=SOURCE) for batch in batches]
    assert all(len(batch) <= max_bytes for batch in batches)
    assert all(1 <= len(part) <= max_records for part in decoded)
    assert [r for part in decoded for r in part] == records
    # Greedy: the next batch's first record would not have fitted the previous batch.
    for part, following in itertools.pairwise(decoded):
        assert len(part) == max_records or len(aggregate([*part, following[0]])) > max_bytes


def test_batches_fill_up_to_exactly_max_bytes() -> None:
    records = WITH_EHKS + NO_EHKS
    size = len(aggregate(records))
    assert list(aggregate_batches(records, max_bytes=size)) == [aggregate(records)]
    assert len(list(aggregate_batches(records, max_bytes=size - 1))) == 2


def test_default_limit_fits_a_kinesis_record_with_any_partition_key() -> None:
    # Kinesis: data + partition key <= 1 MiB; a partition key is <= 256 characters (<= 1024 UTF-8 bytes).
    assert DEFAULT_MAX_AGGREGATE_BYTES + 1024 <= 1_048_576
    big = [UserRecord(f"pk{i}", bytes(400_000)) for i in range(5)]
    batches = list(aggregate_batches(big))
    assert [len(deaggregate(b, source=SOURCE)) for b in batches] == [2, 2, 1]
    assert all(len(b) <= DEFAULT_MAX_AGGREGATE_BYTES for b in batches)


def test_a_record_too_large_alone_raises_naming_it() -> None:
    records = [UserRecord("small", b"x"), UserRecord("huge", bytes(1_048_576))]
    with pytest.raises(UserRecordTooLargeError, match=r"user record #1 \(partition key 'huge'\)") as raised:
        list(aggregate_batches(records))
    assert (raised.value.index, raised.value.max_bytes) == (1, DEFAULT_MAX_AGGREGATE_BYTES)


def test_empty_input_gives_no_batches() -> None:
    assert list(aggregate_batches([])) == []


@pytest.mark.parametrize(("max_bytes", "max_records"), [(20, 10), (1_000, 0)])
def test_unusable_limits_are_refused(max_bytes: int, max_records: int) -> None:
    with pytest.raises(ValueError, match="max_"):
        aggregate_batches([UserRecord("a", b"x")], max_bytes=max_bytes, max_records=max_records)

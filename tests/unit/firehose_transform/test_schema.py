"""The archive schema: one column list, and everything derived from it agrees with it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.parse
from collections.abc import Callable
from typing import Any, get_type_hints

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from firehose_transform.handler import transform_event
from firehose_transform.schema import (
    COLUMN_NAMES,
    COLUMNS,
    MAX_PARTITION_VALUE,
    PARTITION_KEYS,
    ArchiveRow,
    Kind,
    PartitionKeys,
    RecordType,
    arrow_schema,
    build_row,
    columns_for,
    empty_row,
    glue_types,
    ndjson_to_arrow,
    partition_value,
)

# Reserved in Athena DDL (Hive) or in Athena queries (Trino) and likely as column names.
RESERVED = {
    "all", "array", "binary", "bucket", "by", "case", "cast", "column", "current", "date", "decimal",
    "delete", "describe", "distinct", "double", "exists", "external", "false", "float", "from", "function",
    "group", "int", "interval", "map", "natural", "null", "order", "partition", "range", "reduce", "row",
    "rows", "select", "set", "table", "time", "timestamp", "true", "union", "user", "values", "window",
}  # fmt: skip

Rows = Callable[[dict[str, Any]], list[dict[str, Any]]]


def test_columns_are_unique_snake_case_and_not_reserved() -> None:
    assert len(set(COLUMN_NAMES)) == len(COLUMN_NAMES)
    for name in COLUMN_NAMES:
        assert name == name.lower(), name
        assert name.replace("_", "").isalnum(), name
        assert name not in RESERVED
    for key in PARTITION_KEYS:
        assert key.name not in COLUMN_NAMES
        assert key.name not in RESERVED
    assert all(c.doc and c.record_types for c in COLUMNS)


def test_typed_dicts_match_the_declarations() -> None:
    assert list(get_type_hints(ArchiveRow)) == list(COLUMN_NAMES)
    assert list(get_type_hints(PartitionKeys)) == [k.name for k in PARTITION_KEYS]


def test_glue_and_arrow_types_cover_every_column() -> None:
    glue = glue_types()
    schema = arrow_schema()
    assert list(glue) == list(COLUMN_NAMES) == schema.names
    assert set(glue.values()) <= {k.value for k in Kind}
    assert glue["block_seq"] == glue["version"] == "bigint"
    assert glue["tx_time"] == glue["block_timestamp"] == "timestamp"
    assert glue["is_deleted"] == "boolean"
    assert glue["entries_hash_list"] == "array<string>"
    assert schema.field("tx_time").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("entries_hash_list").type == pa.list_(pa.string())
    assert all(schema.field(c.name).metadata[b"doc"].decode() == c.doc for c in COLUMNS)


def test_columns_for_each_record_type() -> None:
    revision = {c.name for c in columns_for(RecordType.REVISION_DETAILS)}
    block = {c.name for c in columns_for(RecordType.BLOCK_SUMMARY)}
    control = {c.name for c in columns_for(RecordType.CONTROL)}
    assert {"doc_id", "version", "revision_ion", "data_json", "tx_time", "block_seq"} <= revision
    assert {"block_hash", "entries_hash_list", "transaction_info_ion", "block_seq"} <= block
    assert "control_type" in control
    assert "block_seq" not in control
    assert not revision & {"block_hash", "control_type"}
    assert revision | block | control == set(COLUMN_NAMES)


def test_build_row_fills_every_column_and_rejects_others() -> None:
    row = build_row({"record_type": "CONTROL", "control_type": "COMPLETED"})
    assert list(row) == list(COLUMN_NAMES)
    assert row["doc_id"] is None
    with pytest.raises(KeyError, match="not archive columns"):
        build_row({"documentId": "x"})
    assert list(empty_row()) == list(COLUMN_NAMES)


def test_handler_rows_have_exactly_the_schema_fields(load_event: Any, ok_rows: Rows) -> None:
    response = transform_event(load_event("firehoseKinesisSourceEvent.json"))
    rows = [row for r in response["records"] if r["result"] == "Ok" for row in ok_rows(r)]
    assert len(rows) == 3
    for row in rows:
        assert list(row) == list(COLUMN_NAMES)
        for c in COLUMNS:  # JSON-safe types that fit the column
            value = row[c.name]
            if value is None:
                continue
            expected: type | tuple[type, ...] = {
                Kind.STRING: str, Kind.INT32: int, Kind.INT64: int, Kind.BOOLEAN: bool,
                Kind.TIMESTAMP: str, Kind.STRING_ARRAY: list,
            }[c.kind]  # fmt: skip
            assert isinstance(value, expected), c.name
            if c.kind is Kind.TIMESTAMP:
                assert isinstance(value, str)
                assert len(value) == 24
                assert value.endswith("Z")
        # Columns of other record types are null.
        rtype = RecordType(row["record_type"])
        assert all(row[c.name] is None for c in COLUMNS if rtype not in c.record_types)


def _to_json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value


def test_rows_convert_to_arrow_without_loss(load_event: Any) -> None:
    """The local twin of Firehose's format conversion reads every row back unchanged."""
    for name in ("firehoseKinesisSourceEvent.json", "firehoseDirectPutEvent.json"):
        response = transform_event(load_event(name))
        data = b"".join(base64.b64decode(r["data"]) for r in response["records"] if r["result"] == "Ok")
        table = ndjson_to_arrow(data)
        assert table.schema.equals(arrow_schema())
        originals = [json.loads(line) for line in data.splitlines()]
        back = [{k: _to_json_value(v) for k, v in row.items()} for row in table.to_pylist()]
        assert back == originals


def test_arrow_conversion_rejects_unknown_fields() -> None:
    row = dict(build_row({"record_type": "CONTROL"}), surprise=1)
    with pytest.raises(pa.ArrowInvalid):
        ndjson_to_arrow(json.dumps(row).encode())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VehicleRegistration", "VehicleRegistration"),
        ("vehicle-registration", "vehicle-registration"),
        ("a/b=c", "a%2Fb%3Dc"),
        ("..", "%2E%2E"),
        ("_block", "%5Fblock"),
        ("Größe", "Gr%C3%B6%C3%9Fe"),
        ("", "_empty"),
    ],
)
def test_partition_value(name: str, value: str) -> None:
    assert partition_value(name) == value


@given(st.text(max_size=300))
def test_partition_values_are_safe_distinct_and_reversible(name: str) -> None:
    value = partition_value(name)
    assert value
    assert len(value) <= MAX_PARTITION_VALUE
    assert all(ch.isascii() and (ch.isalnum() or ch in "_-%~") for ch in value)
    if name and "~" not in value:
        assert urllib.parse.unquote(value, errors="surrogatepass") == name
        assert not value.startswith("_")  # sentinels only

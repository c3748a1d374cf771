"""restore.bulk without a database: how plan_bulk_rows' rows split into each target table's rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from restore.bulk import CURRENT_COLUMNS, HISTORY_COLUMNS, TOMBSTONE_COLUMNS, split_bulk_rows, to_csv

T = dt.datetime(2024, 5, 1, 12, 0, 0, 123000)


def row(table: str, doc_id: str, version: int, *, final: bool, kind: str = "live") -> dict[str, Any]:
    data = None if kind != "live" else f'{{"v":{version}}}'
    return {
        "table_name": table,
        "doc_id": doc_id,
        "version": version,
        "block_seq": 10 + version,
        "tx_id": f"tx{version}",
        "tx_time": T,
        "revision_hash": f"h-{doc_id}-{version}",
        "data_hash": "dh" if kind == "redacted" else None,
        "is_deleted": kind == "deleted",
        "is_redacted": kind == "redacted",
        "data_json": data,
        "content_hash": None if data is None else f"c-{doc_id}-{version}",
        "is_final": final,
    }


ROWS = [
    row("Person", "A", 0, final=False),
    row("Person", "A", 1, final=True),  # updated: its newest version is its current row
    row("Person", "B", 0, final=False),
    row("Person", "B", 1, final=True, kind="deleted"),  # deleted: a tombstone, no current row
    row("Vehicle", "V", 0, final=True, kind="redacted"),  # redacted: a current row without data
]


def test_each_table_gets_its_current_rows_tombstones_and_history() -> None:
    parts = split_bulk_rows(pa.Table.from_pylist(ROWS), history=True)
    assert [p.table_name for p in parts] == ["Person", "Vehicle"]
    person, vehicle = parts
    assert person.current.column_names == list(CURRENT_COLUMNS)
    assert person.current.to_pylist() == [
        {
            "doc_id": "A",
            "version": 1,
            "block_seq": 11,
            "tx_time": T,
            "data": '{"v":1}',
            "content_hash": "c-A-1",
        }
    ]
    assert person.tombstones.column_names == list(TOMBSTONE_COLUMNS)
    assert person.tombstones.to_pylist() == [
        {"table_name": "Person", "doc_id": "B", "version": 1, "block_seq": 11, "tx_time": T}
    ]
    assert person.history is not None
    assert person.history.column_names == list(HISTORY_COLUMNS)
    assert [(h["doc_id"], h["version"], h["is_deleted"]) for h in person.history.to_pylist()] == [
        ("A", 0, False),
        ("A", 1, False),
        ("B", 0, False),
        ("B", 1, True),
    ]
    assert person.revisions == 4
    assert [(c["doc_id"], c["data"], c["content_hash"]) for c in vehicle.current.to_pylist()] == [
        ("V", None, None)
    ]
    assert vehicle.tombstones.num_rows == 0
    assert vehicle.where == "bulk-loading 'Vehicle' documents V..V"


def test_without_history_there_are_no_history_rows() -> None:
    finals = [r for r in ROWS if r["is_final"]]
    parts = split_bulk_rows(pa.Table.from_pylist(finals).to_batches()[0], history=False)
    assert [p.history for p in parts] == [None, None]
    assert [p.current.num_rows + p.tombstones.num_rows for p in parts] == [2, 1]


@pytest.mark.parametrize(("null", "integers"), [("", False), ("NULL", True)])
def test_csv_reads_back_as_written(null: str, integers: bool) -> None:
    # GIVEN text that looks like NULL, is empty, or holds quotes, separators and line breaks
    texts = ["NULL", "", 'say "hi", then\nbye', "\\N", None]
    table = pa.table({"text": texts, "flag": [True, False, None, True, False]})
    # WHEN written as CSV THEN a CSV reader told the same NULL spelling reads the same values back
    written = to_csv(table, null=null, booleans_as_integers=integers)
    back = pacsv.read_csv(
        pa.py_buffer(written.to_pybytes()),
        read_options=pacsv.ReadOptions(column_names=["text", "flag"]),
        convert_options=pacsv.ConvertOptions(
            column_types={"text": pa.string(), "flag": pa.int8() if integers else pa.bool_()},
            null_values=[null],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    assert back.column("text").to_pylist() == texts
    assert back.column("flag").to_pylist() == (
        [1, 0, None, 1, 0] if integers else [True, False, None, True, False]
    )

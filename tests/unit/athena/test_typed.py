"""Typed per-table views: type inference, safe names, the JSON traps, and equality with the truth.

Expected values come from the simulator's truth (final.jsonl, its Ion converted by the
projection) or are written out by hand, never from the code under test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb
import pytest
import sqlglot
from amazon.ion import simpleion
from sqlglot import exp

from athena.errors import InvalidNameError
from athena.local import LOCAL_DATABASE, LocalEngine, to_duckdb
from athena.typed import TypedColumn, infer_columns, render_typed_view, typed_view_name
from firehose_transform.normalise import ion_to_json

if TYPE_CHECKING:
    from .conftest import Archived

DOCS = [
    '{"VIN": "A1", "Year": 2019, "Fee": "90.25", "Weight": 1.5, "Owners": {"P": {"Id": "x"}}, '
    '"Tags": ["a"], "Color": null, "Active": true, "it\'s a \\"name\\"": "q", "Ok": 1}',
    '{"VIN": "B2", "Year": 2020, "Fee": "9.0", "Weight": 2, "Owners": {"P": null}, "Tags": [], '
    '"Active": false, "Ok": "one"}',
    None,  # a deleted or redacted revision has no data
]


def columns_by_field(docs: list[str | None]) -> dict[str, TypedColumn]:
    return {c.field: c for c in infer_columns(docs)}


def test_inferred_types() -> None:
    cols = columns_by_field(DOCS)
    assert {f: c.type for f, c in cols.items()} == {
        "VIN": "varchar",
        "Year": "bigint",
        "Fee": "varchar",  # an Ion decimal is a JSON string: kept exact, never a double
        "Weight": "double",  # 1.5 and 2 together
        "Owners": "json",
        "Tags": "json",
        "Color": "varchar",  # null everywhere
        "Active": "boolean",
        'it\'s a "name"': "varchar",
        "Ok": "varchar",  # a number and a string
    }
    assert list(cols) == list(json.loads(DOCS[0] or "{}"))  # first-seen order


def test_colliding_names_get_a_suffix() -> None:
    cols = infer_columns(['{"vin": 1, "VIN": 2, "doc_id": "mine", "version": 3}'])
    assert [c.column for c in cols] == ["vin", "VIN_2", "doc_id_2", "version_2"]
    with pytest.raises(InvalidNameError):
        infer_columns(['{"": 1}'])


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB with a hand-made ``current`` holding DOCS in table Vehicle."""
    db = duckdb.connect()
    db.execute(
        "CREATE TABLE main.current (ledger VARCHAR, table_name VARCHAR, doc_id VARCHAR, version BIGINT,"
        " tx_time TIMESTAMP, block_seq BIGINT, data_json VARCHAR)"
    )
    for i, doc in enumerate(DOCS):
        db.execute(
            "INSERT INTO main.current VALUES ('l', 'Vehicle', ?, 0, TIMESTAMP '2019-12-11 07:00:00', ?, ?)",
            [f"d{i}", i, doc],
        )
    db.execute("INSERT INTO main.current VALUES ('l', 'Person', 'p', 0, NULL, 9, '{\"VIN\": \"no\"}')")
    yield db
    db.close()


def typed_rows(con: duckdb.DuckDBPyConnection, cols: list[TypedColumn]) -> dict[str, dict[str, Any]]:
    sql = render_typed_view("Vehicle", cols, database=LOCAL_DATABASE)
    con.execute(to_duckdb(sql))
    cur = con.execute("SELECT * FROM vehicle_typed ORDER BY doc_id")
    names = [d[0] for d in cur.description]
    return {row[1]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def test_typed_view_on_duckdb(con: duckdb.DuckDBPyConnection) -> None:
    rows = typed_rows(con, infer_columns(DOCS))
    assert set(rows) == {"d0", "d1", "d2"}  # Person's document stays out
    d0, d1, d2 = rows["d0"], rows["d1"], rows["d2"]
    assert (d0["VIN"], d0["Year"], d0["Active"], d0["Weight"]) == ("A1", 2019, True, 1.5)
    # decimals keep precision and scale
    assert [Decimal(d["Fee"]) for d in (d0, d1)] == [Decimal("90.25"), Decimal("9.0")]
    assert d1["Fee"] == "9.0"
    # nested values stay JSON text, whole
    assert json.loads(d0["Owners"]) == {"P": {"Id": "x"}}
    assert json.loads(d1["Owners"]) == {"P": None}
    assert (json.loads(d0["Tags"]), json.loads(d1["Tags"])) == (["a"], [])
    # a JSON null and a missing field are both NULL
    assert d0["Color"] is None
    assert d1["Color"] is None
    assert d1['it\'s a "name"'] is None
    assert d0['it\'s a "name"'] == "q"
    # mixed scalars keep their text
    assert (d0["Ok"], d1["Ok"]) == ("1", "one")
    # no data: every field NULL, metadata kept
    assert d2["block_seq"] == 2
    assert all(d2[c.column] is None for c in infer_columns(DOCS))


def test_rendered_view_parses_and_extracts_scalars_only() -> None:
    cols = infer_columns(DOCS)
    sql = render_typed_view("Vehicle", cols, database="qldb")
    tree = sqlglot.parse_one(sql, read="athena")
    assert isinstance(tree, exp.Create)
    assert tree.kind == "VIEW"
    aliases = {a.alias: a.this for a in tree.find_all(exp.Alias)}
    for col in cols:
        expr = aliases[col.column]
        scalar = expr.find(exp.JSONExtractScalar) is not None
        assert scalar is (col.type != "json"), col  # the trap: never json_extract_scalar on an object
    assert "WHERE table_name = 'Vehicle'" in sql


def test_user_names_are_quoted() -> None:
    cols = [TypedColumn('a"b c', 'a"b c', "varchar"), TypedColumn("x') OR (1=1", "x') OR (1=1", "bigint")]
    sql = render_typed_view("Vehicle", cols, database="qldb")
    assert '$["a\\"b c"]' in sql
    assert 'AS "a""b c"' in sql
    assert "'$[\"x'') OR (1=1\"]'" in sql
    tree = sqlglot.parse_one(sql, read="athena")
    assert {a.alias for a in tree.find_all(exp.Alias)} >= {'a"b c', "x') OR (1=1"}
    with pytest.raises(InvalidNameError, match="Ve'hicle"):
        typed_view_name("Ve'hicle")
    with pytest.raises(InvalidNameError):
        render_typed_view("Vehicle", cols, database="qldb; DROP")


def test_view_names() -> None:
    sql = render_typed_view("Vehicle_2", [], database="qldb")
    assert sql.startswith("CREATE OR REPLACE VIEW qldb.vehicle_2_typed AS")
    assert sql.endswith("WHERE table_name = 'Vehicle_2'")  # the case-sensitive QLDB name filters


def test_typed_view_equals_truth(archived: Archived, engine: LocalEngine) -> None:
    # GIVEN the final documents of VehicleRegistration, from the truth
    table = "VehicleRegistration"
    final = {
        t["doc_id"]: ion_to_json(simpleion.loads(t["data"]))
        for t in archived.truth("final")
        if t["table"] == table
    }
    # WHEN its typed view is inferred and created
    view = engine.create_typed_view(table)
    rows = engine.query(f"SELECT * FROM {view}").to_pylist()
    cols = {
        c: t for c, t in zip(rows[0], engine.query(f"SELECT * FROM {view} LIMIT 0").schema.types, strict=True)
    }
    # THEN every document's every field equals the truth, typed
    assert {r["doc_id"] for r in rows} == set(final)
    assert {str(cols[f]) for f in ("VIN", "PendingPenaltyTicketAmount", "Owners")} == {"string"}
    for row in rows:
        doc = final[row["doc_id"]]
        assert isinstance(doc, dict)
        for field in set(doc) | (set(row) - {"ledger", "doc_id", "version", "tx_time", "block_seq"}):
            value = doc.get(field)
            if isinstance(value, (dict, list)):
                assert json.loads(row[field]) == value, field
            else:
                assert row[field] == value, field

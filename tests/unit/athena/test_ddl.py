"""The revisions table DDL against the archive schema, its partition projection, and SQL that parses."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from athena.ddl import projection_properties, render_revisions_ddl, revisions_columns
from athena.errors import InvalidNameError, UnknownSqlError
from athena.views import QUERY_NAMES, VIEW_NAMES, read_view, render_query, render_view
from firehose_transform.schema import PARTITION_KEYS, RecordType, columns_for, glue_types

LOCATION = "s3://archive-bucket/qldb"


def ddl(**kwargs: object) -> exp.Create:
    args: dict[str, object] = {"database": "qldb", "location": LOCATION, "ledgers": ["vehicle-registration"]}
    args.update(kwargs)
    tree = sqlglot.parse_one(render_revisions_ddl(**args), read="athena")  # type: ignore[arg-type]
    assert isinstance(tree, exp.Create)
    return tree


def properties(tree: exp.Create) -> dict[str, str]:
    out = {}
    for prop in tree.find_all(exp.Property):
        if isinstance(prop.this, exp.Literal) and isinstance(prop.args.get("value"), exp.Literal):
            out[prop.this.name] = prop.args["value"].name
    return out


def test_every_revision_column_with_its_glue_type() -> None:
    tree = ddl(tables=["Person", "Vehicle"])
    defs = [c for c in tree.find_all(exp.ColumnDef)]
    types = {c.name: c.args["kind"].sql("hive").lower() for c in defs}
    expected = {c.name: glue_types()[c.name] for c in columns_for(RecordType.REVISION_DETAILS)}
    expected |= {k.name: "string" for k in PARTITION_KEYS}  # never DATE: see athena/ddl.py
    assert types == expected
    assert [c.name for c in defs][: len(revisions_columns())] == [c.name for c in revisions_columns()]


def test_every_partition_key_is_projected() -> None:
    props = properties(ddl(tables=["Person", "a/b"]))
    assert props["projection.enabled"] == "true"
    for key in PARTITION_KEYS:
        assert f"projection.{key.name}.type" in props, key.name
        assert f"{key.name}=${{{key.name}}}" in props["storage.location.template"]
    assert props["projection.p_ledger.values"] == "vehicle-registration"
    assert props["projection.p_record_type.values"] == "revision_details"
    assert props["projection.p_table.values"] == "Person,a%2Fb"  # as the transform names the folders
    assert props["projection.p_date.type"] == "date"
    assert props["projection.p_date.format"] == "yyyy-MM-dd"
    assert props["projection.p_date.range"] == "2019-01-01,NOW"
    assert props["storage.location.template"] == (
        f"{LOCATION}/p_ledger=${{p_ledger}}/p_record_type=${{p_record_type}}/p_table=${{p_table}}/p_date=${{p_date}}/"
    )


def test_unknown_names_are_injected() -> None:
    props = projection_properties(LOCATION)
    assert props["projection.p_ledger.type"] == props["projection.p_table.type"] == "injected"
    assert "projection.p_table.values" not in props
    with pytest.raises(ValueError, match="p_table"):
        projection_properties(LOCATION, tables=[])


def test_location_and_comments_are_quoted() -> None:
    tree = ddl()
    assert tree.find(exp.LocationProperty) is not None
    assert f"LOCATION '{LOCATION}/'" in render_revisions_ddl(database="qldb", location=LOCATION + "/")
    tx_id = next(c for c in tree.find_all(exp.ColumnDef) if c.name == "tx_id")
    assert "block's" in tx_id.sql("hive").replace("\\'", "'")


def test_database_name_is_checked() -> None:
    with pytest.raises(InvalidNameError, match="Bad-Name"):
        render_revisions_ddl(database="Bad-Name", location=LOCATION)
    with pytest.raises(InvalidNameError):
        render_view("history", database="x; DROP")


@pytest.mark.parametrize("name", VIEW_NAMES)
def test_every_view_parses_as_athena(name: str) -> None:
    tree = sqlglot.parse_one(render_view(name, database="qldb"), read="athena")
    assert isinstance(tree, exp.Create)
    assert tree.kind == "VIEW"
    assert tree.this.sql() == f"qldb.{name}"
    assert read_view(name).startswith("-- ")  # each file says what it is for


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_every_query_parses_as_athena(name: str) -> None:
    tree = sqlglot.parse_one(render_query(name, database="qldb"), read="athena")
    assert isinstance(tree, exp.Select)
    assert list(tree.find_all(exp.Placeholder))


def test_views_avoid_the_translation_traps() -> None:
    sql = " ".join(render_view(n, database="qldb") for n in VIEW_NAMES)
    sql += " ".join(render_query(n, database="qldb") for n in QUERY_NAMES)
    for trap in ("json_extract_scalar", "at time zone", "to_iso8601", "from_iso8601", "date("):
        assert trap not in sql.lower()


def test_unknown_view() -> None:
    with pytest.raises(UnknownSqlError, match="history, history_conflicts"):
        render_view("nope", database="qldb")

"""Athena's CROSS JOIN UNNEST, moved into a select list for DuckDB's speed, keeps Trino's rows."""

from __future__ import annotations

import duckdb
import pytest

from athena.local import to_duckdb

ROWS = [
    # (k, the array as Trino would see it): two elements, none, NULL, one
    (1, '[{"d":"a","h":"1"},{"h":"2"}]'),
    (2, "[]"),
    (3, None),
    (4, '[{"d":"b","h":"3"}]'),
]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA s")
    con.execute("CREATE TABLE s.t (k INTEGER, j VARCHAR, e VARCHAR)")  # e: also the element's name
    con.executemany("INSERT INTO s.t VALUES (?, ?, 'column e')", ROWS)
    return con


def test_one_row_per_element_and_none_for_an_empty_or_null_array(con: duckdb.DuckDBPyConnection) -> None:
    sql = to_duckdb(
        "SELECT b.k, json_extract_scalar(e, '$.d') AS d, json_extract_scalar(u.e, '$.h') AS h "
        "FROM s.t AS b CROSS JOIN UNNEST(CAST(json_parse(b.j) AS ARRAY(JSON))) AS u (e) "
        "WHERE b.k <> 4 ORDER BY b.k, h"
    )
    assert "CROSS JOIN" not in sql  # the rewrite applied
    # (e is the element, as in Trino, though the table has a column e too)
    assert con.sql(sql).fetchall() == [(1, "a", "1"), (1, None, "2")]


def test_other_shapes_are_left_as_sqlglot_translates_them(con: duckdb.DuckDBPyConnection) -> None:
    # WITH ORDINALITY (two columns) and an UNNEST beside a second join keep the lateral form
    ordinal = to_duckdb(
        "SELECT b.k, n FROM s.t AS b CROSS JOIN UNNEST(CAST(json_parse(b.j) AS ARRAY(JSON))) "
        "WITH ORDINALITY AS u (e, n) ORDER BY b.k, n"
    )
    assert "CROSS JOIN" in ordinal
    # a star, or b.e (the table's column, not the element), would read differently from a derived table
    for select in ("*", "b.e, u.e"):
        kept = to_duckdb(
            f"SELECT {select} FROM s.t AS b CROSS JOIN UNNEST(CAST(json_parse(b.j) AS ARRAY(JSON))) AS u (e)"
        )
        assert "CROSS JOIN" in kept
    assert con.sql(kept).fetchall()[0][0] == "column e"
    two_joins = to_duckdb(
        "SELECT b.k, u.e FROM s.t AS b JOIN s.t AS c ON c.k = b.k "
        "CROSS JOIN UNNEST(CAST(json_parse(b.j) AS ARRAY(JSON))) AS u (e)"
    )
    assert "CROSS JOIN" in two_joins
    assert len(con.sql(two_joins).fetchall()) == 3

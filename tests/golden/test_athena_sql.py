"""Golden SQL pairs: each Athena view and query (athena/sql) and the DuckDB SQL sqlglot makes of it.

The expected side is tests/golden/athena/<name>.duckdb.sql. A change in sqlglot's output shows
here first, so a translation change is reviewed, not discovered in a wrong result. After checking
a new output by hand, rewrite the files with ``QLDB_ARCHIVE_UPDATE_GOLDEN=1 pytest tests/golden``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlglot

from athena.local import LOCAL_DATABASE, to_duckdb
from athena.typed import TypedColumn, render_typed_view
from athena.views import QUERY_NAMES, VIEW_NAMES, render_query, render_view

GOLDEN = Path(__file__).parent / "athena"
UPDATE = os.environ.get("QLDB_ARCHIVE_UPDATE_GOLDEN") == "1"

TYPED_COLUMNS = (
    TypedColumn("VIN", "VIN", "varchar"),
    TypedColumn("Year", "Year", "bigint"),
    TypedColumn("Weight", "Weight", "double"),
    TypedColumn("Active", "Active", "boolean"),
    TypedColumn("Owners", "Owners", "json"),
    TypedColumn('it\'s a "name"', 'it\'s a "name"', "varchar"),
)


def render_typed_example(name: str, *, database: str) -> str:
    """A typed view with one column of each type and a field name needing quotes."""
    assert name == "typed_view"
    return render_typed_view("Vehicle", TYPED_COLUMNS, database=database)


CASES = [(n, render_view) for n in VIEW_NAMES] + [(n, render_query) for n in QUERY_NAMES]
CASES.append(("typed_view", render_typed_example))


@pytest.mark.parametrize(("name", "render"), CASES, ids=[n for n, _ in CASES])
def test_transpiled_sql_matches_golden(name: str, render: object) -> None:
    assert callable(render)
    athena_sql = render(name, database=LOCAL_DATABASE)
    duckdb_sql = sqlglot.transpile(athena_sql, read="athena", write="duckdb", pretty=True)[0] + "\n"
    path = GOLDEN / f"{name}.duckdb.sql"
    if UPDATE:
        path.write_text(duckdb_sql)
    assert duckdb_sql == path.read_text()
    # the pretty form is the same statement as the one the local engine runs
    assert sqlglot.parse_one(duckdb_sql, read="duckdb") == sqlglot.parse_one(
        to_duckdb(athena_sql), read="duckdb"
    )

"""athena: the Glue table DDL and Athena views of the archive, and the local engine that runs them on DuckDB.

- `athena.ddl`: ``CREATE EXTERNAL TABLE`` of the revisions table, from the archive schema, with
  partition projection.
- `athena.views`: the views (``history``, ``history_conflicts``, ``current``, ``committed``) and
  parameterised queries (point in time, one document's history), one .sql file each under
  ``athena/sql``, in Athena (Trino) SQL.
- `athena.local`: the same SQL on DuckDB (transpiled by sqlglot) over a local or S3 archive.
"""

from __future__ import annotations

from athena.ddl import REVISIONS_TABLE, projection_properties, render_revisions_ddl, revisions_columns
from athena.errors import AthenaError, InvalidNameError, LocalQueryError, UnknownSqlError
from athena.local import LocalEngine, current, history, query, revisions_dataset, to_duckdb
from athena.views import QUERY_NAMES, VIEW_NAMES, render_query, render_view

__all__ = [
    "QUERY_NAMES",
    "REVISIONS_TABLE",
    "VIEW_NAMES",
    "AthenaError",
    "InvalidNameError",
    "LocalEngine",
    "LocalQueryError",
    "UnknownSqlError",
    "current",
    "history",
    "projection_properties",
    "query",
    "render_query",
    "render_revisions_ddl",
    "render_view",
    "revisions_columns",
    "revisions_dataset",
    "to_duckdb",
]

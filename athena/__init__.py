"""athena: the Glue table DDL and Athena views of the archive, and the local engine that runs them on DuckDB.

- `athena.ddl`: ``CREATE EXTERNAL TABLE`` of the revisions and blocks tables, from the archive
  schema, with partition projection.
- `athena.views`: the views (``history``, ``history_conflicts``, ``current``, ``committed``,
  ``health``) and
  parameterised queries (point in time, one document's history), one .sql file each under
  ``athena/sql``, in Athena (Trino) SQL.
- `athena.typed`: typed per-table views, columns inferred from the documents' JSON.
- `athena.local`: the same SQL on DuckDB (transpiled by sqlglot) over a local or S3 archive.
- `athena.deploy`: idempotent deployment to AWS (workgroup, database, tables, views, named
  queries), and its dry-run rendering.

`athena.local` (duckdb, pyarrow) is imported on first use of its names, so reading the SQL needs
neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from athena.ddl import (
    BLOCKS_TABLE,
    REVISIONS_TABLE,
    blocks_columns,
    projection_properties,
    render_blocks_ddl,
    render_revisions_ddl,
    revisions_columns,
)
from athena.deploy import DeployPlan, DeployStep, TypedViewSpec, deploy, render_plan, steps_sql
from athena.errors import (
    AthenaError,
    DeployError,
    EngineMemoryError,
    InvalidNameError,
    LocalQueryError,
    UnknownSqlError,
)
from athena.typed import TypedColumn, infer_columns, infer_table_columns, render_typed_view
from athena.views import QUERY_NAMES, VIEW_NAMES, render_query, render_view

if TYPE_CHECKING:
    from athena.local import LocalEngine, current, history, query, revisions_dataset, to_duckdb

_LOCAL: frozenset[str] = frozenset(
    {"LocalEngine", "current", "history", "query", "revisions_dataset", "to_duckdb"}
)


def __getattr__(name: str) -> Any:
    if name in _LOCAL:
        import athena.local

        return getattr(athena.local, name)
    raise AttributeError(f"module 'athena' has no attribute {name!r}")


__all__ = [
    "BLOCKS_TABLE",
    "QUERY_NAMES",
    "REVISIONS_TABLE",
    "VIEW_NAMES",
    "AthenaError",
    "DeployError",
    "DeployPlan",
    "DeployStep",
    "EngineMemoryError",
    "InvalidNameError",
    "LocalEngine",
    "LocalQueryError",
    "TypedColumn",
    "TypedViewSpec",
    "UnknownSqlError",
    "blocks_columns",
    "current",
    "deploy",
    "history",
    "infer_columns",
    "infer_table_columns",
    "projection_properties",
    "query",
    "render_blocks_ddl",
    "render_plan",
    "render_query",
    "render_revisions_ddl",
    "render_typed_view",
    "render_view",
    "revisions_columns",
    "revisions_dataset",
    "steps_sql",
    "to_duckdb",
]

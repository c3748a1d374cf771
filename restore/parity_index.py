"""The archive side of parity, computed once: slim revision rows and the two parity indexes.

Parity asks several questions of the archive's user view (counts, two levels of bucket sums,
rows). Computing the view for each, or materializing it with its ``data_json``, costs most of a
full comparison. Instead, in the local engine's DuckDB:

1. ``parity_revisions.sql`` reduces every archived row to what the views rank, partition and
   filter by, with ``data_json`` replaced by its SHA-256 (the content hash) and the columns
   they only carry NULL;
2. the views themselves (athena/sql/history.sql, versions.sql, current.sql, unchanged) run over
   those rows in schemas of their own, so copies, conflicts, deletes and redactions are decided
   exactly as over the archive (trap: ``copies``, ``tx_time``... of these views are not the
   archive's; no index reads them);
3. ``parity_current_index.sql`` and ``parity_history_index.sql`` keep, per document and per
   revision, its doc-id hash and the two halves of its row checksum as integers.

The parity questions (restore/sql/parity_*.sql) then read a narrow table, mostly integers. Every result of a
document depends only on that document's rows (the views partition by ledger and doc_id), which
is what lets `restore.parity_cache` recompute only the documents new objects touch:
`index_rows` over (their cached rows and the new rows).
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Final, Literal

from athena.local import LOCAL_DATABASE, LocalEngine, to_duckdb
from athena.views import read_view, render_sql, render_view

__all__ = [
    "INDEX_SCHEMA",
    "IndexName",
    "ensure_history_index",
    "index_archive",
    "index_fingerprint",
    "index_rows",
    "load_slim_rows",
    "render_index_sql",
]

INDEX_SCHEMA: Final = "parity"
"""Where the indexes are (``parity.parity_current_index``...); restore/sql/parity_*.sql read it."""
_VIEWS_SCHEMA: Final = "parity_rows"
"""The schema whose ``revisions`` are slim rows, with the views over them."""
IndexName = Literal["parity_current_index", "parity_history_index"]
INDEXES: Final[tuple[IndexName, ...]] = ("parity_current_index", "parity_history_index")
_SQL_FILES: Final = ("parity_revisions", *INDEXES)
_VIEWS: Final = ("history", "versions", "current")


def _read_index_sql(name: str) -> str:
    return resources.files("restore").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


def render_index_sql(name: str, *, database: str) -> str:
    """One of parity_revisions, parity_current_index, parity_history_index for `database`.

    >>> "FROM main.revisions" in render_index_sql("parity_revisions", database="main")
    True
    """
    if name not in _SQL_FILES:
        raise ValueError(f"no parity index SQL {name!r}; choose one of {', '.join(_SQL_FILES)}")
    return render_sql(_read_index_sql(name), database=database)


def index_fingerprint() -> str:
    """SHA-256 of every statement an index depends on: a cache made by other SQL is not reused."""
    digest = hashlib.sha256()
    for text in [*(_read_index_sql(n) for n in _SQL_FILES), *(read_view(v) for v in _VIEWS)]:
        digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()


def load_slim_rows(engine: LocalEngine, *, source: str, into: str | None) -> str:
    """Slim rows of ``source.revisions``, as table `into` (None: a view, read once); its name."""
    select = to_duckdb(render_index_sql("parity_revisions", database=source))
    name = into or f"{INDEX_SCHEMA}.slim_{source}"
    kind = "TABLE" if into else "VIEW"
    engine.con.execute(f"CREATE SCHEMA IF NOT EXISTS {INDEX_SCHEMA}")
    engine.con.execute(f"CREATE OR REPLACE {kind} {name} AS {select}")
    return name


def index_rows(engine: LocalEngine, rows: str, *, prefix: str = "", history: bool = True) -> None:
    """The indexes of the slim rows in relation `rows`, as tables ``parity.<prefix><index>``.

    The three views are rendered over `rows` and left as views: each index is one query through
    them, in which DuckDB computes only the window functions that index reads (current needs
    neither ``copies`` nor ``conflict``). With `history` False the history index is made only
    if asked for (`ensure_history_index`).
    """
    views = _views_schema(prefix)
    engine.con.execute(f"CREATE SCHEMA IF NOT EXISTS {INDEX_SCHEMA}")
    engine.con.execute(f"CREATE SCHEMA IF NOT EXISTS {views}")
    engine.con.execute(f"CREATE OR REPLACE VIEW {views}.revisions AS SELECT * FROM {rows}")
    for view in _VIEWS:
        engine.con.execute(to_duckdb(render_view(view, database=views)))
    _create_index(engine, "parity_current_index", views, prefix)
    if history:
        _create_index(engine, "parity_history_index", views, prefix)


def _views_schema(prefix: str) -> str:
    return f"{_VIEWS_SCHEMA}_{prefix.rstrip('_')}" if prefix else _VIEWS_SCHEMA


def ensure_history_index(engine: LocalEngine) -> None:
    """The history index, made from the views of the last `index_rows` if not there yet."""
    found = engine.con.sql(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        params=[INDEX_SCHEMA, "parity_history_index"],
    ).fetchall()
    if not found:
        _create_index(engine, "parity_history_index", _VIEWS_SCHEMA, "")


def _create_index(engine: LocalEngine, index: IndexName, views: str, prefix: str) -> None:
    select = to_duckdb(render_index_sql(index, database=views))
    engine.con.execute(f"CREATE OR REPLACE TABLE {INDEX_SCHEMA}.{prefix}{index} AS {select}")


def index_archive(engine: LocalEngine, *, keep_rows: bool) -> str | None:
    """Cold: the indexes of every archived row of the engine; the slim rows' table if kept."""
    rows = load_slim_rows(
        engine, source=LOCAL_DATABASE, into=f"{INDEX_SCHEMA}.slim_rows" if keep_rows else None
    )
    index_rows(engine, rows, history=keep_rows)
    return rows if keep_rows else None

"""The restore's plan SQL (restore/sql/*.sql, Athena dialect), rendered for a database.

Written in Athena SQL like the views, so the same statements run on DuckDB locally (through
`athena.local.to_duckdb`) and on Athena at scale (`athena.remote.AthenaEngine`), where an
UNLOAD writes the large answers to Parquet (`restore.split`, `render_unload`).
"""

from __future__ import annotations

from importlib import resources
from typing import Final

from athena.views import DATABASE_PLACEHOLDER, check_database_name

__all__ = ["PLAN_QUERIES", "read_plan_query", "render_plan_query", "render_unload"]

PLAN_QUERIES: Final[tuple[str, ...]] = (
    "plan_tables",
    "plan_conflicts",
    "plan_version_gaps",
    "plan_unsummarised",
    "plan_missing_revisions",
    "plan_block_for_time",
    "plan_chunks",
    "plan_block_range",
    "plan_document_ranges",
    "plan_final_state",
    "plan_document_order",
    "plan_bulk_rows",
    "plan_revisions",
    "split_revisions",
    "split_blocks",
    "parity_buckets",
    "parity_rows",
    "parity_counts",
    "parity_documents",
    "parity_history_counts",
    "parity_history_buckets",
    "parity_history_rows",
    "ledger_blocks",
    "ledger_revision_ion",
    "ledger_current_ion",
)


def read_plan_query(name: str) -> str:
    """The raw text of one plan query, header comment included."""
    if name not in PLAN_QUERIES:
        raise ValueError(f"no plan query {name!r}; choose one of {', '.join(PLAN_QUERIES)}")
    return resources.files("restore").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


def render_plan_query(name: str, *, database: str) -> str:
    """One plan query for `database`, without its header comment (``?`` parameters kept).

    >>> "FROM main.history" in render_plan_query("plan_tables", database="main")
    True
    """
    lines = read_plan_query(name).splitlines()
    while lines and (not lines[0].strip() or lines[0].startswith("--")):
        lines.pop(0)
    return "\n".join(lines).replace(DATABASE_PLACEHOLDER, check_database_name(database))


def render_unload(*, database: str, output: str) -> str:
    """The Athena UNLOAD that writes the de-duplicated revision stream (``plan_revisions``) to `output`.

    Its parameters are the block range and the table selection. `restore-split` unloads the
    archive's rows by shard instead (`restore.split`); this one is for other readers of the
    revision stream. `output` must be an ``s3://`` prefix; quotes are refused, not escaped.

    >>> render_unload(database="qldb_archive", output="s3://b/plan/").startswith("UNLOAD (")
    True
    """
    # imported here, not with the module: athena.remote needs pyarrow, which the live Lambda lacks
    from athena.remote import render_unload as athena_unload

    return athena_unload(render_plan_query("plan_revisions", database=database), output=output)

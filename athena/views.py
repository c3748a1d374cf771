"""The Athena views and parameterised queries: their .sql files under athena/sql, rendered for a database.

Each view is one ``athena/sql/<name>.sql`` file holding ``CREATE OR REPLACE VIEW {database}.<name>
AS ...`` in Athena (Trino) SQL; each parameterised query (point in time, one document's history)
is one ``athena/sql/queries/<name>.sql`` holding a ``SELECT`` with ``?`` parameters, which run as
Athena prepared statements and as DuckDB parameters alike. ``{database}`` is the only placeholder;
it is filled here and nowhere else, and only with a name `check_database_name` accepts, so no
quoting question arises.

The SQL avoids what sqlglot cannot translate from Trino to DuckDB faithfully (``json_extract_scalar``
on objects, ``AT TIME ZONE``, ``to_iso8601``, timestamp offsets and precision, DATE partition
columns, DISTINCT in window aggregates): a bad translation is fixed in the .sql, never afterwards.

>>> VIEW_NAMES
('history', 'history_conflicts', 'versions', 'current', 'committed', 'health')
>>> render_view("current", database="qldb").splitlines()[-1]
'WHERE v.replaced_at_block IS NULL AND NOT v.is_deleted'
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Final

from athena.errors import InvalidNameError, UnknownSqlError

__all__ = [
    "DATABASE_PLACEHOLDER",
    "QUERY_NAMES",
    "VIEW_NAMES",
    "check_database_name",
    "read_query",
    "read_view",
    "render_query",
    "render_sql",
    "render_view",
]

VIEW_NAMES: Final[tuple[str, ...]] = (
    "history",
    "history_conflicts",
    "versions",
    "current",
    "committed",
    "health",
)
"""The views, in creation order (each reads only the revisions and blocks tables and views before it)."""

QUERY_NAMES: Final[tuple[str, ...]] = ("current_as_of_block", "current_as_of_time", "document_history")
"""The parameterised queries (Athena prepared statements / named queries)."""

DATABASE_PLACEHOLDER: Final = "{database}"

_GLUE_NAME: Final = re.compile(r"[a-z0-9_]{1,255}")


def check_database_name(name: str) -> str:
    """Return `name` if it is a Glue database name usable unquoted in Hive and Trino SQL.

    Glue lowercases names and allows letters, digits and underscores
    (https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html).

    Raises:
        InvalidNameError: any other character, an upper-case letter or an empty name.

    >>> check_database_name("qldb_archive")
    'qldb_archive'
    """
    if not _GLUE_NAME.fullmatch(name):
        raise InvalidNameError(name, reason="use 1-255 lower-case letters, digits and underscores")
    return name


def _read(folder: str, name: str, known: tuple[str, ...]) -> str:
    if name not in known:
        raise UnknownSqlError(name, known=known)
    root = resources.files("athena").joinpath("sql")
    if folder:
        root = root.joinpath(folder)
    return root.joinpath(f"{name}.sql").read_text(encoding="utf-8")


def read_view(name: str) -> str:
    """The raw SQL of view `name`, placeholder included."""
    return _read("", name, VIEW_NAMES)


def read_query(name: str) -> str:
    """The raw SQL of parameterised query `name`, placeholder included."""
    return _read("queries", name, QUERY_NAMES)


def _render(raw: str, database: str) -> str:
    lines = raw.splitlines()
    while lines and (not lines[0].strip() or lines[0].startswith("--")):
        lines.pop(0)  # the header comment documents the file; Athena gets the statement alone
    return "\n".join(lines).replace(DATABASE_PLACEHOLDER, check_database_name(database))


def render_sql(raw: str, *, database: str) -> str:
    r"""Any Athena statement written with the placeholder, rendered as the views are.

    For SQL kept beside the code that runs it (restore/sql): header comment dropped, database
    checked and filled in.

    >>> render_sql("-- a comment\nSELECT 1 FROM {database}.current", database="qldb")
    'SELECT 1 FROM qldb.current'
    """
    return _render(raw, database)


def render_view(name: str, *, database: str) -> str:
    """The ``CREATE OR REPLACE VIEW`` statement of view `name` in `database` (Athena SQL).

    The file's header comment is left out: it documents the view, the statement is what runs.
    """
    return _render(read_view(name), database)


def render_query(name: str, *, database: str) -> str:
    """The ``SELECT`` of parameterised query `name` reading `database` (Athena SQL, ``?`` parameters)."""
    return _render(read_query(name), database)

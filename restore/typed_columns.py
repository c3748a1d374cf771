r"""Typed columns on restored current tables: generated columns computed by the database from ``data``.

``restore --typed`` gives each current table one column per top-level document field, with the
types the Athena typed views infer (`athena.typed.infer_table_columns`). They are *generated*
columns (PostgreSQL ``STORED``, MySQL/MariaDB and SQLite ``VIRTUAL``): the database computes them
from ``data``, so the apply path, the version guard and the parity check are unchanged, and a
column can never disagree with the document it was computed from. They can be indexed.

Each expression checks the JSON type before it casts: a document whose field has another type
than the one inferred (a later document, a point-in-time restore) gets NULL in that column
instead of failing the insert. ``varchar`` is the scalar's text (``true`` for a boolean, decimals
as their exact text, as in the typed views); ``json`` is the value's JSON text.

Field names come from users: a field enters the SQL only inside a string literal (a JSON path
on MySQL and SQLite, a key on PostgreSQL), escaped for both the path and the literal, and as a
column name only through the target's ``quote``. A column name is checked by the table-name
rules of the engine (`restore.identifiers`); a field that cannot be a column is skipped, and
`typed_columns_for` says which and why. The restore's own columns (``doc_id``, ``data``...)
are never shadowed: such a field gets a numeric suffix. MariaDB and SQLite match a path against
a key's JSON text as written, so a key spelled with ``\u`` escapes is not found there (the
archive writes keys as UTF-8).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from athena.typed import TypedColumn

if TYPE_CHECKING:
    from restore.identifiers import IdentifierRules

__all__ = [
    "CURRENT_COLUMNS",
    "SkippedField",
    "TypedEngine",
    "render_typed_column",
    "typed_columns_for",
]

TypedEngine = Literal["sqlite", "mysql", "mariadb", "postgresql"]
"""The SQL spellings: MySQL and MariaDB differ in their JSON type."""

CURRENT_COLUMNS: Final[tuple[str, ...]] = (
    "doc_id",
    "version",
    "block_seq",
    "tx_time",
    "data",
    "content_hash",
)
"""The columns every current table has; a typed column never takes one of these names."""


@dataclass(frozen=True, slots=True)
class SkippedField:
    """A document field that gets no typed column.

    Attributes:
        field: the field name.
        reason: why (too long for the engine, a control character...).
    """

    field: str
    reason: str


def _column_problem(name: str, field: str, rules: IdentifierRules, engine: str) -> str | None:
    if engine == "sqlite" and '"' in field:  # SQLite's JSON paths have no escape for a quote
        return "SQLite cannot address a field whose name holds a double quote"
    if any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in name):
        return "the name holds a control character"
    if name != name.strip():
        return "the name starts or ends with white space"
    if rules.bmp_only and any(ord(ch) > 0xFFFF for ch in name):
        return "MySQL identifiers cannot hold characters beyond U+FFFF"
    if rules.length(name) > rules.max_length:
        return f"the name is {rules.length(name)} {rules.unit} long; this database allows {rules.max_length}"
    return None


def typed_columns_for(
    inferred: Sequence[TypedColumn], rules: IdentifierRules, engine: str
) -> tuple[list[TypedColumn], list[SkippedField]]:
    """The typed columns a current table gets, and the fields skipped with their reason.

    Column names are unique case-insensitively and never one of `CURRENT_COLUMNS`.

    Args:
        inferred: the typed view's columns (`athena.typed.infer_table_columns`).
        rules: the target's identifier rules.
        engine: the target's engine (``capabilities.engine``).

    >>> from restore.identifiers import IdentifierRules
    >>> cols, skipped = typed_columns_for(
    ...     [TypedColumn("data", "data", "json"), TypedColumn("x" * 70, "x" * 70, "bigint")],
    ...     IdentifierRules(max_length=64),
    ...     "postgresql",
    ... )
    >>> [(c.field, c.column) for c in cols], [s.field[:3] for s in skipped]
    ([('data', 'data_2')], ['xxx'])
    """
    taken = {c.lower() for c in CURRENT_COLUMNS}
    columns: list[TypedColumn] = []
    skipped: list[SkippedField] = []
    for col in inferred:
        name, n = col.field, 1
        while name.lower() in taken:
            n += 1
            name = f"{col.field}_{n}"
        problem = _column_problem(name, col.field, rules, engine)
        if problem is not None:
            skipped.append(SkippedField(col.field, problem))
            continue
        taken.add(name.lower())
        columns.append(TypedColumn(col.field, name, col.type))
    return columns, skipped


def _sql_literal(text: str, *, backslash_escapes: bool) -> str:
    if backslash_escapes:  # MySQL and MariaDB read backslash escapes inside literals by default
        text = text.replace("\\", "\\\\")
    return "'" + text.replace("'", "''") + "'"


def _json_path(field: str) -> str:
    r"""A JSON path to one top-level member, quoted: ``$."..."``, with ``\`` and ``"`` escaped.

    MySQL and MariaDB read the quoted name as a JSON string. SQLite compares it with the key's
    JSON text as written (so ``\\`` for a backslash) and ends it at the first ``"``, escaped or
    not (`typed_columns_for` skips such names there).
    """
    return '$."' + field.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _postgresql(field: str, kind: str) -> tuple[str, str]:
    key = _sql_literal(field, backslash_escapes=False)
    value, text, json_type = f"(data -> {key})", f"(data ->> {key})", f"jsonb_typeof(data -> {key})"
    if kind == "json":
        return "jsonb", value
    if kind == "varchar":
        return "text", f"CASE WHEN {json_type} <> 'null' THEN {text} END"
    if kind == "boolean":
        return "boolean", f"CASE WHEN {json_type} = 'boolean' THEN {text}::boolean END"
    if kind == "double":
        return "double precision", f"CASE WHEN {json_type} = 'number' THEN {text}::double precision END"
    whole = f"{json_type} = 'number' AND {text} ~ '^-?[0-9]{{1,18}}$'"  # fits a bigint, never overflows
    return "bigint", f"CASE WHEN {whole} THEN {text}::bigint END"


def _mysql(field: str, kind: str, *, mariadb: bool) -> tuple[str, str]:
    path = _sql_literal(_json_path(field), backslash_escapes=True)
    value = f"JSON_EXTRACT(data, {path})"
    json_type = f"JSON_TYPE({value})"
    if kind == "json":
        return ("LONGTEXT" if mariadb else "JSON"), value
    if kind == "varchar":
        return "LONGTEXT", f"CASE WHEN {json_type} <> 'NULL' THEN JSON_UNQUOTE({value}) END"
    if kind == "boolean":
        return "BOOLEAN", f"CASE WHEN {json_type} = 'BOOLEAN' THEN JSON_UNQUOTE({value}) = 'true' END"
    if kind == "double":
        numbers = "('INTEGER', 'UNSIGNED INTEGER', 'DOUBLE', 'DECIMAL')"
        return "DOUBLE", f"CASE WHEN {json_type} IN {numbers} THEN CAST(JSON_UNQUOTE({value}) AS DOUBLE) END"
    return "BIGINT", f"CASE WHEN {json_type} = 'INTEGER' THEN CAST(JSON_UNQUOTE({value}) AS SIGNED) END"


def _sqlite(field: str, kind: str) -> tuple[str, str]:
    path = _sql_literal(_json_path(field), backslash_escapes=False)
    value, json_type = f"json_extract(data, {path})", f"json_type(data, {path})"
    if kind == "json":
        containers = f"{json_type} IN ('object', 'array')"
        return (
            "TEXT",
            f"CASE WHEN {json_type} IS NULL THEN NULL WHEN {containers} THEN {value} "
            f"ELSE json_quote({value}) END",
        )
    if kind == "varchar":
        return "TEXT", (
            f"CASE {json_type} WHEN 'null' THEN NULL WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
            f"ELSE CAST({value} AS TEXT) END"
        )
    if kind == "boolean":
        return "INTEGER", f"CASE {json_type} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END"
    if kind == "double":
        return "REAL", f"CASE WHEN {json_type} IN ('integer', 'real') THEN CAST({value} AS REAL) END"
    return "INTEGER", f"CASE WHEN {json_type} = 'integer' THEN {value} END"


def render_typed_column(
    engine: TypedEngine, table: str, column: TypedColumn, *, quote: Callable[[str], str]
) -> str:
    """The ``ALTER TABLE ... ADD COLUMN ... GENERATED ALWAYS AS (...)`` of one typed column.

    Args:
        engine: the SQL spelling.
        table: the current table's name (quoted here with `quote`).
        column: the column (from `typed_columns_for`).
        quote: the target's identifier quoting.

    >>> q = lambda n: '"' + n.replace('"', '""') + '"'
    >>> print(render_typed_column("postgresql", "Vehicle", TypedColumn("Year", "Year", "bigint"), quote=q))
    ... # doctest: +NORMALIZE_WHITESPACE
    ALTER TABLE "Vehicle" ADD COLUMN IF NOT EXISTS "Year" bigint GENERATED ALWAYS AS
    (CASE WHEN jsonb_typeof(data -> 'Year') = 'number' AND (data ->> 'Year') ~ '^-?[0-9]{1,18}$'
    THEN (data ->> 'Year')::bigint END) STORED
    """
    if engine == "postgresql":
        sql_type, expr = _postgresql(column.field, column.type)
        return (
            f"ALTER TABLE {quote(table)} ADD COLUMN IF NOT EXISTS {quote(column.column)} {sql_type} "
            f"GENERATED ALWAYS AS ({expr}) STORED"
        )
    if engine == "sqlite":
        sql_type, expr = _sqlite(column.field, column.type)
    else:
        sql_type, expr = _mysql(column.field, column.type, mariadb=engine == "mariadb")
    return (
        f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column.column)} {sql_type} "
        f"GENERATED ALWAYS AS ({expr}) VIRTUAL"
    )

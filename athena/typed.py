"""Typed per-table views: columns extracted from ``data_json``, with types inferred from the archive.

``<table>_typed`` is the ``current`` view of one QLDB table with each top-level field of its
documents as a column. The columns are inferred (`infer_table_columns`) from every current
document of the table and rendered (`render_typed_view`) as Athena (Trino) SQL; re-run both when
the documents change shape. JSON type -> Athena type:

- ``true``/``false`` -> ``boolean``; an integer -> ``bigint``; a number with a fraction or an
  exponent -> ``double``.
- A string -> ``varchar``, and that includes Ion **decimals**: the projection writes them as JSON
  strings of the exact decimal (``"90.25"``, ``"9.0"``, docs/ion-json-projection.md), which
  nothing in the JSON tells apart from user strings. They stay ``varchar`` so that no digit and
  no scale is lost; cast in the query where the field is known to be a decimal
  (``CAST(fees AS DECIMAL(10, 2))``). Ion timestamps are ISO 8601 strings with their own
  precision and offset, so they stay ``varchar`` too (``from_iso8601_timestamp`` in the query).
- An object or an array -> ``json`` text, by ``json_format(json_extract(...))``. The trap:
  ``json_extract_scalar`` on an object or array is NULL in Trino but the object's text in
  DuckDB, so it is used only on fields that are scalar in every document.
- Mixed scalar types -> ``varchar`` (the scalar's text); scalar and container mixed -> JSON text.
  A field that is null in every document -> ``varchar``.

A JSON ``null`` and a missing field are both SQL NULL in the typed view; tell them apart on
``data_json`` (``json_extract(data_json, '$.f')`` is JSON null for one, SQL NULL for the other).

Names come from users: the QLDB table name enters the SQL only as a string literal (quotes
doubled) and in the view name, which must be a Glue name once lower-cased; a field name enters
only as a quoted identifier (``"`` doubled) and as a bracketed JSON path (``$["a b"]``, ``"`` and
backslash escaped), never spliced bare. Trino folds identifiers to lower case, so two fields that
differ only in case, or a field named like a metadata column, get a numeric suffix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from athena.errors import InvalidNameError
from athena.views import check_database_name

if TYPE_CHECKING:
    from athena.local import LocalEngine

__all__ = [
    "METADATA_COLUMNS",
    "AthenaType",
    "TypedColumn",
    "infer_columns",
    "infer_table_columns",
    "render_typed_view",
    "typed_view_name",
]

AthenaType = Literal["boolean", "bigint", "double", "varchar", "json"]
"""The column types a typed view uses (``json``: JSON text in a ``varchar``)."""

METADATA_COLUMNS: Final[tuple[str, ...]] = ("ledger", "doc_id", "version", "tx_time", "block_seq")
"""The ``current`` columns every typed view starts with."""

_PLAIN_FIELD: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_FIELD: Final = 255


@dataclass(frozen=True, slots=True)
class TypedColumn:
    """One column of a typed view.

    Attributes:
        field: the top-level field name in the documents (as the user wrote it).
        column: the view's column name (unique case-insensitively, never a metadata column).
        type: its Athena type.
    """

    field: str
    column: str
    type: AthenaType


def _json_type(value: object) -> AthenaType | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "varchar"
    return "json"


def _merge(seen: set[AthenaType]) -> AthenaType:
    if not seen:
        return "varchar"
    if len(seen) == 1:
        return next(iter(seen))
    if "json" in seen:
        return "json"
    if seen == {"bigint", "double"}:
        return "double"
    return "varchar"


def _unique_column(field: str, taken: set[str]) -> str:
    name, n = field, 1
    while name.lower() in taken:
        n += 1
        name = f"{field}_{n}"
    taken.add(name.lower())
    return name


def infer_columns(documents: Iterable[str | None]) -> list[TypedColumn]:
    """Infer a typed view's columns from documents' JSON text (None: a deleted or redacted one).

    Fields keep their first-seen order. See the module docstring for the type rules.

    Raises:
        InvalidNameError: an empty field name, or one longer than 255 characters.

    >>> [(c.column, c.type) for c in infer_columns(['{"a": 1, "b": "9.0"}', '{"a": 1.5, "c": {}}'])]
    [('a', 'double'), ('b', 'varchar'), ('c', 'json')]
    """
    types: dict[str, set[AthenaType]] = {}
    for text in documents:
        if text is None:
            continue
        doc = json.loads(text)
        if not isinstance(doc, dict):
            continue
        for field, value in doc.items():
            seen = types.setdefault(field, set())
            kind = _json_type(value)
            if kind is not None:
                seen.add(kind)
    taken = set(METADATA_COLUMNS)
    out = []
    for field, seen in types.items():
        if not field or len(field) > _MAX_FIELD:
            raise InvalidNameError(field, reason=f"a field name must have 1-{_MAX_FIELD} characters")
        out.append(TypedColumn(field, _unique_column(field, taken), _merge(seen)))
    return out


def infer_table_columns(engine: LocalEngine, table: str) -> list[TypedColumn]:
    """Infer the typed view's columns of QLDB table `table` from its current documents.

    Args:
        engine: a local engine over the archive.
        table: the QLDB table name, as in QLDB (case-sensitive).

    Raises:
        InvalidNameError: a field name no view can carry.
        LocalQueryError: the archive cannot be queried.
    """
    rows = engine.query("SELECT data_json FROM current WHERE table_name = ?", [table])
    return infer_columns(rows.column("data_json").to_pylist())


def typed_view_name(table: str) -> str:
    """The typed view's name of QLDB table `table`: ``<table>_typed``, lower case (as Glue keeps it).

    Raises:
        InvalidNameError: the lower-cased name is not a Glue name (QLDB table names are letters,
            digits and underscores, so only a hand-made name can fail).

    >>> typed_view_name("VehicleRegistration")
    'vehicleregistration_typed'
    """
    name = f"{table.lower()}_typed"
    try:
        return check_database_name(name)
    except InvalidNameError:
        raise InvalidNameError(table, reason="a typed view needs letters, digits and underscores") from None


def _string_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_path(field: str) -> str:
    if _PLAIN_FIELD.fullmatch(field):
        return f"$.{field}"
    escaped = field.replace("\\", "\\\\").replace('"', '\\"')
    return f'$["{escaped}"]'


def _column_sql(col: TypedColumn) -> str:
    path = _string_literal(_json_path(col.field))
    if col.type == "json":
        expr = f"json_format(json_extract(data_json, {path}))"
    elif col.type == "varchar":
        expr = f"json_extract_scalar(data_json, {path})"
    else:
        expr = f"CAST(json_extract_scalar(data_json, {path}) AS {col.type.upper()})"
    return f"    {expr} AS {_identifier(col.column)}"


def render_typed_view(table_name: str, columns: Sequence[TypedColumn], *, database: str) -> str:
    """The ``CREATE OR REPLACE VIEW {database}.<table>_typed`` statement (Athena SQL).

    Args:
        table_name: the QLDB table name, as in QLDB.
        columns: the columns, from `infer_table_columns` (or chosen by hand).
        database: the Glue database.

    Raises:
        InvalidNameError: `database` or the view name is not a Glue name.

    >>> cols = [TypedColumn("Year", "Year", "bigint")]
    >>> print(render_typed_view("Vehicle", cols, database="qldb"))  # doctest: +NORMALIZE_WHITESPACE
    CREATE OR REPLACE VIEW qldb.vehicle_typed AS
    SELECT
        ledger,
        doc_id,
        version,
        tx_time,
        block_seq,
        CAST(json_extract_scalar(data_json, '$.Year') AS BIGINT) AS "Year"
    FROM qldb.current
    WHERE table_name = 'Vehicle'
    """
    database = check_database_name(database)
    selected = [f"    {c}" for c in METADATA_COLUMNS] + [_column_sql(c) for c in columns]
    return (
        f"CREATE OR REPLACE VIEW {database}.{typed_view_name(table_name)} AS\n"
        "SELECT\n" + ",\n".join(selected) + "\n"
        f"FROM {database}.current\n"
        f"WHERE table_name = {_string_literal(table_name)}"
    )

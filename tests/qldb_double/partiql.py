"""The PartiQL subset the double executes: exactly the statement shapes the QLDB target emits.

Identifiers are bare (``Person``) or double-quoted with doubled quotes inside (``"we""ird"``);
values are only ``?`` parameters. Shapes:

- ``CREATE TABLE t`` / ``CREATE INDEX ON t (f)``
- ``SELECT * FROM information_schema.user_tables``
- ``SELECT * FROM t [AS a] [WHERE a.f = ?]``
- ``INSERT INTO t VALUE ?``
- ``UPDATE t AS a SET a.f = ?[, a.g = ?...] WHERE a.f = ?`` / ``UPDATE t AS a REMOVE a.f WHERE a.f = ?``
- ``DELETE FROM t AS a WHERE a.f = ?``

Anything else raises `Unsupported` (the server answers BadRequestException).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Statement", "Unsupported", "parse"]

_IDENT = r'(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*)'
_PATH = rf"(?P<alias_ref>{_IDENT})\.(?P<field>{_IDENT})"
_WHERE = rf"(?:\s+WHERE\s+(?P<w_alias>{_IDENT})\.(?P<w_field>{_IDENT})\s*=\s*\?)"
_AS = rf"(?:\s+AS\s+(?P<alias>{_IDENT}))"

_SHAPES: list[tuple[str, re.Pattern[str]]] = [
    ("create_table", re.compile(rf"CREATE\s+TABLE\s+(?P<table>{_IDENT})", re.I)),
    (
        "create_index",
        re.compile(rf"CREATE\s+INDEX\s+ON\s+(?P<table>{_IDENT})\s*\(\s*(?P<field>{_IDENT})\s*\)", re.I),
    ),
    ("user_tables", re.compile(r"SELECT\s+\*\s+FROM\s+information_schema\.user_tables", re.I)),
    ("select", re.compile(rf"SELECT\s+\*\s+FROM\s+(?P<table>{_IDENT}){_AS}?{_WHERE}?", re.I)),
    ("insert", re.compile(rf"INSERT\s+INTO\s+(?P<table>{_IDENT})\s+VALUE\s+\?", re.I)),
    (
        "update_set",
        re.compile(rf"UPDATE\s+(?P<table>{_IDENT}){_AS}\s+SET\s+(?P<sets>.+?){_WHERE}", re.I | re.S),
    ),
    ("update_remove", re.compile(rf"UPDATE\s+(?P<table>{_IDENT}){_AS}\s+REMOVE\s+{_PATH}{_WHERE}", re.I)),
    ("delete", re.compile(rf"DELETE\s+FROM\s+(?P<table>{_IDENT}){_AS}{_WHERE}", re.I)),
]
_SET = re.compile(rf"\s*(?P<alias_ref>{_IDENT})\.(?P<field>{_IDENT})\s*=\s*\?\s*")

Kind = Literal[
    "create_table", "create_index", "user_tables", "select", "insert", "update_set", "update_remove", "delete"
]


class Unsupported(Exception):  # noqa: N818 - answered as BadRequestException
    """A statement outside the subset."""


@dataclass(frozen=True, slots=True)
class Statement:
    """A parsed statement: its shape, table, the fields it sets or removes, its WHERE field."""

    kind: Kind
    table: str = ""
    fields: tuple[str, ...] = field(default=())
    where_field: str | None = None

    @property
    def parameters(self) -> int:
        """How many ``?`` it takes."""
        if self.kind in ("insert",):
            return 1
        n = len(self.fields) if self.kind == "update_set" else 0
        return n + (1 if self.where_field is not None else 0)

    @property
    def is_ddl(self) -> bool:
        """CREATE TABLE or CREATE INDEX."""
        return self.kind in ("create_table", "create_index")


def _name(token: str) -> str:
    return token[1:-1].replace('""', '"') if token.startswith('"') else token


def parse(text: str) -> Statement:
    """Parse one statement of the subset.

    Raises:
        Unsupported: any other statement, or an alias that is not the statement's own.
    """
    for kind, pattern in _SHAPES:
        m = pattern.fullmatch(text.strip())
        if m is None:
            continue
        groups = m.groupdict()
        alias = groups.get("alias")
        refs = [groups.get("alias_ref"), groups.get("w_alias")]
        fields: tuple[str, ...] = ()
        if kind == "update_set":
            parts = groups["sets"].split(",")
            matches = [_SET.fullmatch(p) for p in parts]
            if any(x is None for x in matches):
                raise Unsupported(f"SET list outside the subset: {text!r}")
            fields = tuple(_name(x["field"]) for x in matches if x is not None)
            refs += [x["alias_ref"] for x in matches if x is not None]
        elif groups.get("field") is not None:
            fields = (_name(groups["field"]),)
        if any(r is not None and (alias is None or _name(r) != _name(alias)) for r in refs):
            raise Unsupported(f"a path that does not start with the table's alias: {text!r}")
        where = groups.get("w_field")
        return Statement(
            kind=kind,  # type: ignore[arg-type]
            table=_name(groups.get("table") or ""),
            fields=fields,
            where_field=None if where is None else _name(where),
        )
    raise Unsupported(f"the double does not execute this statement: {text[:200]!r}")

"""Target table names from QLDB table names: validated, mapped, never interpolated unquoted.

QLDB table names come from users, and an archive may have been written by anything, so a name
is data until it has passed `table_names` and then only enters SQL through the target's
``quote`` (STYLE ex. 3). Each QLDB table gets a current table with the same name and, with
``--history``, a history table with the ``_history`` suffix.

Refused with a reason (`IdentifierError`), never truncated or rewritten: an empty name, control
characters, leading or trailing spaces, a name longer than the engine allows once suffixed
(MySQL 64 characters, PostgreSQL 63 bytes: PostgreSQL would silently truncate, so two long
names could land in one table), characters outside the Basic Multilingual Plane on MySQL
(utf8mb3 identifiers), the restore's own bookkeeping tables, and two names that differ only in
case (SQLite and MySQL on some systems treat them as one). Quotes, backticks, semicolons and
unicode letters are fine: quoting makes them inert.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from restore.errors import IdentifierError

__all__ = [
    "BOOKKEEPING_TABLES",
    "CHECKPOINT_TABLE",
    "HISTORY_SUFFIX",
    "IdentifierRules",
    "TOMBSTONE_TABLE",
    "TableNames",
    "parse_table_map",
    "table_names",
    "target_tables",
]

HISTORY_SUFFIX: Final = "_history"
CHECKPOINT_TABLE: Final = "qldb_restore_checkpoint"
TOMBSTONE_TABLE: Final = "qldb_restore_tombstones"
BOOKKEEPING_TABLES: Final = frozenset({CHECKPOINT_TABLE, TOMBSTONE_TABLE})


@dataclass(frozen=True, slots=True)
class IdentifierRules:
    """What an engine accepts as a table name.

    Attributes:
        max_length: the longest identifier, in `unit`.
        unit: ``chars`` (MySQL, SQLite) or ``bytes`` (PostgreSQL counts UTF-8 bytes).
        bmp_only: only characters of the Basic Multilingual Plane (MySQL).
    """

    max_length: int
    unit: Literal["chars", "bytes"] = "chars"
    bmp_only: bool = False

    def length(self, name: str) -> int:
        """The length of `name` as the engine counts it."""
        return len(name.encode("utf-8")) if self.unit == "bytes" else len(name)


@dataclass(frozen=True, slots=True)
class TableNames:
    """The target tables of one QLDB table.

    Attributes:
        qldb: the QLDB table name, as in the archive.
        current: the current-state table.
        history: the history table (created only with ``--history``).
    """

    qldb: str
    current: str
    history: str


def target_tables(names: Iterable[TableNames], *, history: bool) -> list[str]:
    """The target tables of these QLDB tables: every current table, then (with `history`) every history one.

    >>> target_tables([TableNames("P", "P", "P_history")], history=True)
    ['P', 'P_history']
    """
    names = list(names)
    return [n.current for n in names] + ([n.history for n in names] if history else [])


def parse_table_map(pairs: Iterable[str]) -> dict[str, str]:
    """``QLDB_NAME=target_name`` pairs (the ``--table-map`` option) as a dict.

    >>> parse_table_map(["VehicleRegistration=vehicle_registration"])
    {'VehicleRegistration': 'vehicle_registration'}
    """
    mapping: dict[str, str] = {}
    for pair in pairs:
        qldb, sep, target = pair.rpartition("=")
        if not sep or not qldb or not target:
            raise IdentifierError(pair, reason="a table map entry is QLDB_NAME=target_name")
        mapping[qldb] = target
    return mapping


def _check(qldb: str, name: str, rules: IdentifierRules) -> None:
    if not name:
        raise IdentifierError(qldb, reason="the name is empty")
    if any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in name):
        raise IdentifierError(qldb, reason="the name holds a control character or a lone surrogate")
    if name != name.strip():
        raise IdentifierError(qldb, reason="the name starts or ends with white space")
    if rules.bmp_only and any(ord(ch) > 0xFFFF for ch in name):
        raise IdentifierError(qldb, reason="MySQL identifiers cannot hold characters beyond U+FFFF")
    longest = rules.length(name + HISTORY_SUFFIX)
    if longest > rules.max_length:
        raise IdentifierError(
            qldb,
            reason=f"{name + HISTORY_SUFFIX!r} is {longest} {rules.unit} long; this database allows "
            f"{rules.max_length}",
        )
    if name.casefold() in BOOKKEEPING_TABLES or name.casefold().removesuffix(HISTORY_SUFFIX) in {
        t.removesuffix(HISTORY_SUFFIX) for t in BOOKKEEPING_TABLES
    }:
        raise IdentifierError(qldb, reason="the name is one of the restore's own tables")


def table_names(
    qldb_tables: Iterable[str], rules: IdentifierRules, table_map: Mapping[str, str] | None = None
) -> dict[str, TableNames]:
    """Validate and map every QLDB table name; the target names of each, by QLDB name.

    Raises:
        IdentifierError: a name is refused (see the module docstring), or two tables would land
            in one target table.

    >>> names = table_names(["Person"], IdentifierRules(max_length=64))
    >>> names["Person"].history
    'Person_history'
    """
    mapping = dict(table_map or {})
    result: dict[str, TableNames] = {}
    taken: dict[str, str] = {}
    for qldb in sorted(set(qldb_tables)):
        name = mapping.get(qldb, qldb)
        _check(qldb, name, rules)
        names = TableNames(qldb=qldb, current=name, history=name + HISTORY_SUFFIX)
        for target in (names.current, names.history):
            other = taken.get(target.casefold())
            if other is not None:
                raise IdentifierError(
                    qldb, reason=f"its table {target!r} would be the same table as one of {other!r}"
                )
            taken[target.casefold()] = qldb
        result[qldb] = names
    return result

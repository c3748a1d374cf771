"""The double's in-memory ledger: tables, documents and revisions, transactions, OCC and quotas.

A transaction works on its own overlay of the committed state (it reads its own writes) and
records what it read: documents by id, lookups by field value, whole-table scans. At commit, any
revision committed since the transaction started that touches what it read or wrote is an OCC
conflict (QLDB's optimistic concurrency control), and the quotas are checked: at most 40
documents and 4 MB (Ion binary) written per transaction, 128 KB per document, 20 active tables,
5 indexes per table. A commit is one block; each written document gets one new revision.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from amazon.ion import simpleion
from amazon.ion.simple_types import IonPyDict

if TYPE_CHECKING:
    from tests.qldb_double.partiql import Statement

__all__ = ["DoubleError", "Ledger", "Transaction"]

MAX_DOCUMENTS = 40
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
MAX_DOCUMENT_BYTES = 128 * 1024
MAX_TABLES = 20
MAX_INDEXES = 5
_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    """A QLDB-style id: 22 base62 characters."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(22))


class DoubleError(Exception):
    """An error the double answers with an AWS error code (``BadRequestException``...)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(slots=True)
class Revision:
    """One committed revision of a document (data None: deleted)."""

    doc_id: str
    version: int
    data: Any
    tx_id: str
    block_seq: int
    tx_time: dt.datetime


@dataclass(slots=True)
class Table:
    """A table: its indexes, every document's revisions, the live documents, the commits that touched it."""

    name: str
    table_id: str
    indexes: list[str] = field(default_factory=list)
    revisions: dict[str, list[Revision]] = field(default_factory=dict)
    live: dict[str, Any] = field(default_factory=dict)
    by_value: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # field -> value -> doc ids
    log: list[tuple[int, str, Any, Any]] = field(default_factory=list)  # (block, doc_id, before, after)

    def add_index(self, name: str) -> None:
        """Index a field, live documents included."""
        self.indexes.append(name)
        entries = self.by_value.setdefault(name, {})
        for doc_id, data in self.live.items():
            entries.setdefault(_key(_get(data, name)), set()).add(doc_id)

    def write(self, doc_id: str, before: Any, after: Any) -> None:
        """Keep the live documents and the indexes in step with one committed revision."""
        for name, entries in self.by_value.items():
            if before is not None:
                entries.get(_key(_get(before, name)), set()).discard(doc_id)
            if after is not None:
                entries.setdefault(_key(_get(after, name)), set()).add(doc_id)
        if after is None:
            self.live.pop(doc_id, None)
        else:
            self.live[doc_id] = after


@dataclass(slots=True)
class Transaction:
    """An open transaction: its overlay, what it read, its statements (for the commit digest)."""

    tx_id: str
    start: int  # the ledger's last block when it started
    writes: dict[tuple[str, str], Any] = field(default_factory=dict)  # None: deleted
    doc_reads: set[tuple[str, str]] = field(default_factory=set)
    value_reads: set[tuple[str, str, str]] = field(default_factory=set)  # (table, field, Ion text)
    scans: set[str] = field(default_factory=set)
    ddl: list[Statement] = field(default_factory=list)
    dml: int = 0
    statements: list[tuple[str, list[Any]]] = field(default_factory=list)


def _key(value: Any) -> str:
    text: str = simpleion.dumps(value, binary=False, omit_version_marker=True)
    return text


def _get(data: Any, name: str) -> Any:
    return data[name] if isinstance(data, IonPyDict) and name in data else None


class Ledger:
    """One ledger; the server serialises every call with a lock."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tables: dict[str, Table] = {}
        self.block = -1
        self.unindexed_lookups = 0

    # ---- reads and writes inside a transaction ---------------------------------------------------

    def _table(self, name: str) -> Table:
        table = self.tables.get(name)
        if table is None:
            raise DoubleError("BadRequestException", f"no such table: {name!r}")
        return table

    def _matching(self, tx: Transaction, st: Statement, params: list[Any]) -> dict[str, Any]:
        """The documents a statement's WHERE selects, as the transaction sees them (its writes included)."""
        table = self._table(st.table)
        mine = {d: data for (t, d), data in tx.writes.items() if t == table.name}
        if st.where_field is None:
            tx.scans.add(table.name)
            docs = {**table.live, **mine}
            return {d: data for d, data in docs.items() if data is not None}
        name, wanted = st.where_field, _key(params[-1])
        tx.value_reads.add((table.name, name, wanted))
        if name in table.by_value:
            committed = {d: table.live[d] for d in table.by_value[name].get(wanted, ())}
        else:
            self.unindexed_lookups += 1
            tx.scans.add(table.name)
            committed = {d: data for d, data in table.live.items() if _key(_get(data, name)) == wanted}
        found = {d: data for d, data in committed.items() if d not in mine}
        found.update(
            {d: data for d, data in mine.items() if data is not None and _key(_get(data, name)) == wanted}
        )
        tx.doc_reads.update((table.name, d) for d in found)
        return found

    def execute(self, tx: Transaction, st: Statement, params: list[Any]) -> list[Any]:
        """Run one statement in `tx`; its result values."""
        if len(params) != st.parameters:
            raise DoubleError(
                "BadRequestException", f"{st.parameters} parameter(s) expected, {len(params)} given"
            )
        if st.is_ddl:
            if tx.dml or tx.ddl:
                raise DoubleError("BadRequestException", "a DDL statement must be alone in its transaction")
            tx.ddl.append(st)
            return [{"tableId": st.table}]
        tx.dml += 1
        if tx.ddl:
            raise DoubleError("BadRequestException", "a DDL statement must be alone in its transaction")
        if st.kind == "user_tables":
            return [
                {
                    "name": t.name,
                    "tableId": t.table_id,
                    "status": "ACTIVE",
                    "indexes": [
                        {"indexId": f"{t.table_id}{i}", "expr": f"[{f}]", "status": "ONLINE"}
                        for i, f in enumerate(t.indexes)
                    ],
                }
                for t in self.tables.values()
            ]
        if st.kind == "select":
            return list(self._matching(tx, st, params).values())
        if st.kind == "insert":
            self._table(st.table)
            doc = params[0]
            if not isinstance(doc, IonPyDict):
                raise DoubleError("BadRequestException", "INSERT ... VALUE takes a struct")
            doc_id = new_id()
            tx.writes[(st.table, doc_id)] = simpleion.loads(simpleion.dumps(doc))
            return [{"documentId": doc_id}]
        found = self._matching(tx, st, params)
        for doc_id, data in found.items():
            if st.kind == "delete":
                tx.writes[(st.table, doc_id)] = None
                continue
            new = simpleion.loads(simpleion.dumps(data))
            if st.kind == "update_set":
                for name, value in zip(st.fields, params, strict=False):
                    new[name] = value
            else:
                for name in st.fields:
                    if name in new:
                        del new[name]
            tx.writes[(st.table, doc_id)] = new
        return [{"documentId": d} for d in found]

    # ---- commit --------------------------------------------------------------------------------------

    def _check_occ(self, tx: Transaction) -> None:
        for table_name in (
            {t for t, _ in tx.writes}
            | {t for t, _ in tx.doc_reads}
            | tx.scans
            | {t for t, _, _ in tx.value_reads}
        ):
            table = self.tables.get(table_name)
            if table is None:
                continue
            for block, doc_id, before, after in reversed(table.log):
                if block <= tx.start:
                    break
                touched = (
                    table_name in tx.scans
                    or (table_name, doc_id) in tx.writes
                    or (table_name, doc_id) in tx.doc_reads
                    or any(
                        t == table_name and (_key(_get(before, f)) == v or _key(_get(after, f)) == v)
                        for t, f, v in tx.value_reads
                    )
                )
                if touched:
                    raise DoubleError(
                        "OccConflictException",
                        f"Transaction {tx.tx_id} has encountered an error while committing (OCC conflict)",
                    )

    def _check_quotas(self, tx: Transaction) -> None:
        if len(tx.writes) > MAX_DOCUMENTS:
            raise DoubleError(
                "LimitExceededException", f"{len(tx.writes)} documents written; QLDB allows {MAX_DOCUMENTS}"
            )
        total = 0
        for data in tx.writes.values():
            size = 0 if data is None else len(simpleion.dumps(data))
            if size > MAX_DOCUMENT_BYTES:
                raise DoubleError(
                    "BadRequestException", f"a document of {size} bytes; QLDB allows {MAX_DOCUMENT_BYTES}"
                )
            total += size
        if total > MAX_TRANSACTION_BYTES:
            raise DoubleError(
                "LimitExceededException", f"{total} bytes written; QLDB allows {MAX_TRANSACTION_BYTES}"
            )

    def _apply_ddl(self, st: Statement) -> None:
        if st.kind == "create_table":
            if st.table in self.tables:
                raise DoubleError("BadRequestException", f"table {st.table!r} already exists")
            if len(self.tables) >= MAX_TABLES:
                raise DoubleError("LimitExceededException", f"{MAX_TABLES} active tables at most")
            self.tables[st.table] = Table(st.table, new_id())
            return
        table = self._table(st.table)
        (name,) = st.fields
        if name in table.indexes:
            raise DoubleError("BadRequestException", f"an index on {name!r} already exists")
        if len(table.indexes) >= MAX_INDEXES:
            raise DoubleError("LimitExceededException", f"{MAX_INDEXES} indexes per table at most")
        table.add_index(name)

    def commit(self, tx: Transaction) -> None:
        """Check OCC and quotas, then write one block."""
        self._check_occ(tx)
        self._check_quotas(tx)
        for st in tx.ddl:
            self._apply_ddl(st)
        self.block += 1
        now = dt.datetime.now(dt.UTC)
        for (table_name, doc_id), data in tx.writes.items():
            table = self.tables[table_name]
            revisions = table.revisions.setdefault(doc_id, [])
            before = revisions[-1].data if revisions else None
            revisions.append(Revision(doc_id, len(revisions), data, tx.tx_id, self.block, now))
            table.log.append((self.block, doc_id, before, data))
            table.write(doc_id, before, data)

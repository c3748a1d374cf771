"""What the simulated DMV application does: which transactions it runs, on which documents.

The workload keeps a bounded working set of live documents (`SimulationConfig.live_documents`):
for each, only its table and its latest revision (from which the next version is derived).
When an insert overflows the set, a random document is *retired*: it keeps its last revision for
good and is handed back to the caller as settled final state. A deleted document leaves the set.
So memory is proportional to the working set, never to the history; the ledger's redaction
window and the stream's shuffle window are the only other buffers.

Updates and deletes favour recently touched documents (half of the picks come from the last
few hundred documents touched), as applications do; this also gives the ledger inactive
revisions to redact while they are still held back.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from journal.simulate.dmv import (
    DELETE_STATEMENTS,
    INDEXES,
    REDACT_STATEMENT,
    DocumentFactory,
    TableInfo,
    create_index_statement,
    create_table_statement,
    insert_statement,
    new_id,
    select_statement,
)
from journal.simulate.ledger import DocumentChange, Ledger, TransactionPlan

if TYPE_CHECKING:
    from journal.records import Revision
    from journal.simulate.config import SimulationConfig, TableName

__all__ = ["TABLE_WEIGHTS", "Workload"]

TABLE_WEIGHTS: dict[TableName, float] = {
    "Person": 0.3,
    "DriversLicense": 0.2,
    "Vehicle": 0.2,
    "VehicleRegistration": 0.3,
}
"""How inserts spread over the tables."""

_RECENT = 256  # documents remembered as recently touched
_SHARE_INSERT = 0.5  # chance that an insert reuses the transaction's INSERT statement for its table
_INSERT_THEN_UPDATE = 0.05  # chance that an inserted document is also updated in its transaction


@dataclass(slots=True)
class _Doc:
    table: TableInfo
    latest: Revision


class _LiveSet:
    """Documents of one table with O(1) add, remove and uniform random choice."""

    __slots__ = ("docs", "index")

    def __init__(self) -> None:
        self.docs: list[_Doc] = []
        self.index: dict[str, int] = {}

    def add(self, doc: _Doc) -> None:
        self.index[doc.latest.doc_id] = len(self.docs)
        self.docs.append(doc)

    def remove(self, doc_id: str) -> _Doc:
        i = self.index.pop(doc_id)
        doc = self.docs[i]
        last = self.docs.pop()
        if last is not doc:
            self.docs[i] = last
            self.index[last.latest.doc_id] = i
        return doc

    def get(self, doc_id: str) -> _Doc | None:
        i = self.index.get(doc_id)
        return None if i is None else self.docs[i]


class Workload:
    """Plans transactions and commits them to a `Ledger` until the revision budget is spent.

    Args:
        config: the run's configuration.
        rng: the workload's random stream.
        tables: the user tables (name and id), in creation order.
        ledger: where transactions are committed.
    """

    def __init__(
        self, config: SimulationConfig, rng: random.Random, tables: tuple[TableInfo, ...], ledger: Ledger
    ) -> None:
        self._config = config
        self._rng = rng
        self._tables = tables
        self._ledger = ledger
        self._factory = DocumentFactory(rng, config.type_variety)
        self._table_by_name: dict[str, TableInfo] = {t.name: t for t in tables}
        self._live: dict[str, _LiveSet] = {t.name: _LiveSet() for t in tables}
        self._live_count = 0
        self._recent: deque[str] = deque(maxlen=_RECENT)
        self._insert_weights = [TABLE_WEIGHTS[t.name] for t in tables]
        mix = config.mix
        self._op_weights = [mix.insert, mix.update, mix.delete]
        self.revisions = 0
        self.transactions = 0

    def run(self) -> Iterator[list[Revision]]:
        """Commit the whole workload; after each commit yields the documents settled since the last.

        A settled document will never change again (it was retired from the working set, or the
        run ended): its latest revision is its final state. Deleted documents are never settled.
        """
        config = self._config
        for _ in range(config.system_blocks):
            self._ledger.commit(TransactionPlan(kind="system", system_revisions=self._rng.randint(1, 3)))
            yield []
        for table in self._tables:
            statements = (
                create_table_statement(table.name),
                *(create_index_statement(table.name, f) for f in INDEXES[table.name]),
            )
            self._ledger.commit(
                TransactionPlan(kind="ddl", statements=statements, system_revisions=len(statements))
            )
            yield []
        while self.revisions < config.revisions:
            plan = self._redaction() if self._rng.random() < config.mix.redact else None
            if plan is None:
                plan = self._user_transaction(config.revisions - self.revisions)
            committed = self._ledger.commit(plan)
            self.transactions += 1
            yield self._record(committed)
        yield self._settle_all()

    # --- planning ----------------------------------------------------------------------------

    def _redaction(self) -> TransactionPlan | None:
        target = self._ledger.redaction_candidate(self._rng)
        if target is None:
            return None
        return TransactionPlan(
            kind="redaction", statements=(REDACT_STATEMENT,), system_revisions=1, redaction_target=target
        )

    def _user_transaction(self, budget: int) -> TransactionPlan:
        rng = self._rng
        config = self._config
        size = 1
        if rng.random() < 0.03:  # now and then a batch job
            size = rng.randint(1, config.max_documents_per_transaction)
        else:
            while size < config.max_documents_per_transaction and rng.random() < 0.45:
                size += 1
        size = min(size, budget)

        statements: list[str] = []
        changes: list[DocumentChange] = []
        touched: set[str] = set()
        insert_at: dict[TableName, int] = {}
        for _ in range(size):
            op = rng.choices(("insert", "update", "delete"), self._op_weights)[0]
            doc = None if op == "insert" else self._pick_live(touched)
            if doc is None:
                table = rng.choices(self._tables, self._insert_weights)[0]
                doc_id = new_id(rng)
                data = self._factory.new_document(table.name, self._pick_person)
                at = insert_at.get(table.name)
                if at is None or rng.random() >= _SHARE_INSERT:
                    at = insert_at[table.name] = len(statements)
                    statements.append(insert_statement(table.name, rng))
                refs = [at]
                if rng.random() < _INSERT_THEN_UPDATE:
                    data, text = self._factory.update_document(table.name, data, self._pick_person)
                    refs.append(len(statements))
                    statements.append(text)
                changes.append(DocumentChange(table, doc_id, 0, data, tuple(refs)))
            elif op == "update":
                latest = doc.latest
                data, text = self._factory.update_document(doc.table.name, latest.data, self._pick_person)
                changes.append(
                    DocumentChange(doc.table, latest.doc_id, latest.version + 1, data, (len(statements),))
                )
                statements.append(text)
            else:
                latest = doc.latest
                changes.append(
                    DocumentChange(doc.table, latest.doc_id, latest.version + 1, None, (len(statements),))
                )
                statements.append(DELETE_STATEMENTS[doc.table.name])
            touched.add(changes[-1].doc_id)

        if rng.random() < config.mix.select:
            table = rng.choice(self._tables)
            at = rng.randrange(len(statements) + 1)
            statements.insert(at, select_statement(table.name, rng))
            changes = [
                DocumentChange(
                    c.table, c.doc_id, c.version, c.data, tuple(i + (i >= at) for i in c.statements)
                )
                for c in changes
            ]
        system = 1 if rng.random() < config.system_revision_rate else 0
        return TransactionPlan(
            kind="user", statements=tuple(statements), changes=tuple(changes), system_revisions=system
        )

    def _pick_live(self, exclude: set[str]) -> _Doc | None:
        """A live document not yet in this transaction: half the time a recently touched one."""
        if not self._live_count:
            return None
        rng = self._rng
        for _ in range(4):
            doc: _Doc | None = None
            if self._recent and rng.random() < 0.5:
                doc_id = self._recent[rng.randrange(len(self._recent))]
                for live in self._live.values():
                    doc = live.get(doc_id)
                    if doc is not None:
                        break
            else:
                doc = self._random_live()
            if doc is not None and doc.latest.doc_id not in exclude:
                return doc
        return None

    def _random_live(self) -> _Doc:
        sets = list(self._live.values())
        live = self._rng.choices(sets, [len(s.docs) for s in sets])[0]
        return live.docs[self._rng.randrange(len(live.docs))]

    def _pick_person(self) -> str:
        """A PersonId for a reference: a live Person when there is one, else a fresh-looking id."""
        persons = self._live.get("Person")
        if persons is not None and persons.docs and self._rng.random() < 0.9:
            return persons.docs[self._rng.randrange(len(persons.docs))].latest.doc_id
        return new_id(self._rng)

    # --- bookkeeping -------------------------------------------------------------------------

    def _record(self, committed: list[Revision]) -> list[Revision]:
        settled: list[Revision] = []
        for revision in committed:
            self.revisions += 1
            name = revision.table_name or ""
            live = self._live[name]
            if revision.version == 0:
                live.add(_Doc(self._table_by_name[name], revision))
                self._live_count += 1
            elif revision.data is None:
                live.remove(revision.doc_id)
                self._live_count -= 1
                continue
            else:
                doc = live.get(revision.doc_id)
                assert doc is not None
                doc.latest = revision
            self._recent.append(revision.doc_id)
        while self._live_count > self._config.live_documents:
            doc = self._random_live()
            self._live[doc.table.name].remove(doc.latest.doc_id)
            self._live_count -= 1
            settled.append(doc.latest)
        return settled

    def _settle_all(self) -> list[Revision]:
        settled = [doc.latest for live in self._live.values() for doc in live.docs]
        for live in self._live.values():
            live.docs.clear()
            live.index.clear()
        self._live_count = 0
        return settled

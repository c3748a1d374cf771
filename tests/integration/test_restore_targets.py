"""The target contract, run on every engine: SQLite, the running MariaDB and PostgreSQL.

Hand-built revisions whose right final state is plain from the scenario (QLDB semantics: the
highest version wins, a deletion is final, a redacted copy replaces the data of its version).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from restore.batch import RevisionBatch, RevisionRow
from restore.checkpoint import Checkpoint, RunIdentity
from restore.content import content_hash
from restore.errors import IdentifierError, TerminalTargetError
from restore.identifiers import TableNames, table_names
from restore.targets import Target, open_target

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, 123000)
IDENTITY = RunIdentity(tables=(), history=True, as_of_block=None, as_of_time=None, shard="1/1")


def rev(
    doc_id: str,
    version: int,
    block_seq: int,
    data: dict[str, object] | None,
    *,
    table: str = "Person",
    deleted: bool = False,
    redacted: bool = False,
) -> RevisionRow:
    data_json = None if data is None else json.dumps(data)
    return RevisionRow(
        table_name=table,
        doc_id=doc_id,
        version=version,
        block_seq=block_seq,
        tx_id=f"tx{block_seq}",
        tx_time=T0 + dt.timedelta(seconds=block_seq),
        revision_hash=f"hash-{doc_id}-{version}",
        data_hash=f"dh-{doc_id}-{version}" if redacted else None,
        is_deleted=deleted,
        is_redacted=redacted,
        data_json=data_json,
        content_hash=content_hash(data_json),
    )


A0 = rev("A", 0, 1, {"name": "Ann", "age": 30})
A1 = rev("A", 1, 3, {"name": "Ann", "age": 31, "city": "Zürich"})
B0 = rev("B", 0, 1, {"name": "Bob"})
B1 = rev("B", 1, 2, None, deleted=True)
C0 = rev("C", 0, 2, {"name": "Cy", "tags": ["x", "y"], "amount": "12.50"})
ALL = (A0, A1, B0, B1, C0)


@pytest.fixture
def target(target_url: str) -> Iterator[Target]:
    with open_target(target_url) as t:
        yield t


def names_for(target: Target, *tables: str) -> dict[str, TableNames]:
    return table_names(tables or ("Person",), target.capabilities.identifiers)


def apply(target: Target, names: dict[str, TableNames], rows: tuple[RevisionRow, ...], seq: int = 0) -> None:
    batch = RevisionBatch(rows, min(r.block_seq for r in rows), max(r.block_seq for r in rows))
    checkpoint = Checkpoint(restore_id="restore", identity=IDENTITY, last_block_seq=seq, completed=False)
    target.apply(batch, names, checkpoint, history=True)


def state(target: Target, names: TableNames) -> tuple[list[Any], list[Any]]:
    current = [
        (r.doc_id, r.version, r.block_seq, r.tx_time, r.data, r.content_hash)
        for r in target.fetch_current(names)
    ]
    history = [
        (r.doc_id, r.version, r.is_deleted, r.is_redacted, r.data, r.revision_hash, r.data_hash, r.tx_time)
        for r in target.fetch_history(names)
    ]
    return current, history


EXPECTED_CURRENT = [
    ("A", 1, 3, A1.tx_time, {"name": "Ann", "age": 31, "city": "Zürich"}, A1.content_hash),
    ("C", 0, 2, C0.tx_time, {"name": "Cy", "tags": ["x", "y"], "amount": "12.50"}, C0.content_hash),
]


def test_any_order_and_any_repetition_converge(target: Target) -> None:
    # GIVEN two documents updated, one deleted, one untouched
    names = names_for(target)
    target.ensure_schema(list(names.values()), history=True)
    # WHEN every revision is applied alone, newest first, then all again in one batch, twice
    for row in reversed(ALL):
        apply(target, names, (row,))
    apply(target, names, ALL)
    apply(target, names, ALL + ALL)
    # THEN the current table is the user view and history holds each revision once
    current, history = state(target, names["Person"])
    assert current == EXPECTED_CURRENT
    assert [(h[0], h[1], h[2]) for h in history] == [
        ("A", 0, False),
        ("A", 1, False),
        ("B", 0, False),
        ("B", 1, True),
        ("C", 0, False),
    ]
    assert history[0][7] == A0.tx_time


@pytest.mark.parametrize("order", list(itertools.permutations(range(5)))[::17])
def test_permutations_in_single_row_batches(target: Target, order: tuple[int, ...]) -> None:
    names = names_for(target)
    target.ensure_schema(list(names.values()), history=True)
    for i in order:
        apply(target, names, (ALL[i],))
    assert state(target, names["Person"])[0] == EXPECTED_CURRENT


def test_a_deletion_is_never_undone_by_a_late_revision(target: Target) -> None:
    names = names_for(target)
    target.ensure_schema(list(names.values()), history=False)
    apply_plain = RevisionBatch((B1,), 2, 2)
    checkpoint = Checkpoint(restore_id="restore", identity=IDENTITY, last_block_seq=2, completed=False)
    target.apply(apply_plain, names, checkpoint, history=False)
    target.apply(RevisionBatch((B0,), 1, 1), names, checkpoint, history=False)
    assert list(target.fetch_current(names["Person"])) == []


def test_a_redacted_copy_replaces_the_data_of_its_version(target: Target) -> None:
    names = names_for(target)
    target.ensure_schema(list(names.values()), history=True)
    redacted_a0 = rev("A", 0, 1, None, redacted=True)
    apply(target, names, (A0,))
    apply(target, names, (redacted_a0,))
    apply(target, names, (A0,))  # a late unredacted copy changes nothing
    current, history = state(target, names["Person"])
    assert current == [("A", 0, 1, A0.tx_time, None, None)]
    assert history == [("A", 0, False, True, None, "hash-A-0", "dh-A-0", A0.tx_time)]


def test_checkpoint_commits_with_its_batch(target: Target) -> None:
    names = names_for(target)
    target.ensure_schema(list(names.values()), history=True)
    assert target.read_checkpoint("restore") is None
    apply(target, names, (A0, B0), seq=1)
    saved = target.read_checkpoint("restore")
    assert saved is not None
    assert (saved.last_block_seq, saved.completed, saved.identity) == (1, False, IDENTITY)
    target.save_checkpoint(
        Checkpoint(restore_id="restore", identity=IDENTITY, last_block_seq=9, completed=True)
    )
    again = target.read_checkpoint("restore")
    assert again is not None
    assert (again.last_block_seq, again.completed) == (9, True)


def test_a_failing_batch_leaves_nothing_half_applied(target: Target) -> None:
    # GIVEN a batch touching two tables, the second of which has no table in the target
    names = names_for(target, "Person", "Vehicle")
    target.ensure_schema([names["Person"]], history=True)
    apply(target, names, (A0,), seq=1)
    batch = (B0, B1, rev("V", 0, 2, {"vin": "1"}, table="Vehicle"))
    # WHEN it is applied THEN it fails as terminal, naming the blocks
    with pytest.raises(TerminalTargetError, match="blocks 1-2"):
        apply(target, names, batch, seq=2)
    target.reconnect()
    # AND the Person changes and the checkpoint of the failed batch were rolled back
    tomb_free = state(target, names["Person"])
    assert [r[0] for r in tomb_free[0]] == ["A"]
    assert [(h[0], h[1]) for h in tomb_free[1]] == [("A", 0)]
    saved = target.read_checkpoint("restore")
    assert saved is not None
    assert saved.last_block_seq == 1


HOSTILE = [
    'Robert"); DROP TABLE Person;--',
    "back`tick",
    "semi;colon",
    "Straße_Ünïcødé",
    "O'Brien",
    "percent%s",
]


def test_hostile_table_names_restore_safely(target: Target) -> None:
    names = names_for(target, "Person", *HOSTILE)
    target.ensure_schema(list(names.values()), history=True)
    rows = tuple(rev(f"D{i}", 0, 1, {"i": i}, table=t) for i, t in enumerate(HOSTILE))
    apply(target, names, (*rows, A0))
    for i, t in enumerate(HOSTILE):
        current, history = state(target, names[t])
        assert [(c[0], c[4]) for c in current] == [(f"D{i}", {"i": i})]
        assert len(history) == 1
    assert [c[0] for c in state(target, names["Person"])[0]] == ["A"]


def test_names_the_engine_cannot_hold_are_refused(target: Target) -> None:
    rules = target.capabilities.identifiers
    too_long = "T" * (rules.max_length + 1)
    with pytest.raises(IdentifierError, match="long"):
        table_names([too_long], rules)
    with pytest.raises(IdentifierError, match="control character"):
        table_names(["bad\x00name"], rules)
    with pytest.raises(IdentifierError, match="same table"):
        table_names(["Person", "person"], rules)

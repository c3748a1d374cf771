"""The bulk load of a first restore (restore.bulk), on the engines that have one: MariaDB and PostgreSQL.

Hand-built revisions whose final state is plain from the scenario (QLDB semantics, as in
test_restore_targets), turned into bulk slices and loaded through the real COPY / LOAD DATA; and
the runner's choice between the bulk load and the guarded apply on a simulated archive.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest

from restore.batch import RevisionBatch, RevisionRow
from restore.bulk import BulkRows, split_bulk_rows
from restore.bulk_load import load_slices
from restore.checkpoint import Checkpoint
from restore.content import content_hash
from restore.errors import TerminalTargetError
from restore.parity_columns import parity_index_name
from restore.plan import in_shard
from restore.runner import RestoreOptions, apply_with_retry, run_restore
from restore.targets import Target, open_target
from restore.targets.mysql import MysqlTarget
from tests.integration.test_restore_acceptance import assert_current_equals, expected_current
from tests.integration.test_restore_targets import (
    A0,
    A1,
    ALL,
    B0,
    C0,
    EXPECTED_CURRENT,
    HOSTILE,
    IDENTITY,
    names_for,
    rev,
    state,
)

if TYPE_CHECKING:
    from restore.identifiers import TableNames
    from tests.integration.conftest import SimulatedArchive


@pytest.fixture(params=["mysql", "mysql?local_infile=0", "postgresql"])
def bulk_target(request: pytest.FixtureRequest) -> Iterator[Target]:
    engine, _, options = str(request.param).partition("?")
    url: str = request.getfixturevalue(f"{engine}_url") + (f"?{options}" if options else "")
    with open_target(url) as target:
        assert target.capabilities.bulk_insert
        yield target
        # the rows went in by the way the URL allows: LOAD DATA, or multi-row INSERTs without it
        assert getattr(target, "bulk_load", "COPY") == (
            "executemany" if options else target.capabilities.bulk_load
        )


def slices(rows: tuple[RevisionRow, ...], *, history: bool = True) -> list[BulkRows]:
    """The rows as plan_bulk_rows gives them (document order, is_final: the newest version up to now)."""
    newest: dict[tuple[str, str], int] = {}
    for r in rows:
        newest[(r.table_name, r.doc_id)] = max(r.version, newest.get((r.table_name, r.doc_id), -1))
    ordered = sorted(rows, key=lambda r: (r.table_name, r.doc_id, r.version))
    columns: dict[str, list[Any]] = {
        name: [getattr(r, name) for r in ordered]
        for name in (
            "table_name",
            "doc_id",
            "version",
            "block_seq",
            "tx_id",
            "tx_time",
            "revision_hash",
            "data_hash",
            "is_deleted",
            "is_redacted",
            "data_json",
            "content_hash",
        )
    }
    columns["is_final"] = [newest[(r.table_name, r.doc_id)] == r.version for r in ordered]
    return split_bulk_rows(pa.table(columns), history=history)


def test_a_bulk_load_leaves_the_final_state_and_every_revision(bulk_target: Target) -> None:
    # GIVEN empty tables
    names = names_for(bulk_target)
    bulk_target.ensure_schema(list(names.values()), history=True)
    assert bulk_target.is_empty(list(names.values()), history=True)
    # WHEN the final rows of two updated documents, a deleted one and an untouched one are loaded
    bulk_target.load_bulk(slices(ALL), names)
    # THEN the current table holds the newest live versions, history every revision
    current, history = state(bulk_target, names["Person"])
    assert current == EXPECTED_CURRENT
    assert [(h[0], h[1], h[2], h[3]) for h in history] == [
        ("A", 0, False, False),
        ("A", 1, False, False),
        ("B", 0, False, False),
        ("B", 1, True, False),
        ("C", 0, False, False),
    ]
    # AND the deletion is a tombstone: a late revision of B in the guarded apply cannot resurrect it
    checkpoint = Checkpoint(restore_id="restore", identity=IDENTITY, last_block_seq=5, completed=False)
    bulk_target.apply(RevisionBatch((B0,), 1, 1), names, checkpoint, history=True)
    assert [c[0] for c in state(bulk_target, names["Person"])[0]] == ["A", "C"]
    # AND the tables are no longer empty
    assert not bulk_target.is_empty(list(names.values()), history=True)


def test_values_that_trip_csv_loaders_arrive_intact(bulk_target: Target) -> None:
    # GIVEN documents whose JSON holds every character the CSV and LOAD DATA formats treat specially
    tricky: list[dict[str, object]] = [
        {"quote": 'say "hi"', "comma": "a,b", "newline": "line1\nline2", "cr": "a\rb", "tab": "a\tb"},
        {"backslash": "C:\\path\\N", "escaped_quote": '\\"', "null_word": "NULL", "empty": ""},
        {"unicode": "Zürich 😀 中文", "zero_width": "a\u200bb", "nested": [{"x": None}, 1.5]},
    ]
    rows = tuple(rev(f"T{i}", 0, 1, data) for i, data in enumerate(tricky))
    names = names_for(bulk_target)
    bulk_target.ensure_schema(list(names.values()), history=True)
    # WHEN they are loaded in bulk
    bulk_target.load_bulk(slices(rows), names)
    # THEN data and hashes read back as they were
    current, history = state(bulk_target, names["Person"])
    assert [(c[0], c[4], c[5]) for c in current] == [
        (r.doc_id, json.loads(r.data_json or ""), r.content_hash) for r in rows
    ]
    assert [h[4] for h in history] == tricky


def test_a_redacted_final_version_keeps_no_data(bulk_target: Target) -> None:
    names = names_for(bulk_target)
    bulk_target.ensure_schema(list(names.values()), history=True)
    redacted = rev("A", 0, 2, None, redacted=True)
    bulk_target.load_bulk(slices((redacted, C0)), names)
    current, history = state(bulk_target, names["Person"])
    assert [(c[0], c[1], c[4], c[5]) for c in current] == [
        ("A", 0, None, None),
        ("C", 0, C0_DATA, C0.content_hash),
    ]
    assert [(h[0], h[3], h[4], h[6]) for h in history] == [
        ("A", True, None, "dh-A-0"),
        ("C", False, C0_DATA, None),
    ]


C0_DATA = {"name": "Cy", "tags": ["x", "y"], "amount": "12.50"}


def test_hostile_table_names_load_safely(bulk_target: Target) -> None:
    names = names_for(bulk_target, "Person", *HOSTILE)
    bulk_target.ensure_schema(list(names.values()), history=True)
    # (their parity indexes dropped for the load and built again after it, as a large load does)
    tables = [t for n in names.values() for t in (n.current, n.history)]
    bulk_target.drop_parity_indexes(list(names.values()), history=True)
    assert not any(_parity_indexed(bulk_target, t) for t in tables)
    rows = tuple(rev(f"D{i}", 0, 1, {"i": i}, table=t) for i, t in enumerate(HOSTILE))
    bulk_target.load_bulk(slices((*rows, A0, A1)), names)
    for i, t in enumerate(HOSTILE):
        current, history = state(bulk_target, names[t])
        assert [(c[0], c[4]) for c in current] == [(f"D{i}", {"i": i})]
        assert len(history) == 1
    assert [(c[0], c[1]) for c in state(bulk_target, names["Person"])[0]] == [("A", 1)]
    bulk_target.ensure_schema(list(names.values()), history=True)
    assert all(_parity_indexed(bulk_target, t) for t in tables)
    # AND a split's worker asks of these tables, safely, whether its shard's documents are there
    for i, t in enumerate(HOSTILE):
        for shard in ((1, 3), (2, 3), (3, 3)):
            empty = bulk_target.is_empty([names[t]], history=True, shard=shard)
            assert empty is not in_shard(f"D{i}", shard), (t, shard)


def test_a_tombstone_of_another_table_leaves_a_table_empty(bulk_target: Target) -> None:
    names = names_for(bulk_target, "Person", "Vehicle")
    bulk_target.ensure_schema(list(names.values()), history=False)
    bulk_target.load_bulk(
        slices((rev("V", 0, 1, None, table="Vehicle", deleted=True),), history=False), names
    )
    assert bulk_target.is_empty([names["Person"]], history=False)
    assert not bulk_target.is_empty([names["Vehicle"]], history=False)


def test_a_failing_slice_stops_the_load_naming_it_and_commits_none_of_itself(bulk_target: Target) -> None:
    # GIVEN three slices, the second of which holds a document its engine refuses (not JSON; for
    # PostgreSQL's jsonb also a NUL character)
    names = names_for(bulk_target)
    bulk_target.ensure_schema(list(names.values()), history=True)
    bad = dataclasses.replace(
        rev("M", 0, 2, {}), data_json='{"broken": "\\u0000', content_hash=content_hash("x")
    )
    parts = [slices((A0,)), slices((bad, rev("N", 0, 2, {"n": 1}))), slices((C0,))]
    loaded: list[str] = []
    # WHEN they are loaded one connection at a time THEN the error names the table and documents
    with pytest.raises(TerminalTargetError, match=r"bulk-loading 'Person' documents M\.\.N"):
        load_slices(
            [bulk_target],
            iter(parts),
            names,
            retry=lambda t, apply: apply_with_retry(t, apply, max_retries=2),
            on_loaded=lambda p: loaded.extend(
                r for part in p for r in part.current.column("doc_id").to_pylist()
            ),
        )
    bulk_target.reconnect()
    # AND the failing slice left no row, the one before it is committed, the one after never ran
    assert loaded == ["A"]
    assert [c[0] for c in state(bulk_target, names["Person"])[0]] == ["A"]


def test_a_restore_into_tables_that_hold_rows_takes_the_guarded_apply(
    simulated_archive: SimulatedArchive, mysql_url: str, postgresql_url: str
) -> None:
    truth = simulated_archive.truth("history")
    expected = expected_current(truth)
    later = next(d for d, t in expected.items() if t["table"] == "Person" and t["version"] > 0)
    for url in (mysql_url, postgresql_url):
        # GIVEN tables that already hold an old version of a document, written by another program
        # (so there is no checkpoint of this restore)
        with open_target(url) as target:
            names = names_for(target, "DriversLicense", "Person", "Vehicle", "VehicleRegistration")
            target.ensure_schema(list(names.values()), history=True)
            old = rev(later, 0, 1, {"old": True})
            checkpoint = Checkpoint(restore_id="other", identity=IDENTITY, last_block_seq=0, completed=True)
            target.apply(RevisionBatch((old,), 1, 1), names, checkpoint, history=False)
        # WHEN the archive is restored THEN nothing is loaded blindly: the guarded apply runs,
        # as a dry run says first
        dry = run_restore(simulated_archive.archive, url, RestoreOptions(history=True, dry_run=True))
        assert dry.method == "document order"
        report = run_restore(simulated_archive.archive, url, RestoreOptions(history=True))
        assert report.method == "document order"
        # AND the state is the truth's, the old version moved forward
        with open_target(url) as target:
            assert_current_equals(target, expected)


def _table_count(url: str) -> int:
    """How many tables the target's database (schema, file) holds."""
    with open_target(url) as target:
        sql = {
            "mysql": "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
            "postgresql": "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()",
            "sqlite": "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
        }[target.capabilities.engine]
        return int(target.query(sql, ())[0][0])


def test_a_dry_run_says_how_the_restore_would_apply_and_creates_nothing(
    simulated_archive: SimulatedArchive, mysql_url: str, postgresql_url: str, sqlite_url: str
) -> None:
    archive = simulated_archive.archive
    firsts = {mysql_url: "bulk load", postgresql_url: "bulk load", sqlite_url: "document order"}
    for url, first in firsts.items():
        # GIVEN a database without any table yet
        assert _table_count(url) == 0
        # WHEN a first restore with history is dry-run THEN it says how it would apply the archive
        dry = run_restore(archive, url, RestoreOptions(history=True, dry_run=True))
        assert dry.method == first
        assert any(line.endswith(f"chunk(s), {first}") for line in dry.summary_lines())
        # AND it created nothing
        assert _table_count(url) == 0
        # AND the restore itself then does what it said
        assert run_restore(archive, url, RestoreOptions(history=True)).method == first
        # AND once it has completed, a dry run of an incremental catch-up would go in block order
        incremental = RestoreOptions(history=True, incremental=True, dry_run=True)
        assert run_restore(archive, url, incremental).method == "block order"
    # AND without history a first restore into SQLite writes each document's final state only
    fresh = sqlite_url.replace("restore.db", "final.db")
    assert run_restore(archive, fresh, RestoreOptions(dry_run=True)).method == "final state"


def _parity_indexed(target: Target, table: str) -> bool:
    """Whether `table` has its parity checksum index (restore.parity_columns)."""
    if target.capabilities.engine == "mysql":
        sql = (
            "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s AND INDEX_NAME = %s"
        )
        index = "parity_checksums"
    else:
        sql = "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s "
        sql += "AND indexname = %s"
        index = parity_index_name(table)
    return int(target.query(sql, (table, index))[0][0]) > 0


def test_the_parity_indexes_are_there_after_the_load_and_come_back_when_missing(
    simulated_archive: SimulatedArchive, bulk_target: Target
) -> None:
    # GIVEN a bulk load (PostgreSQL drops the parity indexes of the empty tables while it loads
    # and builds them at the end; MariaDB keeps them up while they fit in its buffer pool)
    url = bulk_target.url
    report = run_restore(simulated_archive.archive, url, RestoreOptions(history=True))
    assert report.method == "bulk load"
    names = names_for(bulk_target, "DriversLicense", "Person", "Vehicle", "VehicleRegistration")
    tables = [t for n in names.values() for t in (n.current, n.history)]
    # THEN every table has its index when the restore completes
    assert all(_parity_indexed(bulk_target, t) for t in tables)
    # AND tables left without them (a load killed before the end; a hand) get them back from the
    # schema check
    bulk_target.drop_parity_indexes(list(names.values()), history=True)
    assert not any(_parity_indexed(bulk_target, t) for t in tables)
    bulk_target.ensure_schema(list(names.values()), history=True)
    assert all(_parity_indexed(bulk_target, t) for t in tables)


def test_mariadb_builds_the_parity_indexes_after_a_load_that_would_outgrow_its_buffer_pool(
    simulated_archive: SimulatedArchive, mysql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the running server: a small load's indexes fit in its buffer pool, a billion rows' do not
    with open_target(mysql_url) as target:
        assert not target.rebuilds_parity_indexes(1_000)
        assert target.rebuilds_parity_indexes(1_000_000_000)
    # AND a server whose buffer pool is (as the restore reads it) too small for this archive's
    dropped: list[list[str]] = []
    drop = MysqlTarget.drop_parity_indexes

    def spy(self: MysqlTarget, names: Sequence[TableNames], *, history: bool) -> None:
        assert self.is_empty(names, history=history)  # dropped before the first row, not after
        dropped.append([n.current for n in names])
        drop(self, names, history=history)

    monkeypatch.setattr(MysqlTarget, "rebuilds_parity_indexes", lambda self, rows: rows > 10)
    monkeypatch.setattr(MysqlTarget, "drop_parity_indexes", spy)
    # WHEN the archive is restored with history
    report = run_restore(simulated_archive.archive, mysql_url, RestoreOptions(history=True))
    # THEN it loaded in bulk without the indexes, and every table has its index at the end
    assert report.method == "bulk load"
    assert dropped == [["DriversLicense", "Person", "Vehicle", "VehicleRegistration"]]
    with open_target(mysql_url) as target:
        names = names_for(target, "DriversLicense", "Person", "Vehicle", "VehicleRegistration")
        assert all(_parity_indexed(target, t) for n in names.values() for t in (n.current, n.history))
        # AND the state is the truth's
        assert_current_equals(target, expected_current(simulated_archive.truth("history")))

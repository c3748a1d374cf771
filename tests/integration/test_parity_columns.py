"""Parity's stored checksum columns: the database keeps them true, and tables without them still work.

MySQL and PostgreSQL tables restored now carry generated ``parity_*`` columns
(`restore.parity_columns`); SQLite's carry the same columns written by the restore, cleared by
a trigger when a row's key changes without them. Parity sums them instead of hashing at query
time. These tests change rows behind the restore's back with plain SQL (on SQLite from a plain
connection, as another program would) and check that the changes are found, and that a table
without the columns (an older restore) is compared as before.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest

from restore.identifiers import TableNames, table_names
from restore.parity import HistoryTargetSide, TargetSide, check_parity
from restore.parity_columns import HASH_TEXT_COLUMN, PARITY_COLUMNS
from restore.runner import RestoreOptions, run_restore
from restore.targets import Target, open_target
from tests.integration.test_parity import TABLE, execute, found

if TYPE_CHECKING:
    from tests.integration.conftest import SimulatedArchive


@pytest.fixture(params=["mysql", "postgresql"])
def server_url(request: pytest.FixtureRequest) -> str:
    """A target whose tables get the stored columns."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


def _names(target: Target) -> TableNames:
    return table_names([TABLE], target.capabilities.identifiers)[TABLE]


@pytest.fixture(params=["mysql", "postgresql", "sqlite"])
def any_url(request: pytest.FixtureRequest) -> str:
    """Any target: generated columns on the servers, written columns and a trigger on SQLite."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


def test_restored_tables_carry_the_columns(simulated_archive: SimulatedArchive, any_url: str) -> None:
    run_restore(simulated_archive.archive, any_url, RestoreOptions(history=True))
    with open_target(any_url) as target:
        names = {TABLE: _names(target)}
        assert TargetSide(target, names).has_stored_columns(TABLE)
        assert HistoryTargetSide(target, names).has_stored_columns(TABLE)


def test_a_direct_update_of_version_or_hash_is_reported(
    simulated_archive: SimulatedArchive, any_url: str
) -> None:
    server_url = any_url
    # GIVEN a restore with history, equal
    run_restore(simulated_archive.archive, server_url, RestoreOptions(history=True))
    assert check_parity(simulated_archive.archive, server_url).equal
    # WHEN version and content_hash are changed by plain UPDATEs, naming no parity column
    with open_target(server_url) as target:
        names = _names(target)
        current, history = target.capabilities.quote(names.current), target.capabilities.quote(names.history)
        rows = sorted(target.fetch_current(names), key=lambda r: r.doc_id)
        ahead, rehashed = [r for r in rows if r.content_hash][:2]
        execute(target, f"UPDATE {current} SET version = version + 1 WHERE doc_id = %s", (ahead.doc_id,))
        execute(
            target, f"UPDATE {current} SET content_hash = %s WHERE doc_id = %s", ("0" * 64, rehashed.doc_id)
        )
        revision = next(r for r in target.fetch_history(names) if r.content_hash)
        execute(
            target,
            f"UPDATE {history} SET content_hash = %s WHERE doc_id = %s AND version = %s",
            ("f" * 64, revision.doc_id, revision.version),
        )
    # THEN the stored columns followed (generated, or cleared by SQLite's trigger): each change
    # is reported, nothing else
    report = check_parity(simulated_archive.archive, server_url)
    assert found(report) == {("newer_in_target", ahead.doc_id), ("content_differs", rehashed.doc_id)}
    person = next(t for t in report.tables if t.table_name == TABLE)
    assert person.history is not None
    assert {(d.kind, d.doc_id, d.archive_version) for d in person.history.differences} == {
        ("content_differs", revision.doc_id, revision.version)
    }


def test_a_table_without_the_columns_is_hashed_at_query_time(
    simulated_archive: SimulatedArchive, server_url: str
) -> None:
    # GIVEN a current table as an older version restored it: no parity columns
    run_restore(simulated_archive.archive, server_url, RestoreOptions(history=True))
    with open_target(server_url) as target:
        names = _names(target)
        current = target.capabilities.quote(names.current)
        dropped = [*PARITY_COLUMNS, *([HASH_TEXT_COLUMN] if target.capabilities.engine == "mysql" else [])]
        execute(target, f"ALTER TABLE {current} " + ", ".join(f"DROP COLUMN {c}" for c in dropped), ())
        assert not TargetSide(target, {TABLE: names}).has_stored_columns(TABLE)
    # AND the next (incremental) restore into it leaves it so (no parity index on columns it lacks)
    run_restore(simulated_archive.archive, server_url, RestoreOptions(history=True, incremental=True))
    with open_target(server_url) as target:
        assert not TargetSide(target, {TABLE: names}).has_stored_columns(TABLE)
        assert HistoryTargetSide(target, {TABLE: names}).has_stored_columns(TABLE)
        assert check_parity(simulated_archive.archive, server_url).equal
        # WHEN one document is made stale and one removed
        stale, gone = sorted(target.fetch_current(names), key=lambda r: r.doc_id)[:2]
        execute(target, f"UPDATE {current} SET version = version - 1 WHERE doc_id = %s", (stale.doc_id,))
        execute(target, f"DELETE FROM {current} WHERE doc_id = %s", (gone.doc_id,))
    # THEN parity finds exactly those, from hashes computed at query time
    report = check_parity(simulated_archive.archive, server_url)
    assert found(report) == {("stale_version", stale.doc_id), ("missing", gone.doc_id)}


def test_sqlite_rows_changed_or_added_by_another_program_are_found(
    simulated_archive: SimulatedArchive, sqlite_url: str
) -> None:
    # GIVEN a SQLite restore, equal
    run_restore(simulated_archive.archive, sqlite_url, RestoreOptions())
    assert check_parity(simulated_archive.archive, sqlite_url).equal
    # WHEN another program (a plain connection: none of qldb-archive's SQL functions) makes one
    # document stale and copies another under a new id, naming no parity column
    with open_target(sqlite_url) as target:
        names = _names(target)
        path = target.path  # type: ignore[attr-defined]
        stale = sorted(target.fetch_current(names), key=lambda r: r.doc_id)[0]
    table = f'"{names.current}"'
    con = sqlite3.connect(path)
    with con:
        con.execute(f"UPDATE {table} SET version = version - 1 WHERE doc_id = ?", (stale.doc_id,))
        con.execute(
            f"INSERT INTO {table} (doc_id, version, block_seq, tx_time, data, content_hash) "
            f"SELECT 'copy-' || doc_id, version, block_seq, tx_time, data, content_hash FROM {table} "
            "WHERE doc_id = ?",
            (stale.doc_id,),
        )
    con.close()
    # THEN parity finds exactly those two
    report = check_parity(simulated_archive.archive, sqlite_url)
    assert found(report) == {("stale_version", stale.doc_id), ("extra", f"copy-{stale.doc_id}")}

"""Parity on every target: injected differences of each kind are found exactly, none invented.

The archive is restored into the target, then the target is changed behind the restore's back
with plain SQL, as an operator or a bug would.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest

from restore.content import content_hash
from restore.identifiers import table_names
from restore.parity import check_parity
from restore.runner import RestoreOptions, run_restore
from restore.targets import Target, open_target

if TYPE_CHECKING:
    from tests.integration.conftest import SimulatedArchive

TABLE = "Person"


def execute(target: Target, sql: str, params: tuple[Any, ...]) -> None:
    """Run one write statement on the target's own connection (test-only back door)."""
    engine = target.capabilities.engine
    if engine == "sqlite":
        target._con.execute(sql.replace("%s::json", "?").replace("%s", "?"), params)  # type: ignore[attr-defined]
    elif engine == "mysql":
        with target._conn.cursor() as cur:  # type: ignore[attr-defined]
            cur.execute(sql.replace("%s::json", "%s"), params)
        target._conn.commit()  # type: ignore[attr-defined]
    else:
        target._conn.execute(sql.replace("%s::json", "CAST(%s AS jsonb)"), params)  # type: ignore[attr-defined]
        target._conn.commit()  # type: ignore[attr-defined]


def found(report: Any) -> set[tuple[str, str]]:
    return {(d["kind"], d["doc_id"]) for t in report.to_json()["tables"] for d in t["differences"]}


@pytest.fixture
def restored(simulated_archive: SimulatedArchive, target_url: str) -> str:
    run_restore(simulated_archive.archive, target_url, RestoreOptions())
    return target_url


def test_a_fresh_restore_is_equal(simulated_archive: SimulatedArchive, restored: str) -> None:
    report = check_parity(simulated_archive.archive, restored, deep=True)
    assert report.equal, report.summary_lines()
    assert {t.table_name for t in report.tables} == {
        "DriversLicense",
        "Person",
        "Vehicle",
        "VehicleRegistration",
    }
    assert all(t.archive_documents == t.target_documents > 0 for t in report.tables)


def test_each_kind_of_difference_is_found_exactly(simulated_archive: SimulatedArchive, restored: str) -> None:
    # GIVEN five documents of Person, each changed in another way
    with open_target(restored) as target:
        name = target.capabilities.quote(table_names([TABLE], target.capabilities.identifiers)[TABLE].current)
        rows = sorted(
            target.fetch_current(table_names([TABLE], target.capabilities.identifiers)[TABLE]),
            key=lambda r: r.doc_id,
        )
        updated = [r for r in rows if r.version >= 1]
        missing, stale = updated[0], updated[1]
        changed, silent, reordered = [r for r in rows if r.data and r not in (missing, stale)][:3]
        assert len({missing.doc_id, stale.doc_id, changed.doc_id, silent.doc_id, reordered.doc_id}) == 5
        execute(target, f"DELETE FROM {name} WHERE doc_id = %s", (missing.doc_id,))
        execute(
            target,
            f"INSERT INTO {name} (doc_id, version, block_seq, tx_time, data, content_hash) "
            "VALUES (%s, 0, 1, %s, %s::json, %s)",
            ("ExtraDoc0000000000000x", stale.tx_time, '{"x":1}', content_hash('{"x":1}')),
        )
        execute(target, f"UPDATE {name} SET version = version - 1 WHERE doc_id = %s", (stale.doc_id,))
        edited = json.dumps({**changed.data, "LastName": "Changed"})
        execute(
            target,
            f"UPDATE {name} SET data = %s::json, content_hash = %s WHERE doc_id = %s",
            (edited, content_hash(edited), changed.doc_id),
        )
        # a field changed without its content hash: only the deep mode can see it
        sneaky = json.dumps({**silent.data, "LastName": "Sneaky"})
        execute(target, f"UPDATE {name} SET data = %s::json WHERE doc_id = %s", (sneaky, silent.doc_id))
        # keys in another order, more spaces: not a difference in any mode
        shuffled = json.dumps(dict(reversed(list(reordered.data.items()))), indent=2)
        execute(target, f"UPDATE {name} SET data = %s::json WHERE doc_id = %s", (shuffled, reordered.doc_id))
    expected = {
        ("missing", missing.doc_id),
        ("extra", "ExtraDoc0000000000000x"),
        ("stale_version", stale.doc_id),
        ("content_differs", changed.doc_id),
    }
    # WHEN parity runs on checksums THEN exactly those four are reported, in Person only
    report = check_parity(simulated_archive.archive, restored)
    assert found(report) == expected
    assert not report.equal
    assert [t.table_name for t in report.tables if not t.equal] == [TABLE]
    # AND the deep mode adds the field changed without its hash, and nothing for key order
    deep = check_parity(simulated_archive.archive, restored, deep=True)
    assert found(deep) == expected | {("content_differs", silent.doc_id)}


def test_rows_moved_grow_with_differences_not_with_the_table(
    simulated_archive: SimulatedArchive, restored: str
) -> None:
    equal = check_parity(simulated_archive.archive, restored)
    with open_target(restored) as target:
        names = table_names([TABLE], target.capabilities.identifiers)
        doc = next(iter(target.fetch_current(names[TABLE])))
        execute(
            target,
            f"DELETE FROM {target.capabilities.quote(names[TABLE].current)} WHERE doc_id = %s",
            (doc.doc_id,),
        )
    one_off = check_parity(simulated_archive.archive, restored)
    assert found(one_off) == {("missing", doc.doc_id)}
    # one difference costs one bucket's sub-buckets (2 x 64 sums) and its few rows, not the table
    # (benchmarks/bench_parity.py measures it at 1M documents)
    assert 0 < one_off.rows_moved - equal.rows_moved <= 2 * 64 + 40


def test_a_table_missing_in_the_target_is_all_missing(
    simulated_archive: SimulatedArchive, sqlite_url: str
) -> None:
    run_restore(simulated_archive.archive, sqlite_url, RestoreOptions(tables=("Vehicle",)))
    report = check_parity(simulated_archive.archive, sqlite_url, tables=("Vehicle", "Person"))
    by_table = {t.table_name: t for t in report.tables}
    assert by_table["Vehicle"].equal
    assert by_table["Person"].counts["missing"] == by_table["Person"].archive_documents > 0


def test_history_tables_are_compared_revision_by_revision(
    simulated_archive: SimulatedArchive, target_url: str
) -> None:
    # GIVEN a restore with history, equal at first, history included
    run_restore(simulated_archive.archive, target_url, RestoreOptions(history=True))
    equal = check_parity(simulated_archive.archive, target_url)
    assert equal.equal, equal.summary_lines()
    assert all(t.history is not None and t.history.archive_documents > 0 for t in equal.tables)
    truth = [t for t in simulated_archive.truth("history") if t["table"] == TABLE]
    assert sum(t.history.archive_documents for t in equal.tables if t.history) == len(
        simulated_archive.truth("history")
    )
    # WHEN one revision is removed from the history table, one's hash is changed, one is added
    live = sorted((t for t in truth if t["kind"] == "live"), key=lambda t: (t["doc_id"], t["version"]))
    gone, forged = live[0], live[1]
    with open_target(target_url) as target:
        history = target.capabilities.quote(
            table_names([TABLE], target.capabilities.identifiers)[TABLE].history
        )
        execute(
            target,
            f"DELETE FROM {history} WHERE doc_id = %s AND version = %s",
            (gone["doc_id"], gone["version"]),
        )
        execute(
            target,
            f"UPDATE {history} SET revision_hash = %s WHERE doc_id = %s AND version = %s",
            ("AAAA" + forged["revision_hash"][4:], forged["doc_id"], forged["version"]),
        )
        execute(
            target,
            f"INSERT INTO {history} (doc_id, version, block_seq, tx_id, tx_time, is_deleted, is_redacted, "
            "revision_hash, data_hash, data, content_hash) VALUES (%s, 0, 1, 'tx', %s, %s, %s, 'h', NULL, "
            "NULL, NULL)",
            ("ExtraDoc0000000000000y", dt.datetime(2020, 1, 1), False, False),
        )
    # THEN exactly those three revisions are reported, with their versions; the current table is equal
    report = check_parity(simulated_archive.archive, target_url)
    person = next(t for t in report.tables if t.table_name == TABLE)
    assert person.history is not None
    assert {(d.kind, d.doc_id, d.archive_version, d.target_version) for d in person.history.differences} == {
        ("missing", gone["doc_id"], gone["version"], None),
        ("content_differs", forged["doc_id"], forged["version"], forged["version"]),
        ("extra", "ExtraDoc0000000000000y", None, 0),
    }
    assert not any(person.counts.values())
    assert not report.equal
    assert report.differences == 3
    assert [t.table_name for t in report.tables if not t.equal] == [TABLE]
    assert (
        report.to_json()["tables"][[t.table_name for t in report.tables].index(TABLE)]["history"]["counts"][
            "missing"
        ]
        == 1
    )

"""Restore acceptance on every target: the restored tables equal the simulator's ground truth.

Expected values come from truth/history.jsonl (every revision QLDB committed) and the local
Athena views; document data is compared as JSON, against the truth's Ion through the projection.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from amazon.ion import simpleion

from athena.local import LocalEngine
from firehose_transform.normalise import ion_to_json
from restore.errors import CheckpointError, GapError
from restore.identifiers import table_names
from restore.runner import RestoreOptions, run_restore
from restore.targets import Target, open_target

if TYPE_CHECKING:
    from tests.integration.conftest import SimulatedArchive

TABLES = ("DriversLicense", "Person", "Vehicle", "VehicleRegistration")


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC).replace(tzinfo=None)


def data_of(truth_row: dict[str, Any]) -> Any:
    return None if truth_row["data"] is None else ion_to_json(simpleion.loads(truth_row["data"]))


def expected_current(truth: list[dict[str, Any]], last_block: int | None = None) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for t in truth:
        if (last_block is None or t["block_seq"] <= last_block) and (
            t["doc_id"] not in latest or t["version"] > latest[t["doc_id"]]["version"]
        ):
            latest[t["doc_id"]] = t
    return {d: t for d, t in latest.items() if t["kind"] != "deleted"}


def restored_current(target: Target) -> dict[str, tuple[str, int, int, dt.datetime, Any]]:
    names = table_names(TABLES, target.capabilities.identifiers)
    got: dict[str, tuple[str, int, int, dt.datetime, Any]] = {}
    for table in TABLES:
        for row in target.fetch_current(names[table]):
            assert row.doc_id not in got
            got[row.doc_id] = (table, row.version, row.block_seq, row.tx_time, row.data)
    return got


def assert_current_equals(target: Target, expected: dict[str, dict[str, Any]]) -> None:
    got = restored_current(target)
    assert set(got) == set(expected)
    for doc_id, t in expected.items():
        assert got[doc_id] == (t["table"], t["version"], t["block_seq"], utc(t["tx_time"]), data_of(t)), (
            doc_id
        )


def assert_history_equals(target: Target, truth: list[dict[str, Any]]) -> None:
    names = table_names(TABLES, target.capabilities.identifiers)
    history = {
        (h.doc_id, h.version): (
            table,
            h.block_seq,
            h.tx_id,
            h.tx_time,
            h.revision_hash,
            h.is_deleted,
            h.is_redacted,
            h.data,
        )
        for table in TABLES
        for h in target.fetch_history(names[table])
    }
    assert history == {
        (t["doc_id"], t["version"]): (
            t["table"],
            t["block_seq"],
            t["tx_id"],
            utc(t["tx_time"]),
            t["revision_hash"],
            t["kind"] == "deleted",
            t["kind"] == "redacted",
            data_of(t),
        )
        for t in truth
    }


@pytest.mark.parametrize("bulk_load", [True, False], ids=["bulk", "guarded"])
def test_full_restore_equals_truth_and_views(
    simulated_archive: SimulatedArchive, target_url: str, bulk_load: bool
) -> None:
    # GIVEN an archive with duplicates, reordering, deletes and redactions
    truth = simulated_archive.truth("history")
    assert {t["kind"] for t in truth} == {"live", "deleted", "redacted"}
    # WHEN it is restored with history, into empty tables: loaded in bulk where the target can,
    # or through the guarded apply in document order; read in ranges of about 97 revisions
    options = RestoreOptions(history=True, batch_revisions=300, bulk_load=bulk_load, range_revisions=97)
    report = run_restore(simulated_archive.archive, target_url, options)
    assert report.completed
    with open_target(target_url) as target:
        bulk = bulk_load and target.capabilities.bulk_insert
    assert report.method == ("bulk load" if bulk else "document order")  # a first full restore
    if bulk:
        assert report.batches > 1  # several slices: rows of one document may straddle two
    assert report.revisions_applied == len(truth)
    assert sum(t.duplicates_skipped for t in report.tables) > 0
    # AND the report counts each table's documents and revisions as the truth has them
    assert {t.table_name: (t.documents, t.revisions) for t in report.tables} == {
        table: (
            len({t["doc_id"] for t in truth if t["table"] == table}),
            sum(1 for t in truth if t["table"] == table),
        )
        for table in TABLES
    }
    with open_target(target_url) as target:
        # THEN current tables equal the truth's final state
        assert_current_equals(target, expected_current(truth))
        # AND history tables hold every revision once, flags and hashes as QLDB wrote them
        assert_history_equals(target, truth)
        # AND current equals the local Athena view
        with LocalEngine.open(simulated_archive.archive) as engine:
            view = {r["doc_id"]: r["version"] for r in engine.current().to_pylist()}
        assert {d: v[1] for d, v in restored_current(target).items()} == view


def test_point_in_time_at_random_blocks(
    simulated_archive: SimulatedArchive, new_target_url: Callable[[], str]
) -> None:
    truth = simulated_archive.truth("history")
    blocks = sorted({t["block_seq"] for t in truth})
    for n in random.Random(5).sample(blocks, 5):
        url = new_target_url()  # a fresh database per point in time
        run_restore(simulated_archive.archive, url, RestoreOptions(as_of_block=n))
        with open_target(url) as target:
            assert_current_equals(target, expected_current(truth, n))


def test_as_of_time_equals_the_block_committed_by_then(
    simulated_archive: SimulatedArchive, sqlite_url: str
) -> None:
    truth = simulated_archive.truth("history")
    moment = sorted(utc(t["tx_time"]) for t in truth)[len(truth) // 3]
    run_restore(simulated_archive.archive, sqlite_url, RestoreOptions(as_of_time=moment))
    expected = expected_current([t for t in truth if utc(t["tx_time"]) <= moment])
    with open_target(sqlite_url) as target:
        assert_current_equals(target, expected)


def middle_version(truth: list[dict[str, Any]]) -> dict[str, Any]:
    """A version 1 revision whose document has a version 2: losing it leaves a hole, not a new start."""
    return next(
        t
        for t in truth
        if t["version"] == 1 and any(u["doc_id"] == t["doc_id"] and u["version"] == 2 for u in truth)
    )


def _archive_without(simulated: SimulatedArchive, tmp_path: Path, doc_id: str, version: int) -> Path:
    """A copy of the archive with every copy of one revision removed."""
    import shutil

    copy = tmp_path / "archive"
    shutil.copytree(simulated.archive, copy)
    for path in copy.rglob("*.parquet"):
        table = pq.read_table(path)
        if "doc_id" not in table.column_names:
            continue
        drop = pc.and_(pc.equal(table["doc_id"], doc_id), pc.equal(table["version"], version))
        kept = table.filter(pc.invert(pc.fill_null(drop, False)))
        if kept.num_rows != table.num_rows:
            pq.write_table(kept, path)
    return copy


def test_a_missing_revision_stops_the_restore_naming_it(
    simulated_archive: SimulatedArchive, sqlite_url: str, tmp_path: Path
) -> None:
    # GIVEN an archive from which one middle version of a document was lost
    truth = simulated_archive.truth("history")
    victim = middle_version(truth)
    archive = _archive_without(simulated_archive, tmp_path, victim["doc_id"], 1)
    # WHEN restored THEN it stops, naming the document, its missing version and the lost revision
    with pytest.raises(GapError) as caught:
        run_restore(archive, sqlite_url, RestoreOptions())
    message = str(caught.value)
    assert victim["doc_id"] in message
    assert "versions 1-1 missing" in message
    with open_target(sqlite_url) as target:
        assert target.read_checkpoint("restore") is None  # nothing was written
    # AND with --allow-gaps it restores and reports both views of the same hole
    report = run_restore(archive, sqlite_url, RestoreOptions(allow_gaps=True))
    kinds = sorted((g.kind, g.doc_id) for g in report.gaps)
    assert kinds == [("missing_revision", victim["doc_id"]), ("missing_versions", victim["doc_id"])]
    assert victim["revision_hash"] in report.gaps[0].detail + report.gaps[1].detail


def test_rerun_and_incremental(simulated_archive: SimulatedArchive, sqlite_url: str) -> None:
    # GIVEN a completed restore
    blocks = sorted({t["block_seq"] for t in simulated_archive.truth("history")})
    run_restore(simulated_archive.archive, sqlite_url, RestoreOptions())
    # WHEN it is run again THEN it refuses, pointing at --incremental
    with pytest.raises(CheckpointError, match="--incremental"):
        run_restore(simulated_archive.archive, sqlite_url, RestoreOptions())
    # AND --incremental finds nothing newer than the last block
    report = run_restore(simulated_archive.archive, sqlite_url, RestoreOptions(incremental=True))
    assert (report.revisions_applied, report.started_after_block, report.completed) == (0, blocks[-1], True)


def test_incremental_with_a_settle_window_catches_up(
    simulated_archive: SimulatedArchive, target_url: str
) -> None:
    # GIVEN the archive as an incremental job sees it, run 5 minutes after a third of the commits
    truth = simulated_archive.truth("history")
    times = sorted(utc(t["tx_time"]) for t in truth)
    settle = dt.timedelta(minutes=5)
    early = (times[len(times) // 3] + settle).replace(tzinfo=dt.UTC)
    options = RestoreOptions(incremental=True, settle=settle, history=True)
    # WHEN it runs THEN only revisions older than the settle window are applied
    first = run_restore(simulated_archive.archive, target_url, options, now=early)
    settled = [t for t in truth if utc(t["tx_time"]) <= times[len(times) // 3]]
    assert first.revisions_applied == len(settled)
    with open_target(target_url) as target:
        assert_current_equals(target, expected_current(settled))
    # AND a later run continues after the checkpoint and reaches the final state
    late = (times[-1] + 2 * settle).replace(tzinfo=dt.UTC)
    second = run_restore(simulated_archive.archive, target_url, options, now=late)
    assert second.started_after_block == first.last_block
    assert first.revisions_applied + second.revisions_applied == len(truth)
    with open_target(target_url) as target:
        assert_current_equals(target, expected_current(truth))


@pytest.mark.parametrize("bulk_load", [True, False], ids=["bulk", "guarded"])
def test_final_state_and_block_order_leave_the_same_tables(
    simulated_archive: SimulatedArchive, new_target_url: Callable[[], str], bulk_load: bool
) -> None:
    # GIVEN two empty databases of one engine
    truth = simulated_archive.truth("history")
    shortcut, replay = new_target_url(), new_target_url()
    # WHEN one is restored by a shortcut (the final rows in bulk, or the final states through the
    # guarded apply; read in ranges of about 53 revisions) and the other by every revision in block order
    fast = run_restore(
        simulated_archive.archive,
        shortcut,
        RestoreOptions(batch_revisions=200, bulk_load=bulk_load, range_revisions=53),
    )
    slow = run_restore(
        simulated_archive.archive, replay, RestoreOptions(batch_revisions=200, document_order=False)
    )
    with open_target(shortcut) as target:
        bulk = bulk_load and target.capabilities.bulk_insert
    assert (fast.method, slow.method) == ("bulk load" if bulk else "final state", "block order")
    # THEN both equal the truth, with the same report counts, and a second run changes nothing
    for url in (shortcut, replay):
        with open_target(url) as target:
            assert_current_equals(target, expected_current(truth))
    assert fast.tables == slow.tables
    assert fast.revisions_applied == slow.revisions_applied == len(truth)
    again = run_restore(simulated_archive.archive, shortcut, RestoreOptions(incremental=True))
    assert again.method == "block order"
    assert again.revisions_applied == 0
    with open_target(shortcut) as target:
        assert_current_equals(target, expected_current(truth))

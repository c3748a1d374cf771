"""The views on the local engine equal the simulator's ground truth: final state, history, point in time.

Expected values come from truth/history.jsonl and truth/final.jsonl, never from the code under
test; document data is compared as JSON, against the truth's Ion converted by the projection.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from amazon.ion import simpleion

from athena.errors import LocalQueryError
from athena.local import LocalEngine, current, history, query
from firehose_transform.normalise import ion_to_json

if TYPE_CHECKING:
    from .conftest import Archived

Key = tuple[str, int]


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC).replace(tzinfo=None)


def data_of(truth_row: dict[str, Any]) -> Any:
    return None if truth_row["data"] is None else ion_to_json(simpleion.loads(truth_row["data"]))


def json_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def by_doc(rows: pa.Table) -> dict[str, dict[str, Any]]:
    out = {r["doc_id"]: r for r in rows.to_pylist()}
    assert len(out) == rows.num_rows, "a document appears twice"
    return out


def expected_state(history_truth: list[dict[str, Any]], keep: Any) -> dict[str, dict[str, Any]]:
    """Latest version per document among the revisions `keep` accepts, deleted ones dropped."""
    latest: dict[str, dict[str, Any]] = {}
    for t in history_truth:
        if keep(t) and (t["doc_id"] not in latest or t["version"] > latest[t["doc_id"]]["version"]):
            latest[t["doc_id"]] = t
    return {d: t for d, t in latest.items() if t["kind"] != "deleted"}


def assert_state(rows: pa.Table, expected: dict[str, dict[str, Any]]) -> None:
    got = by_doc(rows)
    assert set(got) == set(expected)
    for doc_id, t in expected.items():
        row = got[doc_id]
        assert (row["table_name"], row["version"], row["block_seq"]) == (
            t["table"],
            t["version"],
            t["block_seq"],
        )
        assert row["tx_time"] == utc(t["tx_time"])
        # a version redacted later has no data, even as of a time before its redaction
        assert json_or_none(row["data_json"]) == data_of(t), (doc_id, t["version"])


def test_the_simulated_archive_has_every_fault(archived: Archived, engine: LocalEngine) -> None:
    kinds = {t["kind"] for t in archived.truth("history")}
    assert kinds == {"live", "deleted", "redacted"}
    rows = engine.query("SELECT COUNT(*) AS n FROM revisions").column("n")[0].as_py()
    assert rows > len(archived.truth("history"))  # duplicates reached the archive


def test_current_equals_final_truth(archived: Archived, engine: LocalEngine) -> None:
    final = {t["doc_id"]: t for t in archived.truth("final")}
    assert_state(engine.current(), final)


def test_current_of_one_table(archived: Archived, engine: LocalEngine) -> None:
    final = {t["doc_id"]: t for t in archived.truth("final") if t["table"] == "Vehicle"}
    assert final
    rows = engine.current("Vehicle")
    assert_state(rows, final)
    assert rows.column("doc_id").to_pylist() == sorted(final)


def test_history_equals_history_truth(archived: Archived, engine: LocalEngine) -> None:
    truth = {(t["doc_id"], t["version"]): t for t in archived.truth("history")}
    rows = engine.query("SELECT * FROM history").to_pylist()
    got: dict[Key, dict[str, Any]] = {(r["doc_id"], r["version"]): r for r in rows}
    # every (doc_id, version) exactly once
    assert len(got) == len(rows)
    assert set(got) == set(truth)
    for key, t in truth.items():
        row = got[key]
        assert (row["table_name"], row["table_id"], row["block_seq"], row["tx_id"], row["revision_hash"]) == (
            t["table"],
            t["table_id"],
            t["block_seq"],
            t["tx_id"],
            t["revision_hash"],
        )
        assert (row["is_deleted"], row["is_redacted"]) == (t["kind"] == "deleted", t["kind"] == "redacted")
        assert row["tx_time"] == utc(t["tx_time"])
        assert row["conflict"] is False
        assert json_or_none(row["data_json"]) == data_of(t), key
    total = engine.query("SELECT COUNT(*) AS n FROM revisions").column("n")[0].as_py()
    assert sum(r["copies"] for r in rows) == total
    assert max(r["copies"] for r in rows) > 1


def test_committed_is_current_with_metadata(archived: Archived, engine: LocalEngine) -> None:
    final = {t["doc_id"]: t for t in archived.truth("final")}
    got = by_doc(engine.query("SELECT * FROM committed"))
    assert set(got) == set(final)
    for doc_id, t in final.items():
        row = got[doc_id]
        assert (row["tx_id"], row["revision_hash"], row["table_id"]) == (
            t["tx_id"],
            t["revision_hash"],
            t["table_id"],
        )
        assert row["strand_id"]
        assert row["revision_ion"]
        assert row["conflict"] is False


def test_point_in_time_by_block(archived: Archived, engine: LocalEngine) -> None:
    truth = archived.truth("history")
    rng = random.Random(4)
    blocks = [*sorted(rng.sample(range(archived.summary.blocks), 5)), 0, archived.summary.blocks - 1]
    for n in blocks:
        # GIVEN the state after block n, from the truth
        expected = expected_state(truth, lambda t, n=n: t["block_seq"] <= n)
        # THEN the point-in-time view equals it
        assert_state(engine.current(as_of_block=n), expected)


def test_point_in_time_by_transaction_time(archived: Archived, engine: LocalEngine) -> None:
    truth = archived.truth("history")
    times = sorted({utc(t["tx_time"]) for t in truth})
    for moment in (times[0], times[len(times) // 3], times[-1] - dt.timedelta(milliseconds=1)):
        expected = expected_state(truth, lambda t, m=moment: utc(t["tx_time"]) <= m)
        assert_state(engine.current(as_of_time=moment), expected)
        # an aware time means the same instant
        aware = moment.replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=-5)))
        assert by_doc(engine.current(as_of_time=aware)).keys() == expected.keys()


def test_as_of_block_and_time_together_is_refused(engine: LocalEngine) -> None:
    with pytest.raises(ValueError, match="not both"):
        engine.current(as_of_block=1, as_of_time=dt.datetime(2020, 1, 1))


def test_document_history_with_a_delete(archived: Archived) -> None:
    truth = archived.truth("history")
    deleted = next(t for t in truth if t["kind"] == "deleted")
    versions = [t for t in truth if t["doc_id"] == deleted["doc_id"]]
    rows = history(archived.archive, deleted["table"], deleted["doc_id"]).to_pylist()
    assert [r["version"] for r in rows] == sorted(t["version"] for t in versions)
    assert [r["is_deleted"] for r in rows] == [
        t["kind"] == "deleted" for t in sorted(versions, key=lambda t: t["version"])
    ]
    assert deleted["doc_id"] not in by_doc(current(archived.archive, deleted["table"]))


def test_redacted_revision_keeps_its_place_in_history(archived: Archived, engine: LocalEngine) -> None:
    redacted = next(t for t in archived.truth("history") if t["kind"] == "redacted")
    rows = engine.history(redacted["table"], redacted["doc_id"]).to_pylist()
    row = next(r for r in rows if r["version"] == redacted["version"])
    assert row["is_redacted"]
    assert row["data_json"] is None
    assert row["revision_hash"] == redacted["revision_hash"]


def test_partition_keys_are_strings(engine: LocalEngine) -> None:
    rows = engine.query("SELECT p_ledger, p_record_type, p_table, p_date FROM revisions LIMIT 1")
    assert all(f.type == pa.string() for f in rows.schema)
    assert rows.column("p_record_type")[0].as_py() == "revision_details"
    assert rows.column("p_date")[0].as_py() == "2019-12-11"


def add_copy(archived: Archived, archive: Path, target: dict[str, Any], changes: dict[str, Any]) -> None:
    """Copy the archive to `archive` and add one more archived row of `target`, with `changes`."""
    shutil.copytree(archived.archive, archive)
    part = next(archive.glob(f"p_ledger=*/p_record_type=revision_details/p_table={target['table']}/p_date=*"))
    for path in sorted(part.glob("*.parquet")):
        rows = pq.read_table(path)
        mask = pc.and_(
            pc.equal(rows["doc_id"], target["doc_id"]), pc.equal(rows["version"], target["version"])
        )
        copy = rows.filter(mask).slice(0, 1)
        if copy.num_rows:
            break
    for name, value in changes.items():
        field = copy.schema.field(name)
        copy = copy.set_column(copy.schema.get_field_index(name), field, pa.array([value], field.type))
    pq.write_table(copy, part / "extra.parquet")


def test_conflicting_duplicate_is_surfaced(archived: Archived, tmp_path: Path) -> None:
    # GIVEN an archive where one revision was also written with another hash
    target = next(t for t in archived.truth("final") if t["version"] > 0)
    add_copy(archived, tmp_path / "archive", target, {"revision_hash": "AAAA"})
    # WHEN the views run
    with LocalEngine.open(tmp_path / "archive") as engine:
        hist = engine.history(target["table"], target["doc_id"]).to_pylist()
        conflicts = engine.query("SELECT * FROM history_conflicts").to_pylist()
        committed = engine.query("SELECT * FROM committed WHERE doc_id = ?", [target["doc_id"]]).to_pylist()
    # THEN the revision is there once, flagged, and both variants are listed
    row = next(r for r in hist if r["version"] == target["version"])
    assert row["conflict"] is True
    assert row["copies"] >= 2
    assert sum(r["version"] == target["version"] for r in hist) == 1
    assert {r["revision_hash"] for r in conflicts} == {"AAAA", target["revision_hash"]}
    assert {(r["doc_id"], r["version"]) for r in conflicts} == {(target["doc_id"], target["version"])}
    assert committed[0]["conflict"] is True


def test_redacted_copy_wins_over_the_copy_streamed_before_redaction(
    archived: Archived, tmp_path: Path
) -> None:
    # GIVEN a redacted revision also archived as it was streamed before its redaction (same hash)
    target = next(t for t in archived.truth("history") if t["kind"] == "redacted")
    before = {"is_redacted": False, "data_hash": None, "data_json": '{"before": "redaction"}'}
    add_copy(archived, tmp_path / "archive", target, before)
    # WHEN the history is read
    rows = history(tmp_path / "archive", target["table"], target["doc_id"]).to_pylist()
    # THEN it shows the revision redacted, once, and not as a conflict
    row = next(r for r in rows if r["version"] == target["version"])
    assert row["is_redacted"] is True
    assert row["data_json"] is None
    assert row["conflict"] is False
    assert row["copies"] >= 2


def test_empty_archive(tmp_path: Path) -> None:
    rows = current(tmp_path)
    assert rows.num_rows == 0
    assert rows.column_names == [
        "ledger",
        "table_name",
        "doc_id",
        "version",
        "tx_time",
        "block_seq",
        "data_json",
    ]


def test_bad_sql_names_the_archive(tmp_path: Path) -> None:
    with pytest.raises(LocalQueryError, match=str(tmp_path)):
        query(tmp_path, "SELECT FROM WHERE")
    with pytest.raises(LocalQueryError, match="no_such_table"):
        query(tmp_path, "SELECT * FROM no_such_table")

"""The local Firehose: simulated ledgers through the real handler into the Parquet layout, and back.

Expected values come from the simulator's ground truth and from the input records themselves
(parsed here with amazon-ion directly), never from the code under test.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from amazon.ion import simpleion

from firehose_transform.local_firehose import (
    ERROR_OUTPUT_PREFIX,
    PROCESSING_FAILED,
    REPROCESSED,
    S3_PREFIX,
    events_from_kinesis_files,
    object_name,
    read_failed_records,
    reprocess_errors,
    run_local_firehose,
)
from firehose_transform.schema import arrow_schema
from firehose_transform.storage import StorageError, open_location
from journal.ion_hash import ion_hash
from journal.kpl import deaggregate, is_aggregated
from journal.merkle import dot
from journal.simulate import EMPTY_DATA_HASH, OperationMix, SimulationConfig, write_simulation

KEY = re.compile(
    r"^p_ledger=vehicle-registration/p_record_type=(revision_details|block_summary|control)/"
    r"p_table=([^/]+)/p_date=(\d{4}-\d{2}-\d{2})/"
    r"qldb-archive-1-\d{4}(-\d{2}){5}-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\.parquet$"
)
ERROR_KEY = re.compile(
    r"^processing-failed/\d{4}/\d{2}/\d{2}/\d{2}/qldb-archive-1-\d{4}(-\d{2}){5}-[0-9a-f-]{36}$"
)


@dataclass(frozen=True, slots=True)
class Sim:
    out: Path

    def events(self) -> Iterator[dict[str, Any]]:
        for p in sorted((self.out / "firehose").glob("event-*.json")):
            yield json.loads(p.read_text())

    def truth(self) -> dict[tuple[str, int], dict[str, Any]]:
        lines = (self.out / "truth" / "history.jsonl").read_text().splitlines()
        return {(t["doc_id"], t["version"]): t for t in map(json.loads, lines)}

    def input_counts(self) -> Counter[str]:
        """Stream records per type in the input events, parsed with amazon-ion alone."""
        counts: Counter[str] = Counter()
        for event in self.events():
            for rec in event["records"]:
                data = base64.b64decode(rec["data"])
                users = [u.data for u in deaggregate(data, source="t")] if is_aggregated(data) else [data]
                for user in users:
                    for value in simpleion.loads(user, single_value=False):
                        counts[str(value["recordType"])] += 1
        return counts


def simulate(out: Path, outputs: frozenset[str] = frozenset({"firehose", "truth"}), **config: Any) -> Sim:
    write_simulation(out, SimulationConfig(**config), outputs=outputs)
    return Sim(out)


# Deletes and redactions well above the defaults; duplicates, reordering and KPL aggregation on.
MIX = OperationMix(insert=0.35, update=0.4, delete=0.25, redact=0.15)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Sim:
    return simulate(
        tmp_path_factory.mktemp("lf"),
        outputs=frozenset({"firehose", "kinesis", "truth"}),
        revisions=500,
        seed=41,
        mix=MIX,
        duplicate_rate=0.15,
        out_of_order_window=32,
        aggregate=True,
    )


def parquet_keys(dest: Path) -> list[str]:
    return [k for k in open_location(str(dest)).list_keys() if k.endswith(".parquet")]


def read_rows(dest: Path) -> list[dict[str, Any]]:
    paths = [str(dest / k) for k in parquet_keys(dest)]
    return ds.dataset(paths, format="parquet", schema=arrow_schema()).to_table().to_pylist()  # type: ignore[no-any-return]


def recompute(row: dict[str, Any]) -> bytes:
    revision = simpleion.loads(row["revision_ion"])
    md_hash = ion_hash(revision["metadata"])
    if row["is_redacted"]:
        return dot(md_hash, base64.b64decode(row["data_hash"]))
    if row["is_deleted"]:
        return dot(md_hash, EMPTY_DATA_HASH)  # the simulator's convention (candidate H1)
    return dot(md_hash, ion_hash(revision["data"]))


def check_archive(sim: Sim, dest: Path) -> list[dict[str, Any]]:
    rows = read_rows(dest)
    truth = sim.truth()
    revisions = [r for r in rows if r["record_type"] == "REVISION_DETAILS"]
    assert {(r["doc_id"], r["version"]) for r in revisions} == set(truth)
    kinds = Counter(t["kind"] for t in truth.values())
    assert kinds["deleted"] > 0
    assert kinds["redacted"] > 0
    for row in revisions:
        t = truth[(row["doc_id"], row["version"])]
        assert (row["table_name"], row["block_seq"], row["revision_hash"]) == (
            t["table"],
            t["block_seq"],
            t["revision_hash"],
        )
        assert (row["is_deleted"], row["is_redacted"]) == (t["kind"] == "deleted", t["kind"] == "redacted")
        assert base64.b64encode(recompute(row)).decode() == t["revision_hash"], (
            row["doc_id"],
            row["version"],
        )
    return rows


def test_round_trip_of_a_simulated_ledger(sim: Sim, tmp_path: Path) -> None:
    # GIVEN a simulated ledger's Firehose events (duplicates, reordering, deletes, redactions)
    # WHEN the local Firehose delivers them to a folder
    summary = run_local_firehose(sim.events(), str(tmp_path))
    # THEN every record is Ok, and there is one row per input stream record, per record type
    assert (summary.failed, summary.dropped) == (0, 0)
    expected = sim.input_counts()
    assert summary.rows == dict(expected)
    rows = check_archive(sim, tmp_path)
    assert Counter(r["record_type"] for r in rows) == expected
    # AND every object sits under Firehose's key layout, in the partition its rows belong to
    keys = parquet_keys(tmp_path)
    assert len(keys) == summary.objects_written > 0
    for key in keys:
        m = KEY.match(key)
        assert m, key
        table = pq.read_table(tmp_path / key)
        assert table.schema.equals(arrow_schema(), check_metadata=False)
        assert pq.ParquetFile(tmp_path / key).metadata.row_group(0).column(0).compression == "SNAPPY"
        types = set(table.column("record_type").to_pylist())
        assert types == {m.group(1).upper()}
        if m.group(1) == "revision_details":
            assert set(table.column("table_name").to_pylist()) == {m.group(2)}
            assert {t.strftime("%Y-%m-%d") for t in table.column("tx_time").to_pylist()} == {m.group(3)}


def test_rerun_adds_no_objects(sim: Sim, tmp_path: Path) -> None:
    first = run_local_firehose(sim.events(), str(tmp_path))
    keys = parquet_keys(tmp_path)
    again = run_local_firehose(sim.events(), str(tmp_path))
    assert (again.objects_written, again.objects_existing) == (0, first.objects_written)
    assert parquet_keys(tmp_path) == keys


def test_small_buffers_cut_more_objects_with_the_same_rows(sim: Sim, tmp_path: Path) -> None:
    summary = run_local_firehose(sim.events(), str(tmp_path), buffer_records=50)
    tables = [pq.read_table(tmp_path / k) for k in parquet_keys(tmp_path)]
    assert all(t.num_rows <= 50 for t in tables)
    assert sum(t.num_rows for t in tables) == sum(summary.rows.values()) == sum(sim.input_counts().values())


def test_kinesis_files_become_firehose_events(sim: Sim, tmp_path: Path) -> None:
    # GIVEN the simulator's Kinesis record files (KPL aggregates, duplicates, two shards)
    files = sorted((sim.out / "kinesis").glob("shard-*.jsonl"))
    events = list(events_from_kinesis_files(files, source_stream_arn="arn:aws:kinesis:us-east-1:1:stream/s"))
    # THEN they are Firehose-sized, de-aggregated and uniquely identified
    records = [r for e in events for r in e["records"]]
    assert all(len(e["records"]) <= 500 for e in events)
    assert len({r["recordId"] for r in records}) == len(records)
    assert not any(is_aggregated(base64.b64decode(r["data"])) for r in records)
    # AND they archive the whole ledger
    summary = run_local_firehose(events, str(tmp_path))
    assert summary.failed == 0
    check_archive(sim, tmp_path)


def bad_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event with two records that no fix will ever parse."""
    extra = [
        {"recordId": "bad-0", "approximateArrivalTimestamp": 1576048851261, "data": "bm90IGlvbg=="},
        {"recordId": "bad-1", "approximateArrivalTimestamp": 1576048851262, "data": "%%%"},
    ]
    return {**event, "records": [*event["records"], *extra]}


def test_failed_records_keep_their_bytes_and_reprocess_after_a_fix(
    sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a Lambda whose response budget is too small (the cause), and two unparseable records
    events = list(sim.events())
    events[0] = bad_event(events[0])
    budget = 2 * max(len(json.dumps(e)) for e in events)  # room for about a quarter of the rows
    monkeypatch.setenv("QLDB_ARCHIVE_MAX_RESPONSE_BYTES", str(budget))
    first = run_local_firehose(events, str(tmp_path))
    # THEN the failed records are under the error prefix, as Firehose writes them, bytes intact
    assert first.failed > 2
    assert first.ok > 0
    loc = open_location(str(tmp_path))
    error_keys = loc.list_keys(PROCESSING_FAILED)
    assert error_keys
    assert all(ERROR_KEY.match(k) for k in error_keys)
    doc = json.loads(loc.read_bytes(error_keys[0]).splitlines()[0])
    assert set(doc) == {
        "attemptsMade",
        "arrivalTimestamp",
        "errorCode",
        "errorMessage",
        "attemptEndingTimestamp",
        "rawData",
        "lambdaArn",
    }
    assert doc["errorCode"] == "Lambda.ProcessingFailedStatus"
    failed = list(read_failed_records(str(tmp_path)))
    assert len(failed) == first.failed
    inputs = {r["data"] for e in events for r in e["records"]}
    assert {base64.b64encode(f.raw_data).decode() for f in failed} <= inputs | {""}
    # WHEN the cause is removed and the errors are re-run, twice
    monkeypatch.delenv("QLDB_ARCHIVE_MAX_RESPONSE_BYTES")
    summary = reprocess_errors(str(tmp_path))
    again = reprocess_errors(str(tmp_path))
    # THEN everything but the two bad records is archived; they stay, now in their own object
    assert (summary.recovered, summary.still_failed) == (first.failed - 2, 2)
    assert summary.objects_moved == len(error_keys)
    assert (again.recovered, again.objects_moved, again.run.objects_written) == (0, 0, 0)
    left = list(read_failed_records(str(tmp_path)))
    assert sorted(f.raw_data for f in left) == sorted([b"", b"not ion"])
    assert all(f.attempts_made == 2 for f in left)
    assert len(loc.list_keys(REPROCESSED)) == len(error_keys)
    check_archive(sim, tmp_path)


def test_direct_put_aggregates_round_trip(tmp_path: Path) -> None:
    sim = simulate(tmp_path / "sim", revisions=150, seed=43, firehose_mode="direct_put", mix=MIX)
    summary = run_local_firehose(sim.events(), str(tmp_path / "archive"))
    assert summary.failed == 0
    assert summary.rows == dict(sim.input_counts())
    check_archive(sim, tmp_path / "archive")


def test_layout_constants() -> None:
    assert S3_PREFIX == (
        "p_ledger=!{partitionKeyFromLambda:p_ledger}/p_record_type=!{partitionKeyFromLambda:p_record_type}/"
        "p_table=!{partitionKeyFromLambda:p_table}/p_date=!{partitionKeyFromLambda:p_date}/"
    )
    assert ERROR_OUTPUT_PREFIX.startswith("!{firehose:error-output-type}/")
    assert object_name("s", 0, bytes(range(32))).startswith("s-1-1970-01-01-00-00-00-00010203-")


def test_storage_local_round_trip(tmp_path: Path) -> None:
    loc = open_location(str(tmp_path / "a"))
    loc.write_bytes("x/y/z.bin", b"123")
    (tmp_path / "a" / "x" / ".w.bin.1234.partial").write_bytes(b"half")
    loc.write_parquet("p/t.parquet", pa.table({"a": [1, 2]}))
    assert loc.list_keys() == ["p/t.parquet", "x/y/z.bin"]
    assert loc.read_bytes("x/y/z.bin") == b"123"
    assert loc.exists("x/y/z.bin")
    loc.move("x/y/z.bin", "moved/z.bin")
    assert loc.list_keys("moved") == ["moved/z.bin"]
    assert not loc.exists("x/y/z.bin")
    assert loc.list_keys("nothing-here") == []
    with pytest.raises(StorageError, match="unknown scheme"):
        open_location("ftp://host/x")
    with pytest.raises(StorageError, match="needs a bucket"):
        open_location("s3:///x")
    with pytest.raises(StorageError):
        loc.read_bytes("missing")

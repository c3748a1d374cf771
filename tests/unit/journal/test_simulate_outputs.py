"""The simulator's files: Kinesis record files and their delivery faults, Firehose events, exports."""

from __future__ import annotations

import base64
import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from journal.export import parse_completed_manifest, parse_started_manifest, read_export
from journal.kpl import deaggregate, is_aggregated
from journal.records import (
    BlockSummaryRecord,
    ControlRecord,
    RevisionDetailsRecord,
    StreamRecord,
    parse_stream_records,
)
from journal.simulate import FirehoseMode, SimulationConfig, simulate_blocks, write_simulation
from journal.simulate.kinesis import shard_for

KINESIS = frozenset({"kinesis"})


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def kinesis_lines(out: Path) -> dict[str, list[dict[str, Any]]]:
    return {p.name: read_jsonl(p) for p in sorted((out / "kinesis").glob("*.jsonl"))}


def stream_records_of(line: dict[str, Any]) -> list[StreamRecord]:
    data = base64.b64decode(line["data"])
    users = deaggregate(data, source=line["sequenceNumber"], partition_key=line["partitionKey"])
    return [r for u in users for r in parse_stream_records(u.data, source=line["sequenceNumber"])]


def record_key(record: StreamRecord) -> tuple[str, ...]:
    if isinstance(record, RevisionDetailsRecord):
        return ("R", record.revision.doc_id, str(record.revision.version))
    if isinstance(record, BlockSummaryRecord):
        return ("B", str(record.block.block_seq))
    return ("C", record.control_type)


# --- Kinesis record files ------------------------------------------------------------------------


def test_every_stream_record_parses_and_the_stream_is_complete(tmp_path: Path) -> None:
    # GIVEN a default run (aggregation, duplicates, reordering, two shards)
    config = SimulationConfig(revisions=1_500, seed=4)
    write_simulation(tmp_path, config, outputs=KINESIS | {"truth"})
    # WHEN every line of every shard file is de-aggregated and parsed
    records = [
        r for lines in kinesis_lines(tmp_path).values() for line in lines for r in stream_records_of(line)
    ]
    # THEN the stream holds CREATED, COMPLETED, every block summary and every user revision
    keys = {record_key(r) for r in records}
    history = read_jsonl(tmp_path / "truth/history.jsonl")
    summary = json.loads((tmp_path / "truth/summary.json").read_text())
    assert {k for k in keys if k[0] == "R"} == {("R", h["doc_id"], str(h["version"])) for h in history}
    assert {k for k in keys if k[0] == "B"} == {("B", str(i)) for i in range(summary["blocks"])}
    assert {k for k in keys if k[0] == "C"} == {("C", "CREATED"), ("C", "COMPLETED")}
    by_id = {(h["doc_id"], h["version"]): h for h in history}
    for r in records:
        if isinstance(r, RevisionDetailsRecord):
            row = by_id[(r.revision.doc_id, r.revision.version)]
            assert base64.b64encode(r.revision.revision_hash).decode() == row["revision_hash"]
            assert r.revision.kind.value == row["kind"]
            assert r.revision.table_name == row["table"]
        elif isinstance(r, ControlRecord):
            assert r.stream_arn == summary["stream_arn"]


def test_block_summaries_chain_and_name_their_revisions(tmp_path: Path) -> None:
    write_simulation(tmp_path, SimulationConfig(revisions=600, seed=8), outputs=KINESIS)
    summaries = {}
    for lines in kinesis_lines(tmp_path).values():
        for line in lines:
            for r in stream_records_of(line):
                if isinstance(r, BlockSummaryRecord):
                    summaries[r.block.block_seq] = r.block
    blocks = [s.block for s in simulate_blocks(SimulationConfig(revisions=600, seed=8))]
    assert [summaries[b.block_seq].block_hash for b in blocks] == [b.block_hash for b in blocks]
    for block in blocks:
        streamed = summaries[block.block_seq]
        assert streamed.summaries == block.summaries
        assert streamed.entries_hash_list == block.entries_hash_list
        assert (streamed.redaction_info is None) == (block.redaction_info is None)


def test_without_faults_records_arrive_once_and_in_order(tmp_path: Path) -> None:
    config = SimulationConfig(
        revisions=400, seed=2, shards=1, duplicate_rate=0.0, out_of_order_window=0, aggregate=False
    )
    write_simulation(tmp_path, config, outputs=KINESIS)
    (lines,) = kinesis_lines(tmp_path).values()
    sequence = [int(line["sequenceNumber"]) for line in lines]
    assert sequence == sorted(sequence)
    assert len(set(sequence)) == len(sequence)
    assert all(len(line["sequenceNumber"]) == 56 for line in lines)
    arrivals = [line["approximateArrivalTimestamp"] for line in lines]
    assert arrivals == sorted(arrivals)
    blocks = [
        record_key(r)[1]
        for line in lines
        for r in stream_records_of(line)
        if isinstance(r, BlockSummaryRecord)
    ]
    assert blocks == sorted(blocks, key=int)


def test_duplicate_rate_repeats_that_share_of_records(tmp_path: Path) -> None:
    # GIVEN one plain record per stream record and a 10% duplicate rate
    config = SimulationConfig(revisions=2_000, seed=3, shards=1, aggregate=False, duplicate_rate=0.1)
    summary = write_simulation(tmp_path, config, outputs=KINESIS)
    (lines,) = kinesis_lines(tmp_path).values()
    # THEN about 10% of the deliveries repeat a record, and every record is delivered
    by_data = Counter(line["data"] for line in lines)
    repeats = sum(n - 1 for n in by_data.values())
    assert len(by_data) == summary.stream_records
    assert summary.duplicates == repeats == len(lines) - summary.stream_records
    assert 0.07 < repeats / summary.stream_records < 0.13
    # AND replays keep their sequence number while producer retries get a new one
    by_sequence = Counter(line["sequenceNumber"] for line in lines)
    replays = sum(n - 1 for n in by_sequence.values())
    assert 0 < replays < repeats


def test_out_of_order_window_shuffles_within_the_window(tmp_path: Path) -> None:
    window = 8
    config = SimulationConfig(
        revisions=800, seed=6, shards=1, aggregate=False, duplicate_rate=0.0, out_of_order_window=window
    )
    summary = write_simulation(tmp_path, config, outputs=KINESIS)
    (lines,) = kinesis_lines(tmp_path).values()
    sequence = [int(line["sequenceNumber"]) for line in lines]
    assert len(set(sequence)) == len(sequence) == summary.stream_records
    assert sequence != sorted(sequence)
    ranks = {s: i for i, s in enumerate(sorted(sequence))}
    # a record is delivered no earlier than `window - 1` places before its turn
    assert all(ranks[s] - i <= window - 1 for i, s in enumerate(sequence))


def test_shards_route_by_partition_key(tmp_path: Path) -> None:
    config = SimulationConfig(revisions=800, seed=7, shards=4, aggregate=False)
    write_simulation(tmp_path, config, outputs=KINESIS)
    files = kinesis_lines(tmp_path)
    assert sorted(files) == [f"shard-shardId-{i:012d}.jsonl" for i in range(4)]
    doc_shards: dict[str, set[str]] = {}
    for name, lines in files.items():
        assert {line["shardId"] for line in lines} == {name[len("shard-") : -len(".jsonl")]}
        for line in lines:
            assert line["shardId"] == f"shardId-{shard_for(line['partitionKey'], 4):012d}"
            for r in stream_records_of(line):
                if isinstance(r, RevisionDetailsRecord):
                    assert line["partitionKey"] == r.revision.doc_id
                    doc_shards.setdefault(r.revision.doc_id, set()).add(line["shardId"])
                elif isinstance(r, BlockSummaryRecord):
                    assert line["partitionKey"] == r.block.tx_id
        assert all(lines)
    assert all(len(s) == 1 for s in doc_shards.values())  # a document's revisions stay on one shard


@pytest.mark.parametrize("aggregate", [True, False])
def test_aggregation_knob(tmp_path: Path, aggregate: bool) -> None:
    config = SimulationConfig(revisions=600, seed=5, aggregate=aggregate, duplicate_rate=0.0)
    summary = write_simulation(tmp_path, config, outputs=KINESIS)
    lines = [line for lines in kinesis_lines(tmp_path).values() for line in lines]
    aggregated = [is_aggregated(base64.b64decode(line["data"])) for line in lines]
    if aggregate:
        assert any(aggregated)
        assert len(lines) < summary.stream_records
        assert max(len(stream_records_of(line)) for line in lines) > 1
        for line in lines:
            users = deaggregate(base64.b64decode(line["data"]), source="t")
            assert line["partitionKey"] == users[0].partition_key
    else:
        assert not any(aggregated)
        assert len(lines) == summary.stream_records


# --- Firehose events ---------------------------------------------------------------------------


def firehose_events(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((out / "firehose").glob("event-*.json"))]


@pytest.mark.parametrize("mode", ["kinesis", "kinesis_aggregated", "direct_put"])
def test_firehose_events_have_the_real_shape(tmp_path: Path, mode: FirehoseMode) -> None:
    config = SimulationConfig(revisions=700, seed=12, firehose_mode=mode, firehose_max_records=100)
    summary = write_simulation(tmp_path, config, outputs=frozenset({"firehose"}))
    events = firehose_events(tmp_path)
    assert len(events) == summary.firehose_events > 1
    record_ids: set[str] = set()
    parsed: set[tuple[str, ...]] = set()
    aggregated = 0
    for path, event in zip(sorted((tmp_path / "firehose").glob("*.json")), events, strict=True):
        assert path.stat().st_size < 6_000_000
        assert 0 < len(event["records"]) <= 100
        expected = {"invocationId", "deliveryStreamArn", "region", "records"}
        if mode != "direct_put":
            expected.add("sourceKinesisStreamArn")
        assert set(event) == expected
        assert event["deliveryStreamArn"].startswith("arn:aws:firehose:")
        for rec in event["records"]:
            record_ids.add(rec["recordId"])
            assert isinstance(rec["approximateArrivalTimestamp"], int)
            data = base64.b64decode(rec["data"])
            aggregated += is_aggregated(data)
            if mode == "direct_put":
                assert set(rec) == {"recordId", "approximateArrivalTimestamp", "data"}
            else:
                meta = rec["kinesisRecordMetadata"]
                assert set(meta) == {
                    "shardId",
                    "partitionKey",
                    "approximateArrivalTimestamp",
                    "sequenceNumber",
                    "subsequenceNumber",
                }
                assert rec["recordId"].startswith(meta["sequenceNumber"])
            for user in deaggregate(data, source=rec["recordId"]):
                parsed.update(record_key(r) for r in parse_stream_records(user.data, source=rec["recordId"]))
    assert len(record_ids) == summary.firehose_records  # unique, duplicates included
    assert len([k for k in parsed if k[0] == "R"]) == summary.revisions
    assert (aggregated > 0) == (mode != "kinesis")


def test_firehose_events_stay_under_the_size_limits(tmp_path: Path) -> None:
    config = SimulationConfig(revisions=600, seed=13, firehose_buffer_bytes=20_000)
    write_simulation(tmp_path, config, outputs=frozenset({"firehose"}))
    for event in firehose_events(tmp_path):
        data = sum(len(base64.b64decode(r["data"])) for r in event["records"])
        assert data <= 20_000 or len(event["records"]) == 1
        assert len(event["records"]) <= 500


# --- journal exports -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["ION_TEXT", "ION_BINARY", "JSON"])
def test_export_manifests_list_every_data_object_in_order(tmp_path: Path, fmt: str) -> None:
    config = SimulationConfig(revisions=500, seed=14, export_format=fmt, export_blocks_per_object=40)  # type: ignore[arg-type]
    summary = write_simulation(tmp_path, config, outputs=frozenset({"export"}))
    folder = tmp_path / "export"
    (started_path,) = folder.glob("*.started.manifest")
    (completed_path,) = folder.glob("*.completed.manifest")
    started = parse_started_manifest(started_path.read_bytes(), source=started_path.name)
    completed = parse_completed_manifest(completed_path.read_bytes(), source=completed_path.name)
    assert started.output_format == fmt
    assert started.export_id == completed.export_id
    assert completed.strand_id == summary.tip.strand_id
    ext = ".json" if fmt == "JSON" else ".ion"
    objects = sorted(p for p in folder.rglob(f"*{ext}"))
    assert len(completed.keys) == len(objects) == summary.export_objects
    assert all(k.startswith(f"{started.prefix}/") for k in completed.keys)
    ranges = [tuple(map(int, k.rsplit(".", 2)[1].split("-"))) for k in completed.keys]
    assert ranges[0][0] == 0
    assert ranges[-1][1] == summary.tip.block_seq
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(ranges))
    assert all(hi - lo + 1 <= 40 for lo, hi in ranges)
    blocks = list(read_export(folder))
    assert [b.block_seq for b in blocks] == list(range(summary.blocks))
    assert blocks[-1].block_hash == summary.tip_block_hash
    assert sum(len(b.revisions) for b in blocks) == summary.revisions


def test_json_export_down_converts_types(tmp_path: Path) -> None:
    config = SimulationConfig(revisions=200, seed=15, export_format="JSON")
    write_simulation(tmp_path, config, outputs=frozenset({"export"}))
    (data,) = (tmp_path / "export").rglob("*.json")
    lines = [json.loads(line) for line in data.read_text().splitlines()]
    first = lines[0]
    assert first["previousBlockHash"] == ""  # genesis
    assert isinstance(first["blockHash"], str)
    assert len(base64.b64decode(first["blockHash"])) == 32
    assert first["blockTimestamp"].endswith("Z")
    user = next(b for b in lines if any("data" in r for r in b["revisions"]))
    revision = next(r for r in user["revisions"] if "data" in r)
    assert isinstance(revision["metadata"]["version"], int)
    assert revision["metadata"]["txTime"].endswith("Z")

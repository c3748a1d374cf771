"""Live replication acceptance on MariaDB and PostgreSQL: simulated Kinesis events through the real handler.

The simulator's deliveries (3 shards, KPL aggregates, duplicates, reordering within each shard)
go through the local twin of the event source mapping (`restore.live_local`) into the handler.
Expected values come from the simulator's truth, from a restore of the archive the same
deliveries made (through the local Firehose), and from the stream records themselves, read with
the journal parser.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from journal.kpl import deaggregate, is_aggregated
from journal.records import RevisionDetailsRecord, parse_stream_records
from restore.identifiers import TOMBSTONE_TABLE, table_names
from restore.live import LiveConfig, LiveReplicator
from restore.live_local import EventSourceRun, KinesisEvent, ShardRecord, read_kinesis_files, run_event_source
from restore.parity import check_parity
from restore.runner import RestoreOptions, run_restore
from restore.targets import Target, open_target
from tests.integration.test_restore_acceptance import TABLES, assert_current_equals, expected_current

STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/qldb-vehicle-registration"
Revision = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class SimulatedStream:
    """One simulated delivery: the shards as Lambda reads them, the archive Firehose made of it, truth."""

    shards: dict[str, list[ShardRecord]]
    archive: Path
    history: list[dict[str, Any]]
    duplicates: int


@pytest.fixture(scope="session")
def stream(tmp_path_factory: pytest.TempPathFactory) -> SimulatedStream:
    from firehose_transform.local_firehose import events_from_path, run_local_firehose
    from journal.simulate import SimulationConfig, write_simulation

    root = tmp_path_factory.mktemp("live")
    config = SimulationConfig(revisions=1500, seed=21, shards=3, duplicate_rate=0.08, out_of_order_window=16)
    summary = write_simulation(root / "sim", config, outputs=frozenset({"kinesis", "firehose", "truth"}))
    run_local_firehose(events_from_path(root / "sim" / "firehose"), str(root / "archive"))
    history = [
        json.loads(line) for line in (root / "sim" / "truth" / "history.jsonl").read_text().splitlines()
    ]
    return SimulatedStream(
        read_kinesis_files(root / "sim" / "kinesis"), root / "archive", history, summary.duplicates
    )


@pytest.fixture(params=["mysql", "postgresql"])
def new_url(request: pytest.FixtureRequest) -> Callable[[], str]:
    """Fresh databases of each server engine in turn."""
    make: Callable[[], str] = request.getfixturevalue(f"new_{request.param}_url")
    return make


def revisions_of(rec: ShardRecord) -> list[Revision]:
    """(table, doc_id, version) of every revision a Kinesis record carries, read with the journal parser."""
    data = base64.b64decode(rec.data_b64)
    found: list[Revision] = []
    for user in deaggregate(data, source=rec.sequence_number):
        for sr in parse_stream_records(user.data, source=rec.sequence_number):
            if isinstance(sr, RevisionDetailsRecord):
                found.append((sr.revision.table_name or "", sr.revision.doc_id, sr.revision.version))
    return found


def replicate(
    url: str, stream: SimulatedStream, config: LiveConfig, *, batch_size: int, clock: Callable[[], float]
) -> EventSourceRun:
    with open_target(url) as target:
        replicator = LiveReplicator(target, config, clock=clock)
        return run_event_source(
            stream.shards,
            lambda e: replicator.handle(e).response,
            stream_arn=STREAM_ARN,
            batch_size=batch_size,
        )


def rows(target: Target, history: bool) -> dict[str, list[Any]]:
    names = table_names(TABLES, target.capabilities.identifiers)
    out: dict[str, list[Any]] = {t: list(target.fetch_current(names[t])) for t in TABLES}
    if history:
        out |= {f"{t}_history": list(target.fetch_history(names[t])) for t in TABLES}
    return out


def test_the_simulated_stream_has_every_delivery_fault(stream: SimulatedStream) -> None:
    records = [r for shard in stream.shards.values() for r in shard]
    assert len(stream.shards) == 3
    assert stream.duplicates > 0
    assert sum(is_aggregated(base64.b64decode(r.data_b64)) for r in records) > len(records) // 2
    late = 0
    for shard in stream.shards.values():  # a version delivered before an earlier one of its document
        highest: dict[tuple[str, str], int] = {}
        for rec in shard:
            for table, doc_id, version in revisions_of(rec):
                late += version < highest.get((table, doc_id), -1)
                highest[(table, doc_id)] = max(highest.get((table, doc_id), -1), version)
    assert late > 10


def test_converge_equals_truth_and_a_restore_and_parity_holds(
    stream: SimulatedStream, new_url: Callable[[], str]
) -> None:
    # GIVEN the stream replicated live in converge order, with history
    live_url, restored_url = new_url(), new_url()
    run = replicate(live_url, stream, LiveConfig(history=True), batch_size=100, clock=lambda: 0.0)
    assert (run.partial_failures, run.function_errors, run.discarded) == ([], [], [])
    # AND the archive the same deliveries made, restored
    run_restore(stream.archive, restored_url, RestoreOptions(history=True))
    with open_target(live_url) as live, open_target(restored_url) as restored:
        # THEN the current tables equal the simulator's final state
        assert_current_equals(live, expected_current(stream.history))
        # AND every row, current and history, equals the restore's (data text, content_hash included)
        assert rows(live, True) == rows(restored, True)
    # AND the parity check, unchanged, finds the live database equal to the archive
    report = check_parity(stream.archive, live_url)
    assert report.equal, report.summary_lines()
    assert sum(t.archive_documents for t in report.tables) == len(expected_current(stream.history))


def db_versions(target: Target) -> dict[tuple[str, str], int]:
    """Highest version per document in the target: current rows and tombstones."""
    names = table_names(TABLES, target.capabilities.identifiers)
    found = {(t, r.doc_id): r.version for t in TABLES for r in target.fetch_current(names[t])}
    tombs = target.query(
        f"SELECT table_name, doc_id, version FROM {target.capabilities.quote(TOMBSTONE_TABLE)}", ()
    )
    for table, doc_id, version in tombs:
        found[(table, doc_id)] = max(found.get((table, doc_id), -1), int(version))
    return found


def expected_failure(batch: Sequence[ShardRecord], held: Mapping[tuple[str, str], int]) -> str | None:
    """The first record with a revision whose earlier version is neither in the database nor in the batch."""
    in_batch = {r for rec in batch for r in revisions_of(rec)}

    def in_order(table: str, doc_id: str, version: int) -> bool:
        return all(
            v <= held.get((table, doc_id), -1) or (table, doc_id, v) in in_batch for v in range(version)
        )

    for rec in batch:
        if not all(in_order(*r) for r in revisions_of(rec)):
            return rec.sequence_number
    return None


def test_strict_fails_exactly_the_records_missing_an_earlier_version(
    stream: SimulatedStream, new_url: Callable[[], str]
) -> None:
    # GIVEN strict order that never stops waiting
    url = new_url()
    mismatches: list[tuple[str | None, Any]] = []
    with open_target(url) as target:
        replicator = LiveReplicator(target, LiveConfig(order="strict"), clock=lambda: 0.0)
        names = table_names(TABLES, target.capabilities.identifiers)
        target.ensure_schema(list(names.values()), history=False)

        def handler(event: KinesisEvent) -> Mapping[str, Any]:
            batch = [
                ShardRecord(
                    r["eventID"].split(":")[0],
                    r["kinesis"]["sequenceNumber"],
                    r["kinesis"]["partitionKey"],
                    r["kinesis"]["approximateArrivalTimestamp"],
                    r["kinesis"]["data"],
                )
                for r in event["Records"]
            ]
            expected = expected_failure(batch, db_versions(target))
            response = replicator.handle(event).response
            got = [f["itemIdentifier"] for f in response["batchItemFailures"]]
            if got != ([] if expected is None else [expected]):
                mismatches.append((expected, got))
            return response

        # WHEN the stream is delivered, every failure redelivered from the record it names
        run = run_event_source(stream.shards, handler, stream_arn=STREAM_ARN, batch_size=100)
        # THEN each response named exactly the first record whose earlier version was missing
        assert mismatches == []
        assert len(run.partial_failures) >= 3
        assert (run.function_errors, run.discarded) == ([], [])
        # AND every redelivery succeeded in the end: the database equals the truth
        assert_current_equals(target, expected_current(stream.history))


def test_strict_releases_what_waited_too_long_and_converges(
    stream: SimulatedStream, new_url: Callable[[], str]
) -> None:
    # GIVEN small batches (a missing version often lies beyond the batch) and a clock that moves on
    url = new_url()
    start = min(r.arrival for shard in stream.shards.values() for r in shard)
    ticks = iter(range(0, 10**9, 20))
    config = LiveConfig(order="strict", strict_max_wait_seconds=60)
    with open_target(url) as target:
        replicator = LiveReplicator(target, config, clock=lambda: start + next(ticks))
        released: list[int] = []

        def handler(event: KinesisEvent) -> Mapping[str, Any]:
            result = replicator.handle(event)
            released.append(result.counts()["released"])
            return result.response

        run = run_event_source(
            stream.shards, handler, stream_arn=STREAM_ARN, batch_size=5, max_retry_attempts=10
        )
        assert (run.function_errors, run.discarded) == ([], [])
        assert run.partial_failures
        assert sum(released) > 0
        assert_current_equals(target, expected_current(stream.history))


@pytest.fixture
def sqs_queue(s3_endpoint_url: str, aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh queue on the tests' moto server (the S3 one serves SQS too); botocore finds it by env."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", s3_endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", s3_endpoint_url)
    sqs: Any = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"qldb-archive-poison-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    yield sqs, url
    sqs.delete_queue(QueueUrl=url)


def test_poison_goes_to_the_queue_and_its_batch_mates_are_applied(
    stream: SimulatedStream, new_url: Callable[[], str], sqs_queue: Any
) -> None:
    # GIVEN the database URL in Secrets Manager, a poison queue, and two unreadable records in a shard
    import boto3

    sqs, queue_url = sqs_queue
    url = new_url()
    secret: Any = boto3.client("secretsmanager")
    arn = secret.create_secret(Name=f"live-{uuid.uuid4().hex[:8]}", SecretString=json.dumps({"url": url}))[
        "ARN"
    ]
    shard_id = sorted(stream.shards)[1]
    garbage = [
        ShardRecord(shard_id, f"9{i}", "pk", 1.5e9, base64.b64encode(data).decode())
        for i, data in enumerate([b"\xf3\x89\x9a\xc2 not an aggregate", b"not Ion at all"])
    ]
    shards = dict(stream.shards)
    shards[shard_id] = [
        *shards[shard_id][:40],
        garbage[0],
        *shards[shard_id][40:60],
        garbage[1],
        *shards[shard_id][60:],
    ]
    env = {"QLDB_ARCHIVE_TARGET_SECRET_ARN": arn, "QLDB_ARCHIVE_POISON_QUEUE_URL": queue_url}
    replicator = LiveReplicator.from_env(env)
    try:
        # WHEN the shards are delivered
        run = run_event_source(shards, lambda e: replicator.handle(e).response, stream_arn=STREAM_ARN)
    finally:
        replicator.target.close()
    # THEN nothing failed, and the database equals the truth: the poison records' batch-mates were applied
    assert (run.partial_failures, run.function_errors, run.discarded) == ([], [], [])
    with open_target(url) as target:
        assert_current_equals(target, expected_current(stream.history))
    # AND each poison record is in the queue once, as received, with where it was and why
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    bodies = sorted((json.loads(m["Body"]) for m in messages), key=lambda b: b["sequenceNumber"])
    assert [(b["shardId"], b["sequenceNumber"], b["data"]) for b in bodies] == [
        (shard_id, g.sequence_number, g.data_b64) for g in garbage
    ]
    assert "corrupt KPL aggregated record" in bodies[0]["reason"]
    assert "cannot parse QLDB stream record" in bodies[1]["reason"]
    assert bodies[0]["eventSourceARN"] == STREAM_ARN

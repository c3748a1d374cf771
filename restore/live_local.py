"""Kinesis events for the live replication Lambda, and a local twin of its event source mapping.

The twin of Lambda's Kinesis poller, as `firehose_transform.local_firehose` is Firehose's twin:
the same handler, the real event shape
(https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html, `KinesisEvent`). Per shard
it reads records in shard order and invokes the handler with batches of up to `batch_size`,
one shard's batch after another's (round robin, so shards interleave as parallel pollers do):

- a partial batch response resumes the shard at the record it names (the records before it are
  done); an identifier that is not in the batch fails the whole batch, as Lambda treats it;
- a function error (an exception) retries the batch, halved each time
  (``BisectBatchOnFunctionError``);
- after `max_retry_attempts` retries at one position the batch is discarded, as Lambda hands it
  to the mapping's on-failure destination (`EventSourceRun.discarded`), and the shard moves on.

Shard order: the simulator's Kinesis record files (``kinesis/shard-*.jsonl``, docs/files.md) list
each shard's records in delivery order, its duplicates and reordering included; the twin takes
that order as the shard's.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypedDict

if TYPE_CHECKING:
    from journal.simulate import KinesisRecord

__all__ = [
    "DEFAULT_ROLE_ARN",
    "EventSourceRun",
    "KinesisEvent",
    "KinesisEventRecord",
    "KinesisPayload",
    "ShardRecord",
    "kinesis_event",
    "read_kinesis_files",
    "run_event_source",
    "shard_records",
]

DEFAULT_ROLE_ARN: Final = "arn:aws:iam::000000000000:role/qldb-archive-live"


class KinesisPayload(TypedDict):
    """The ``kinesis`` object of a Lambda Kinesis event record."""

    kinesisSchemaVersion: str
    partitionKey: str
    sequenceNumber: str
    data: str
    approximateArrivalTimestamp: float


class KinesisEventRecord(TypedDict):
    """One record of a Lambda Kinesis event."""

    kinesis: KinesisPayload
    eventSource: str
    eventVersion: str
    eventID: str
    eventName: str
    invokeIdentityArn: str
    awsRegion: str
    eventSourceARN: str


class KinesisEvent(TypedDict):
    """What a Kinesis event source mapping invokes a function with."""

    Records: list[KinesisEventRecord]


@dataclass(frozen=True, slots=True)
class ShardRecord:
    """One Kinesis record as the poller reads it from its shard.

    Attributes:
        shard_id: ``shardId-000000000000`` style.
        sequence_number: the record's sequence number.
        partition_key: its partition key.
        arrival: ``approximateArrivalTimestamp``, epoch seconds with milliseconds.
        data_b64: the record's data, base64.
    """

    shard_id: str
    sequence_number: str
    partition_key: str
    arrival: float
    data_b64: str


def shard_records(records: Iterable[KinesisRecord]) -> dict[str, list[ShardRecord]]:
    """The simulator's deliveries (`journal.simulate.deliver`) per shard, in delivery order."""
    shards: dict[str, list[ShardRecord]] = {}
    for r in records:
        shards.setdefault(r.shard_id, []).append(
            ShardRecord(
                r.shard_id,
                r.sequence_number,
                r.partition_key,
                r.arrival_ms / 1000,
                base64.b64encode(r.data).decode("ascii"),
            )
        )
    return shards


def read_kinesis_files(folder: Path) -> dict[str, list[ShardRecord]]:
    """Kinesis record files (``shard-*.jsonl``, docs/files.md) per shard, in file order.

    Raises:
        ValueError: a line is not a Kinesis record object (names the file and line).
    """
    shards: dict[str, list[ShardRecord]] = {}
    for path in sorted(Path(folder).glob("shard-*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for line_no, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                    rec = ShardRecord(
                        str(raw["shardId"]),
                        str(raw["sequenceNumber"]),
                        str(raw["partitionKey"]),
                        float(raw["approximateArrivalTimestamp"]),
                        str(raw["data"]),
                    )
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(
                        f"{path}:{line_no}: not a Kinesis record ({type(exc).__name__})"
                    ) from None
                shards.setdefault(rec.shard_id, []).append(rec)
    return shards


def kinesis_event(
    records: Sequence[ShardRecord],
    *,
    stream_arn: str,
    region: str = "us-east-1",
    role_arn: str = DEFAULT_ROLE_ARN,
) -> KinesisEvent:
    """The Lambda event for a batch of one shard's records.

    >>> rec = ShardRecord("shardId-000000000000", "4960", "pk", 1576048851.261, "AA==")
    >>> event = kinesis_event([rec], stream_arn="arn:aws:kinesis:us-east-1:1:stream/s")
    >>> event["Records"][0]["eventID"], event["Records"][0]["kinesis"]["approximateArrivalTimestamp"]
    ('shardId-000000000000:4960', 1576048851.261)
    """
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key,
                    "sequenceNumber": r.sequence_number,
                    "data": r.data_b64,
                    "approximateArrivalTimestamp": r.arrival,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{r.shard_id}:{r.sequence_number}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": role_arn,
                "awsRegion": region,
                "eventSourceARN": stream_arn,
            }
            for r in records
        ]
    }


@dataclass(slots=True)
class EventSourceRun:
    """What the twin did.

    Attributes:
        invocations: handler calls.
        records_delivered: records in all those calls (redeliveries included).
        partial_failures: responses naming a failed record, as (shard, sequence number).
        function_errors: handler calls that raised, with the error's message.
        discarded: batches given up after `max_retry_attempts`, as (shard, first, last sequence number).
    """

    invocations: int = 0
    records_delivered: int = 0
    partial_failures: list[tuple[str, str]] = field(default_factory=list)
    function_errors: list[str] = field(default_factory=list)
    discarded: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(slots=True)
class _Shard:
    records: Sequence[ShardRecord]
    position: int = 0
    size: int = 0
    retries: int = 0


def run_event_source(
    shards: Mapping[str, Sequence[ShardRecord]],
    handler: Callable[[KinesisEvent], Mapping[str, Any]],
    *,
    stream_arn: str,
    batch_size: int = 100,
    max_retry_attempts: int = 10,
) -> EventSourceRun:
    """Feed every shard's records to `handler` as a Kinesis event source mapping would (module docstring).

    Args:
        shards: per shard, its records in shard order.
        handler: the function: an event in, a partial batch response out (or an exception).
        stream_arn: the events' ``eventSourceARN``.
        batch_size: the mapping's ``BatchSize``.
        max_retry_attempts: the mapping's ``MaximumRetryAttempts``.
    """
    run = EventSourceRun()
    states = {s: _Shard(records, size=batch_size) for s, records in sorted(shards.items()) if records}
    while states:
        for shard_id in list(states):
            state = states[shard_id]
            batch = list(state.records[state.position : state.position + state.size])
            run.invocations += 1
            run.records_delivered += len(batch)
            try:
                response = handler(kinesis_event(batch, stream_arn=stream_arn))
            except Exception as exc:  # a function error: bisect and retry
                run.function_errors.append(str(exc))
                state.size = max(1, len(batch) // 2)
                done = 0
            else:
                failed = [f.get("itemIdentifier") for f in response.get("batchItemFailures") or []]
                done = len(batch)
                if failed:
                    numbers = [r.sequence_number for r in batch]
                    done = min((numbers.index(f) for f in failed if f in numbers), default=0)
                    run.partial_failures.append((shard_id, str(failed[0])))
            if done:
                state.position += done
                state.retries = 0
                state.size = batch_size
            else:
                state.retries += 1
                if state.retries > max_retry_attempts:
                    run.discarded.append((shard_id, batch[0].sequence_number, batch[-1].sequence_number))
                    state.position += len(batch)
                    state.retries = 0
                    state.size = batch_size
            if state.position >= len(state.records):
                del states[shard_id]
    return run

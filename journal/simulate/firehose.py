"""Kinesis records to Firehose data-transformation events: the JSON a transformation Lambda receives.

Shape (https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html)::

    {"invocationId", "deliveryStreamArn", "region", "sourceKinesisStreamArn"?,
     "records": [{"recordId", "approximateArrivalTimestamp", "data",
                  "kinesisRecordMetadata"?: {"shardId", "partitionKey", "approximateArrivalTimestamp",
                                             "sequenceNumber", "subsequenceNumber"}}]}

Limits kept: at most `firehose_max_records` (500) records and `firehose_buffer_bytes` of decoded
data per event, and every event under 6 MB of JSON (the Lambda request limit). `recordId`s are
unique across the whole run, duplicates included: the sequence number, the 6-digit subsequence
number and a delivery counter.

With a Kinesis source Firehose de-aggregates KPL records before the Lambda (`firehose_mode`
"kinesis"): each user record becomes an event record whose metadata carries the parent's
sequence number and the user record's index as `subsequenceNumber`. "kinesis_aggregated" and
"direct_put" pass Kinesis records through unchanged (aggregated when aggregation is on): the
input a transform must also accept, e.g. when raw archives are backfilled.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from journal.kpl import deaggregate, is_aggregated
from journal.simulate.config import FIREHOSE_MAX_EVENT_BYTES, FirehoseMode

if TYPE_CHECKING:
    from journal.simulate.kinesis import KinesisRecord

__all__ = ["FirehoseEvent", "firehose_events"]

_dumps = json.JSONEncoder(separators=(", ", ": ")).encode


@dataclass(frozen=True, slots=True)
class FirehoseEvent:
    """One transformation event: its JSON text and how many records it holds."""

    text: str
    records: int


def firehose_events(
    records: Iterable[KinesisRecord],
    *,
    mode: FirehoseMode,
    delivery_stream_arn: str,
    source_stream_arn: str,
    region: str,
    max_records: int,
    buffer_bytes: int,
    rng: random.Random,
) -> Iterator[FirehoseEvent]:
    """Batch delivered Kinesis records into Firehose transformation events, in delivery order."""
    head = {
        "invocationId": "",
        "deliveryStreamArn": delivery_stream_arn,
        "region": region,
    }
    if mode != "direct_put":
        head["sourceKinesisStreamArn"] = source_stream_arn
    envelope = len(_dumps({**head, "invocationId": str(uuid.UUID(int=0)), "records": []}))
    batch: list[str] = []
    data_bytes = 0
    json_bytes = envelope
    delivery = 0

    def event() -> FirehoseEvent:
        invocation = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        text = _dumps({**head, "invocationId": invocation, "records": []})
        return FirehoseEvent(text[:-2] + ", ".join(batch) + "]}", len(batch))

    for record in records:
        for subsequence, pk, data in _entries(record, mode):
            delivery += 1
            entry = _entry(record, mode, subsequence, pk, data, delivery)
            if batch and (
                len(batch) >= max_records
                or data_bytes + len(data) > buffer_bytes
                or json_bytes + len(entry) + 2 > FIREHOSE_MAX_EVENT_BYTES
            ):
                yield event()
                batch, data_bytes, json_bytes = [], 0, envelope
            batch.append(entry)
            data_bytes += len(data)
            json_bytes += len(entry) + 2
    if batch:
        yield event()


def _entries(record: KinesisRecord, mode: FirehoseMode) -> list[tuple[int, str, bytes]]:
    """(subsequence number, partition key, data) of each event record a Kinesis record becomes."""
    if mode == "kinesis" and is_aggregated(record.data):
        users = record.user_records or deaggregate(
            record.data, source=f"{record.shard_id} {record.sequence_number}"
        )
        return [(i, u.partition_key, u.data) for i, u in enumerate(users)]
    return [(0, record.partition_key, record.data)]


def _entry(
    record: KinesisRecord, mode: FirehoseMode, subsequence: int, pk: str, data: bytes, delivery: int
) -> str:
    fields: dict[str, object] = {
        "recordId": f"{record.sequence_number}{subsequence:06d}{delivery:010d}",
        "approximateArrivalTimestamp": record.arrival_ms,
        "data": base64.b64encode(data).decode("ascii"),
    }
    if mode != "direct_put":
        fields["kinesisRecordMetadata"] = {
            "shardId": record.shard_id,
            "partitionKey": pk,
            "approximateArrivalTimestamp": record.arrival_ms,
            "sequenceNumber": record.sequence_number,
            "subsequenceNumber": subsequence,
        }
    return _dumps(fields)

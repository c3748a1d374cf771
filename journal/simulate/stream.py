"""Journal blocks to QLDB stream records: CONTROL, BLOCK_SUMMARY and REVISION_DETAILS, in Ion binary.

Each record is `{qldbStreamArn, recordType, payload}` serialised on its own (a KPL user record,
or a Kinesis record when aggregation is off), with the partition key QLDB uses: the transaction
id for a BLOCK_SUMMARY, the document id for a REVISION_DETAILS. Every block, system blocks
included, gets a BLOCK_SUMMARY, so that the hash chain can be followed on the stream alone; only
user revisions get REVISION_DETAILS (system revisions are hash-only summaries). A stream opens
with CONTROL CREATED and, when it had an end time, closes with CONTROL COMPLETED.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from journal.ion_build import ion_string, ion_struct
from journal.kpl import UserRecord
from journal.stream_encode import block_stream_records, stream_record

if TYPE_CHECKING:
    from journal.records import Block

__all__ = ["TimedRecord", "block_stream_records", "block_time_ms", "control_record", "stream_records"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)


def control_record(stream_arn: str, control_type: str, *, partition_key: str) -> UserRecord:
    """A CONTROL record (`CREATED` or `COMPLETED`)."""
    payload = ion_struct({"controlRecordType": ion_string(control_type)})
    return UserRecord(partition_key, stream_record(stream_arn, "CONTROL", payload))


@dataclass(frozen=True, slots=True)
class TimedRecord:
    """A stream record and when QLDB wrote it (epoch milliseconds: its block's timestamp)."""

    record: UserRecord
    time_ms: int


def block_time_ms(block: Block) -> int:
    """A block's timestamp in epoch milliseconds."""
    return (block.timestamp - _EPOCH) // _MS


def stream_records(
    blocks: Iterable[Block], *, stream_arn: str, stream_id: str, completed: bool
) -> Iterator[TimedRecord]:
    """Every record of a stream over `blocks`: CREATED, each block's records, COMPLETED if `completed`.

    The CONTROL records take the stream id as partition key and the time of the first (last)
    block: the stream starts with the journal and, when `completed`, ends after its tip.
    """
    last: int | None = None
    for block in blocks:
        now = block_time_ms(block)
        if last is None:
            yield TimedRecord(control_record(stream_arn, "CREATED", partition_key=stream_id), now)
        last = now
        for record in block_stream_records(block, stream_arn=stream_arn):
            yield TimedRecord(record, now)
    if completed and last is not None:
        yield TimedRecord(control_record(stream_arn, "COMPLETED", partition_key=stream_id), last + 1)

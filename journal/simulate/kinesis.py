"""Stream records to Kinesis records: shard routing, KPL aggregation, sequence numbers, delivery faults.

- Routing: Kinesis maps the MD5 of a partition key onto the 128-bit hash key space, split
  evenly between shards; so do we. QLDB's partition keys are document ids (REVISION_DETAILS)
  and transaction ids (BLOCK_SUMMARY), so one document's revisions stay on one shard while a
  block summary and its revisions usually do not.
- Aggregation (`SimulationConfig.aggregate`): like the KPL, user records are buffered per shard
  and flushed into one aggregated record (`journal.kpl.aggregate_batches`) when the buffer is full
  (`kpl_max_records`), its oldest record is `kpl_max_buffered_ms` old, or the stream ends. The
  aggregate's partition key is its first user record's.
- Sequence numbers: 56-digit decimal strings, increasing per shard in put order.
- Faults: each put record is delivered twice with probability `duplicate_rate`: half the time a
  consumer-side replay (same sequence number and bytes), half the time a producer retry (same
  bytes, a new sequence number, a later arrival). Then each shard's records are delivered in a
  random order within a sliding window: each delivery is drawn at random from the oldest
  `out_of_order_window` undelivered records of that shard.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final

from journal.kpl import UserRecord, aggregate_batches, deaggregate

if TYPE_CHECKING:
    from journal.simulate.config import SimulationConfig
    from journal.simulate.stream import TimedRecord

__all__ = ["KinesisRecord", "deliver", "shard_for", "shard_id_of"]

_SEQUENCE_BASE: Final = 49_602_202_223_557_391_954_992_952_781_210_718_954_161_044_299_731_435_522
_SHARD_STRIDE: Final = 10**42  # keeps every shard's numbers 56 digits long and apart
_SEQUENCE_STEP: Final = 2**24


@dataclass(frozen=True, slots=True)
class KinesisRecord:
    """One Kinesis record as a consumer receives it.

    Attributes:
        shard_id: `shardId-000000000000` style.
        sequence_number: increasing per shard in put order.
        partition_key: the record's partition key (the first user record's, if aggregated).
        arrival_ms: `approximateArrivalTimestamp`, epoch milliseconds.
        data: a KPL aggregate (magic `F3 89 9A C2`) or one Ion binary stream record.
        duplicate: this delivery repeats a record delivered elsewhere in the output.
        user_records: the stream records `data` carries (one when not aggregated), kept so that
            Firehose de-aggregation needs no parsing.
    """

    shard_id: str
    sequence_number: str
    partition_key: str
    arrival_ms: int
    data: bytes
    duplicate: bool = False
    user_records: tuple[UserRecord, ...] = field(default=(), repr=False, compare=False)


def shard_for(partition_key: str, shards: int) -> int:
    """The shard index Kinesis routes `partition_key` to, with the hash key range split evenly.

    >>> shard_for("D35qd3e2prnJYmtKW6kok1", 1), 0 <= shard_for("x", 4) < 4
    (0, True)
    """
    digest = hashlib.md5(partition_key.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest, "big") * shards >> 128


def shard_id_of(index: int) -> str:
    """A shard's id as Kinesis names it."""
    return f"shardId-{index:012d}"


class _Producer:
    """Puts records on shards: per-shard KPL buffers, sequence numbers and arrival times."""

    def __init__(self, config: SimulationConfig, rng: random.Random) -> None:
        self._config = config
        self._rng = rng
        self._ids = [shard_id_of(i) for i in range(config.shards)]
        self._counters = [0] * config.shards
        self._last_arrival = [0] * config.shards
        self._buffers: list[list[UserRecord]] = [[] for _ in range(config.shards)]
        self._targets = [self._target() for _ in range(config.shards)]
        self._deadlines: list[tuple[int, int, int]] = []  # (flush time, shard, buffer generation)
        self._generation = [0] * config.shards

    def _target(self) -> int:
        return self._rng.randint(1, self._config.kpl_max_records)

    def put(self, timed: TimedRecord) -> Iterator[KinesisRecord]:
        """Accept one stream record; yields the Kinesis records this causes to be put."""
        now = timed.time_ms
        yield from self._expire(now)
        shard = shard_for(timed.record.partition_key, self._config.shards)
        if not self._config.aggregate:
            yield self._kinesis(shard, (timed.record,), timed.record.data, now)
            return
        buffer = self._buffers[shard]
        if not buffer:
            heapq.heappush(
                self._deadlines, (now + self._config.kpl_max_buffered_ms, shard, self._generation[shard])
            )
        buffer.append(timed.record)
        if len(buffer) >= self._targets[shard]:
            yield from self._flush(shard, now)

    def close(self, now: int) -> Iterator[KinesisRecord]:
        """Flush every buffer (the stream ended)."""
        for shard in range(self._config.shards):
            yield from self._flush(shard, now)

    def _expire(self, now: int) -> Iterator[KinesisRecord]:
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            deadline, shard, generation = heapq.heappop(deadlines)
            if generation == self._generation[shard]:
                yield from self._flush(shard, deadline)

    def _flush(self, shard: int, now: int) -> Iterator[KinesisRecord]:
        buffer = self._buffers[shard]
        if not buffer:
            return
        self._buffers[shard] = []
        self._generation[shard] += 1
        self._targets[shard] = self._target()
        blobs = list(aggregate_batches(buffer, max_bytes=self._config.kpl_max_bytes))
        if len(blobs) == 1:
            yield self._kinesis(shard, tuple(buffer), blobs[0], now)
            return
        first = 0
        for blob in blobs:  # several only when the buffer outgrew kpl_max_bytes
            count = len(deaggregate(blob, source="simulated KPL aggregate"))
            yield self._kinesis(shard, tuple(buffer[first : first + count]), blob, now)
            first += count

    def _kinesis(self, shard: int, users: tuple[UserRecord, ...], data: bytes, now: int) -> KinesisRecord:
        arrival = max(self._last_arrival[shard], now + self._rng.randint(5, 60))
        self._last_arrival[shard] = arrival
        sequence = self._next_sequence(shard)
        return KinesisRecord(
            self._ids[shard], sequence, users[0].partition_key, arrival, data, user_records=users
        )

    def _next_sequence(self, shard: int) -> str:
        self._counters[shard] += 1
        return str(_SEQUENCE_BASE + shard * _SHARD_STRIDE + self._counters[shard] * _SEQUENCE_STEP)

    def retry(self, record: KinesisRecord) -> KinesisRecord:
        """The same bytes put again by the producer: a new sequence number, a later arrival."""
        shard = int(record.shard_id.rsplit("-", 1)[1])
        arrival = max(self._last_arrival[shard], record.arrival_ms + self._rng.randint(100, 900))
        self._last_arrival[shard] = arrival
        return replace(record, sequence_number=self._next_sequence(shard), arrival_ms=arrival, duplicate=True)


class _Window:
    """Per-shard delivery in a random order within a sliding window of the oldest undelivered records."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self._size = size
        self._rng = rng
        self._buffers: dict[str, list[KinesisRecord]] = {}

    def push(self, record: KinesisRecord) -> Iterator[KinesisRecord]:
        if self._size <= 1:
            yield record
            return
        buffer = self._buffers.setdefault(record.shard_id, [])
        buffer.append(record)
        if len(buffer) >= self._size:
            yield buffer.pop(self._rng.randrange(len(buffer)))

    def drain(self) -> Iterator[KinesisRecord]:
        for shard in sorted(self._buffers):
            buffer = self._buffers[shard]
            while buffer:
                yield buffer.pop(self._rng.randrange(len(buffer)))


def deliver(
    records: Iterable[TimedRecord], config: SimulationConfig, rng: random.Random
) -> Iterator[KinesisRecord]:
    """Put `records` on the stream and deliver them as a consumer would see them.

    Args:
        records: stream records in the order QLDB wrote them.
        config: shards, aggregation, duplicate rate and reordering window.
        rng: the delivery stage's random stream.

    Yields:
        Kinesis records in delivery order (across shards, in the order they were delivered).
    """
    producer = _Producer(config, rng)
    window = _Window(config.out_of_order_window, rng)
    half = config.duplicate_rate / 2

    def faults(record: KinesisRecord) -> Iterator[KinesisRecord]:
        yield from window.push(record)
        roll = rng.random()
        if roll < half:
            yield from window.push(replace(record, duplicate=True))
        elif roll < config.duplicate_rate:
            yield from window.push(producer.retry(record))

    last = 0
    for timed in records:
        last = timed.time_ms
        for record in producer.put(timed):
            yield from faults(record)
    for record in producer.close(last + config.kpl_max_buffered_ms):
        yield from faults(record)
    yield from window.drain()

"""The local Firehose: the real transformation Lambda, format conversion and S3 layout, without AWS.

`run_local_firehose` does what a delivery stream with a Lambda processor, record format
conversion to Parquet and dynamic partitioning does, to a local folder or an S3 endpoint:

1. each transformation event goes through the REAL handler, `handler.lambda_handler`, with a
   local Lambda context (`LOCAL_CONTEXT`); a response that does not echo every recordId fails
   the whole event, as Firehose treats it;
2. Ok rows are buffered per `metadata.partitionKeys` (Firehose's dynamic partitioning);
3. a full buffer (`buffer_bytes` of JSON, or `buffer_records` rows), and every buffer at the end,
   is converted as Firehose converts (JSON lines read against the Glue schema, here
   `schema.ndjson_to_arrow`) and written as one Snappy Parquet object;
4. ProcessingFailed records are written under the error prefix, with Firehose's error record
   fields, so that `reprocess_errors` can re-run them after a fix.

Layout (the delivery stream's prefixes; the CDK app uses `S3_PREFIX` and `ERROR_OUTPUT_PREFIX`)::

    <dest>/p_ledger=<l>/p_record_type=<t>/p_table=<tb>/p_date=<yyyy-mm-dd>/<stream>-1-<yyyy-mm-dd-hh-mm-ss>-<id>.parquet
    <dest>/processing-failed/<yyyy>/<MM>/<dd>/<HH>/<stream>-1-<yyyy-mm-dd-hh-mm-ss>-<id>
    <dest>/format-conversion-failed/<yyyy>/<MM>/<dd>/<HH>/<stream>-1-<yyyy-mm-dd-hh-mm-ss>-<id>
    <dest>/processing-failed-reprocessed/...   (error objects `reprocess_errors` has re-run)

Firehose names an object ``<DeliveryStreamName>-<DeliveryStreamVersion>-<yyyy-MM-dd-HH-mm-ss>-
<random id>`` (https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html); the CDK app
sets the file extension ``.parquet``. Error objects hold one JSON document per line, no extension.

Idempotency rule. Here the id is not random: it is a UUID made of the SHA-256 of the object's
content (the JSON lines of its rows, after the partition path and a caller's salt; for error
objects, the arrival times and raw data), and the time is the earliest Firehose arrival in the
object, not the wall clock. The same input with the same buffer settings into the same
destination therefore gives the same keys, and a key that already exists is not written again
(writes are atomic, `storage`): re-running adds no objects. Other buffer settings cut other
batches, so their objects would repeat rows; readers de-duplicate by (doc_id, version) anyway, as
they must with Firehose's at-least-once delivery.

Error records. For a Lambda failure Firehose writes (https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-failure-handling.html)
``{"attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage", "attemptEndingTimestamp",
"rawData", "lambdaArn"}`` with `rawData` the base64 of the original record. The error code of a
record the Lambda marked ProcessingFailed is ``Lambda.ProcessingFailedStatus`` with the message
``ProcessingFailed status set for record`` (as delivery streams write it; the docs name only the
fields). Trap: the error record keeps neither the recordId nor `kinesisRecordMetadata`, so rows
recovered by `reprocess_errors` have null Kinesis columns; the handler's log line (recordId,
SHA-256 of the data) says why each failed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from firehose_transform.handler import lambda_handler
from firehose_transform.schema import PARTITION_KEYS, ndjson_to_arrow
from firehose_transform.storage import Location, open_location
from journal.errors import AggregationError, UnknownInputError
from journal.kpl import deaggregate, is_aggregated
from journal.progress import NULL_PROGRESS, ProgressReporter

__all__ = [
    "DEFAULT_BUFFER_BYTES",
    "DEFAULT_DELIVERY_STREAM_ARN",
    "ERROR_OUTPUT_PREFIX",
    "FORMAT_CONVERSION_FAILED",
    "LOCAL_CONTEXT",
    "PROCESSING_FAILED",
    "REPROCESSED",
    "S3_PREFIX",
    "FailedRecord",
    "FirehoseRunSummary",
    "LocalLambdaContext",
    "ReprocessSummary",
    "events_from_kinesis_files",
    "object_name",
    "partition_path",
    "read_failed_records",
    "reprocess_errors",
    "run_local_firehose",
]

logger = logging.getLogger(__name__)

S3_PREFIX: Final = "".join(f"{k.name}=!{{partitionKeyFromLambda:{k.name}}}/" for k in PARTITION_KEYS)
"""The delivery stream's S3 prefix (dynamic partitioning on the Lambda's partition keys)."""
ERROR_OUTPUT_PREFIX: Final = "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
"""The delivery stream's error output prefix (required with dynamic partitioning)."""
PROCESSING_FAILED: Final = "processing-failed"
FORMAT_CONVERSION_FAILED: Final = "format-conversion-failed"
REPROCESSED: Final = "processing-failed-reprocessed"
"""Where `reprocess_errors` moves an error object once every record in it is archived."""

DEFAULT_DELIVERY_STREAM_ARN: Final = "arn:aws:firehose:us-east-1:000000000000:deliverystream/qldb-archive"
DEFAULT_LAMBDA_ARN: Final = "arn:aws:lambda:us-east-1:000000000000:function:qldb-archive-transform:$LATEST"
DEFAULT_BUFFER_BYTES: Final = 64 * 1024 * 1024
"""S3 buffer size: 64 MiB, the documented minimum with record format conversion."""
PROCESSOR_BUFFER_BYTES: Final = 1024 * 1024
"""Lambda processor buffer (input bytes per invocation): 1 MB, the default (see handler.py)."""
MAX_EVENT_RECORDS: Final = 500
DELIVERY_STREAM_VERSION: Final = 1
PROCESSING_FAILED_CODE: Final = "Lambda.ProcessingFailedStatus"
PROCESSING_FAILED_MESSAGE: Final = "ProcessingFailed status set for record"


@dataclass(frozen=True, slots=True)
class LocalLambdaContext:
    """The Lambda context attributes Powertools' `inject_lambda_context` reads, for local runs."""

    function_name: str = "qldb-archive-transform"
    function_version: str = "$LATEST"
    invoked_function_arn: str = DEFAULT_LAMBDA_ARN
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    log_group_name: str = "/aws/lambda/qldb-archive-transform"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        """Firehose gives the Lambda at most 5 minutes."""
        return 300_000


LOCAL_CONTEXT: Final = LocalLambdaContext()


@dataclass(frozen=True, slots=True)
class FirehoseRunSummary:
    """What a local Firehose run did.

    Attributes:
        events: transformation events (Lambda invocations).
        records: Firehose records in them.
        ok, failed, dropped: records per result.
        rows: archive rows written in new objects, per record type (a re-run writes none).
        objects_written: Parquet objects written.
        objects_existing: Parquet objects skipped because the same key was already there.
        error_objects: error objects written (processing-failed and format-conversion-failed).
        bytes_written: Parquet bytes written.
    """

    events: int
    records: int
    ok: int
    failed: int
    dropped: int
    rows: dict[str, int]
    objects_written: int
    objects_existing: int
    error_objects: int
    bytes_written: int


@dataclass(frozen=True, slots=True)
class FailedRecord:
    """One record of a Firehose error object.

    Attributes:
        key: the error object's key.
        line: its line number in the object, from 1.
        raw_data: the original record's bytes (`rawData`, decoded).
        arrival_ms: `arrivalTimestamp` (epoch milliseconds), when set.
        error_code: `errorCode`; error_message: `errorMessage`.
        attempts_made: `attemptsMade`.
    """

    key: str
    line: int
    raw_data: bytes
    arrival_ms: int | None
    error_code: str
    error_message: str
    attempts_made: int


@dataclass(frozen=True, slots=True)
class ReprocessSummary:
    """What `reprocess_errors` did.

    Attributes:
        objects: error objects read.
        records: failed records in them.
        recovered: records archived this time.
        still_failed: records that failed again (kept under the error prefix).
        objects_moved: error objects moved to `REPROCESSED` (all their records are archived or
            carried into a new error object).
        run: the Parquet side of the run.
    """

    objects: int
    records: int
    recovered: int
    still_failed: int
    objects_moved: int
    run: FirehoseRunSummary


# Layout ----------------------------------------------------------------------------------------


def partition_path(keys: dict[str, str]) -> str:
    """The Hive-style prefix of a record's partition keys, outermost first.

    >>> keys = {"p_ledger": "l", "p_record_type": "control", "p_table": "_control", "p_date": "2019-12-11"}
    >>> partition_path(keys)
    'p_ledger=l/p_record_type=control/p_table=_control/p_date=2019-12-11'
    """
    return "/".join(f"{k.name}={keys[k.name]}" for k in PARTITION_KEYS)


def object_name(stream: str, arrival_ms: int, digest: bytes) -> str:
    """Firehose's object name, with a content-derived id instead of a random one.

    >>> object_name("qldb-archive", 1576048851261, bytes(32))
    'qldb-archive-1-2019-12-11-07-20-51-00000000-0000-0000-0000-000000000000'
    """
    when = dt.datetime.fromtimestamp(arrival_ms / 1000, dt.UTC).strftime("%Y-%m-%d-%H-%M-%S")
    return f"{stream}-{DELIVERY_STREAM_VERSION}-{when}-{uuid.UUID(bytes=digest[:16])}"


def _error_key(error_type: str, stream: str, arrival_ms: int, digest: bytes) -> str:
    hour = dt.datetime.fromtimestamp(arrival_ms / 1000, dt.UTC).strftime("%Y/%m/%d/%H")
    return f"{error_type}/{hour}/{object_name(stream, arrival_ms, digest)}"


def _stream_name(event: dict[str, Any], default: str) -> str:
    arn = event.get("deliveryStreamArn")
    return arn.rpartition("/")[2] or default if isinstance(arn, str) else default


def _date_ms(p_date: str) -> int:
    try:
        day = dt.date.fromisoformat(p_date)
    except ValueError:
        return 0
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


# Delivery --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Buffer:
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    arrival_ms: int | None = None

    def add(self, data: bytes, arrival_ms: int | None) -> None:
        for line in data.splitlines():
            if line:
                self.lines.append(line)
                self.size += len(line) + 1
        if arrival_ms is not None:
            self.arrival_ms = arrival_ms if self.arrival_ms is None else min(self.arrival_ms, arrival_ms)


@dataclass(slots=True)
class _Failure:
    raw_b64: str
    arrival_ms: int | None
    code: str
    message: str
    attempts: int = 1


@dataclass(slots=True)
class RunCounts:
    """Running counts of a `Delivery` (mutable; `summary()` freezes them)."""

    events: int = 0
    records: int = 0
    ok: int = 0
    failed: int = 0
    dropped: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    objects_written: int = 0
    objects_existing: int = 0
    error_objects: int = 0
    bytes_written: int = 0

    def summary(self) -> FirehoseRunSummary:
        """The counts as a frozen summary."""
        return FirehoseRunSummary(
            events=self.events,
            records=self.records,
            ok=self.ok,
            failed=self.failed,
            dropped=self.dropped,
            rows=dict(self.rows),
            objects_written=self.objects_written,
            objects_existing=self.objects_existing,
            error_objects=self.error_objects,
            bytes_written=self.bytes_written,
        )


class Delivery:
    """The buffers and writers behind one run: partitions -> Parquet, failures -> error objects.

    Shared by `run_local_firehose`, `reprocess_errors` and `firehose_transform.backfill`, which
    makes one per source object (`salt` = its key) and flushes it at the object's end.
    """

    def __init__(
        self,
        location: Location,
        *,
        stream: str,
        buffer_bytes: int,
        buffer_records: int | None,
        salt: str = "",
        lambda_arn: str = DEFAULT_LAMBDA_ARN,
        on_failed: Callable[[list[_Failure]], None] | None = None,
    ) -> None:
        self.location, self.stream, self.salt, self.lambda_arn = location, stream, salt, lambda_arn
        self.buffer_bytes, self.buffer_records = buffer_bytes, buffer_records
        self.on_failed = on_failed
        self.buffers: dict[tuple[str, ...], _Buffer] = {}
        self.counts = RunCounts()

    def feed(self, event: dict[str, Any]) -> None:
        """Run one transformation event through the handler and buffer its results."""
        records = event.get("records") or []
        self.counts.events += 1
        self.counts.records += len(records)
        try:
            response = lambda_handler(event, LOCAL_CONTEXT)  # type: ignore[arg-type]
            results = response["records"]
            if [r.get("recordId") for r in results] != [r.get("recordId") for r in records]:
                raise ValueError("the response does not echo every recordId once, in order")
        except Exception as exc:  # an invocation failure: Firehose fails the whole batch
            self._fail([_failure(r, "Lambda.FunctionError", f"{type(exc).__name__}: {exc}") for r in records])
            return
        failures: list[_Failure] = []
        for rec, result in zip(records, results, strict=True):
            status = result.get("result")
            if status == "Dropped":
                self.counts.dropped += 1
                continue
            keys = (result.get("metadata") or {}).get("partitionKeys") or {}
            if status != "Ok":
                failures.append(_failure(rec, PROCESSING_FAILED_CODE, PROCESSING_FAILED_MESSAGE))
                continue
            try:
                data = base64.b64decode(result.get("data") or "", validate=True)
                part = tuple(str(keys[k.name]) for k in PARTITION_KEYS)
            except (KeyError, binascii.Error, ValueError):
                failures.append(
                    _failure(rec, "Lambda.InvalidReturnFormat", "Ok result without partition keys or data")
                )
                continue
            self.counts.ok += 1
            buf = self.buffers.setdefault(part, _Buffer())
            arrival = rec.get("approximateArrivalTimestamp")
            buf.add(data, int(arrival) if isinstance(arrival, int | float) else None)
            if buf.size >= self.buffer_bytes or (
                self.buffer_records is not None and len(buf.lines) >= self.buffer_records
            ):
                self._write(part, self.buffers.pop(part))
        self._fail(failures)

    def flush(self) -> None:
        """Write every buffer (the end of a run, or of one source object)."""
        for part in sorted(self.buffers):
            self._write(part, self.buffers[part])
        self.buffers.clear()

    def _fail(self, failures: list[_Failure]) -> None:
        if not failures:
            return
        self.counts.failed += len(failures)
        if self.on_failed is not None:
            self.on_failed(failures)
        else:
            self.write_errors(PROCESSING_FAILED, failures)

    def write_errors(self, error_type: str, failures: list[_Failure], *, salt: str = "") -> None:
        """Write failures as error objects, one per hour of arrival (the error prefix's timestamp)."""
        by_hour: dict[int, list[_Failure]] = {}
        for f in failures:
            ms = f.arrival_ms or 0
            by_hour.setdefault(ms - ms % 3_600_000, []).append(f)
        for _, group in sorted(by_hour.items()):
            first = min(f.arrival_ms or 0 for f in group)
            digest = hashlib.sha256((self.salt + salt).encode())
            for f in group:
                digest.update(f"{f.arrival_ms}:{f.raw_b64}\n".encode())
            key = _error_key(error_type, self.stream, first, digest.digest())
            if self.location.exists(key):
                continue
            lines = [json.dumps(self._error_doc(error_type, f), separators=(",", ":")) for f in group]
            self.location.write_bytes(key, ("\n".join(lines) + "\n").encode())
            self.counts.error_objects += 1

    def _error_doc(self, error_type: str, f: _Failure) -> dict[str, Any]:
        ending = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
        if error_type == FORMAT_CONVERSION_FAILED:  # this type's documented fields are capitalised
            return {
                "attemptsMade": f.attempts,
                "arrivalTimestamp": f.arrival_ms or 0,
                "ErrorCode": f.code,
                "ErrorMessage": f.message,
                "attemptEndingTimestamp": ending,
                "rawData": f.raw_b64,
            }
        return {
            "attemptsMade": f.attempts,
            "arrivalTimestamp": f.arrival_ms or 0,
            "errorCode": f.code,
            "errorMessage": f.message,
            "attemptEndingTimestamp": ending,
            "rawData": f.raw_b64,
            "lambdaArn": self.lambda_arn,
        }

    def _write(self, part: tuple[str, ...], buf: _Buffer) -> None:
        if not buf.lines:
            return
        table, bad = _convert(buf.lines)
        if bad:
            self.write_errors(
                FORMAT_CONVERSION_FAILED,
                [
                    _Failure(base64.b64encode(line).decode(), buf.arrival_ms, "DataFormatConversion", reason)
                    for line, reason in bad
                ],
            )
        if table is None or table.num_rows == 0:
            return
        prefix = partition_path(dict(zip((k.name for k in PARTITION_KEYS), part, strict=True)))
        digest = hashlib.sha256(f"{self.salt}\n{prefix}\n".encode())
        for line in buf.lines:
            digest.update(line + b"\n")
        arrival = buf.arrival_ms if buf.arrival_ms is not None else _date_ms(part[-1])
        key = f"{prefix}/{object_name(self.stream, arrival, digest.digest())}.parquet"
        if self.location.exists(key):
            self.counts.objects_existing += 1
            return
        self.counts.bytes_written += self.location.write_parquet(key, table)
        self.counts.objects_written += 1
        for value, count in zip(*_value_counts(table), strict=True):
            self.counts.rows[value] += count


def _value_counts(table: pa.Table) -> tuple[list[str], list[int]]:
    counts = pc.value_counts(table.column("record_type")).to_pylist()
    return [str(c["values"]) for c in counts], [int(c["counts"]) for c in counts]


def _convert(lines: list[bytes]) -> tuple[pa.Table | None, list[tuple[bytes, str]]]:
    """JSON lines -> Arrow, as Firehose converts; a line that does not fit is set aside, not lost."""
    try:
        return ndjson_to_arrow(b"\n".join(lines) + b"\n"), []
    except pa.ArrowInvalid:
        pass
    good: list[pa.Table] = []
    bad: list[tuple[bytes, str]] = []
    for line in lines:
        try:
            good.append(ndjson_to_arrow(line + b"\n"))
        except pa.ArrowInvalid as exc:
            bad.append((line, str(exc)[:300]))
    return (pa.concat_tables(good) if good else None), bad


def _failure(rec: dict[str, Any], code: str, message: str) -> _Failure:
    raw = rec.get("data")
    arrival = rec.get("approximateArrivalTimestamp")
    return _Failure(
        raw if isinstance(raw, str) else "",
        int(arrival) if isinstance(arrival, int | float) else None,
        code,
        message,
    )


def run_local_firehose(
    events: Iterable[dict[str, Any]],
    dest: str,
    *,
    endpoint_url: str | None = None,
    delivery_stream_name: str = "qldb-archive",
    buffer_bytes: int = DEFAULT_BUFFER_BYTES,
    buffer_records: int | None = None,
    progress: ProgressReporter = NULL_PROGRESS,
) -> FirehoseRunSummary:
    """Deliver Firehose transformation events into a Parquet archive, as the delivery stream would.

    Args:
        events: transformation events (the simulator's ``firehose/event-*.json``, or
            `events_from_kinesis_files`).
        dest: a folder or ``s3://bucket/prefix``.
        endpoint_url: the S3 endpoint, for S3 servers other than AWS.
        delivery_stream_name: names the objects when an event has no `deliveryStreamArn`.
        buffer_bytes: JSON bytes per partition before an object is written (Firehose's S3
            buffer size).
        buffer_records: also write an object once a partition holds this many rows.
        progress: receives one unit per event.

    Returns:
        Counts of records, rows and objects (see the module docstring for the layout).

    Raises:
        StorageError: `dest` cannot be written.
    """
    location = open_location(dest, endpoint_url=endpoint_url)
    delivery = Delivery(
        location, stream=delivery_stream_name, buffer_bytes=buffer_bytes, buffer_records=buffer_records
    )
    progress.start("archive", total=None, unit="events")
    for event in events:
        if delivery.counts.events == 0:
            delivery.stream = _stream_name(event, delivery_stream_name)
        delivery.feed(event)
        progress.advance()
    delivery.flush()
    progress.finish()
    summary = delivery.counts.summary()
    logger.info(
        "local firehose done: %d records, %d failed, %d objects",
        summary.records,
        summary.failed,
        summary.objects_written,
    )
    return summary


# Kinesis record files -> events ------------------------------------------------------------------


def events_from_kinesis_files(
    paths: Iterable[Path],
    *,
    delivery_stream_arn: str = DEFAULT_DELIVERY_STREAM_ARN,
    source_stream_arn: str | None = None,
    region: str = "us-east-1",
    max_records: int = MAX_EVENT_RECORDS,
    buffer_bytes: int = PROCESSOR_BUFFER_BYTES,
) -> Iterator[dict[str, Any]]:
    """Turn Kinesis record files (``kinesis/shard-*.jsonl``, docs/files.md) into transformation events.

    As a delivery stream with a Kinesis source does: KPL aggregates are de-aggregated first (each
    user record an event record with its parent's sequence number and its index as
    `subsequenceNumber`; a corrupt aggregate is passed on whole, for the Lambda to fail), and
    records are batched up to `max_records` (500) and `buffer_bytes` of data (the Lambda
    processor's buffer, 1 MB by default: see handler.py for why not more). recordIds are the
    sequence number, the 6-digit subsequence number and a 10-digit delivery counter.

    Raises:
        ValueError: a line is not a Kinesis record object.
    """
    head: dict[str, Any] = {"deliveryStreamArn": delivery_stream_arn, "region": region}
    if source_stream_arn is not None:
        head["sourceKinesisStreamArn"] = source_stream_arn
    batch: list[dict[str, Any]] = []
    size = 0
    delivery = 0
    n_event = 0

    def event() -> dict[str, Any]:
        ids = "".join(r["recordId"] for r in batch)
        invocation = uuid.UUID(bytes=hashlib.sha256(ids.encode()).digest()[:16], version=4)
        return {"invocationId": str(invocation), **head, "records": batch}

    for path in paths:
        with Path(path).open("rb") as lines:
            for line_no, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                rec = json.loads(line)
                if not isinstance(rec, dict) or not isinstance(rec.get("data"), str):
                    raise ValueError(f"{path}:{line_no} is not a Kinesis record with base64 data")
                data = base64.b64decode(rec["data"])
                arrival_ms = round(float(rec.get("approximateArrivalTimestamp") or 0) * 1000)
                users: list[tuple[str, bytes]] = [(str(rec.get("partitionKey", "")), data)]
                if is_aggregated(data):
                    try:
                        found = deaggregate(data, source=f"{path}:{line_no}")
                        users = [(u.partition_key, u.data) for u in found]
                    except AggregationError:
                        pass  # passed on whole: the Lambda fails it and Firehose keeps the bytes
                for sub, (pk, user_data) in enumerate(users):
                    delivery += 1
                    if batch and (len(batch) >= max_records or size + len(user_data) > buffer_bytes):
                        yield event()
                        n_event += 1
                        batch, size = [], 0
                    seq = str(rec.get("sequenceNumber", ""))
                    batch.append(
                        {
                            "recordId": f"{seq}{sub:06d}{delivery:010d}",
                            "approximateArrivalTimestamp": arrival_ms,
                            "data": base64.b64encode(user_data).decode("ascii"),
                            "kinesisRecordMetadata": {
                                "shardId": str(rec.get("shardId", "")),
                                "partitionKey": pk,
                                "approximateArrivalTimestamp": arrival_ms,
                                "sequenceNumber": seq,
                                "subsequenceNumber": sub,
                            },
                        }
                    )
                    size += len(user_data)
    if batch:
        yield event()


# Error prefix: read and re-run --------------------------------------------------------------------


def _parse_error_object(key: str, data: bytes) -> list[FailedRecord]:
    out = []
    for line_no, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        doc = json.loads(line)
        raw = base64.b64decode(doc.get("rawData") or "")
        arrival = doc.get("arrivalTimestamp")
        out.append(
            FailedRecord(
                key=key,
                line=line_no,
                raw_data=raw,
                arrival_ms=int(arrival) if isinstance(arrival, int | float) and arrival else None,
                error_code=str(doc.get("errorCode", doc.get("ErrorCode", ""))),
                error_message=str(doc.get("errorMessage", doc.get("ErrorMessage", ""))),
                attempts_made=int(doc.get("attemptsMade") or 0),
            )
        )
    return out


def read_failed_records(
    dest: str, *, endpoint_url: str | None = None, error_type: str = PROCESSING_FAILED
) -> Iterator[FailedRecord]:
    """Every record under an archive's error prefix (``processing-failed/`` by default), by key.

    Raises:
        StorageError: the archive cannot be read.
        ValueError: an error object line is not JSON with base64 `rawData`.
    """
    location = open_location(dest, endpoint_url=endpoint_url)
    for key in location.iter_keys(error_type):
        yield from _parse_error_object(key, location.read_bytes(key))


def _reprocess_events(key: str, records: list[FailedRecord], stream: str) -> Iterator[dict[str, Any]]:
    tag = hashlib.sha256(key.encode()).hexdigest()[:16]
    batch: list[dict[str, Any]] = []
    size = 0
    for i, rec in enumerate(records):
        if batch and (len(batch) >= MAX_EVENT_RECORDS or size + len(rec.raw_data) > PROCESSOR_BUFFER_BYTES):
            yield direct_put_event(batch, stream)
            batch, size = [], 0
        entry: dict[str, Any] = {
            "recordId": f"reprocess-{tag}-{i:06d}",
            "data": base64.b64encode(rec.raw_data).decode(),
        }
        if rec.arrival_ms is not None:
            entry["approximateArrivalTimestamp"] = rec.arrival_ms
        batch.append(entry)
        size += len(rec.raw_data)
    if batch:
        yield direct_put_event(batch, stream)


def direct_put_event(records: list[dict[str, Any]], stream: str) -> dict[str, Any]:
    """A direct-PUT transformation event around `records`, its invocationId derived from their ids."""
    ids = "".join(r["recordId"] for r in records)
    invocation = uuid.UUID(bytes=hashlib.sha256(ids.encode()).digest()[:16], version=4)
    arn = DEFAULT_DELIVERY_STREAM_ARN.rpartition("/")[0] + "/" + stream
    return {
        "invocationId": str(invocation),
        "deliveryStreamArn": arn,
        "region": "us-east-1",
        "records": records,
    }


def reprocess_errors(
    dest: str,
    *,
    endpoint_url: str | None = None,
    delivery_stream_name: str = "qldb-archive",
    buffer_bytes: int = DEFAULT_BUFFER_BYTES,
    progress: ProgressReporter = NULL_PROGRESS,
) -> ReprocessSummary:
    """Re-run the records under ``processing-failed/`` through the handler, after a fix.

    Per error object: its records go through the real handler as direct-PUT events (the error
    record keeps no Kinesis metadata); the rows of those that now succeed are written as Parquet
    (names salted with the error object's key, so a re-run is idempotent); those that fail again
    go into a new error object (``attemptsMade`` + 1) unless none succeeded, in which case the
    object is left as it is. Only then is the original moved to ``processing-failed-reprocessed/``
    under the same relative key. A crash in between loses nothing: the original stays, and the
    next run writes the same keys again, which are skipped.

    Raises:
        StorageError: the archive cannot be read or written.
    """
    location = open_location(dest, endpoint_url=endpoint_url)
    keys = location.list_keys(PROCESSING_FAILED)
    progress.start("reprocess-errors", total=len(keys), unit="objects")
    total = RunCounts()
    records = recovered = still = moved = 0
    for key in keys:
        failed_again: list[_Failure] = []
        delivery = Delivery(
            location,
            stream=delivery_stream_name,
            buffer_bytes=buffer_bytes,
            buffer_records=None,
            salt=key,
            on_failed=failed_again.extend,
        )
        recs = _parse_error_object(key, location.read_bytes(key))
        attempts = max((r.attempts_made for r in recs), default=0) + 1
        for event in _reprocess_events(key, recs, delivery_stream_name):
            delivery.feed(event)
        records += len(recs)
        still += len(failed_again)
        if recs and len(failed_again) == len(recs):  # nothing recovered: leave the object as it is
            progress.advance()
            continue
        delivery.flush()
        for f in failed_again:
            f.attempts = attempts
        delivery.write_errors(PROCESSING_FAILED, failed_again, salt=f"reprocessed {key}")
        location.move(key, f"{REPROCESSED}/{key[len(PROCESSING_FAILED) + 1 :]}")
        moved += 1
        recovered += len(recs) - len(failed_again)
        merge_counts(total, delivery.counts)
        progress.advance()
    progress.finish()
    return ReprocessSummary(
        objects=len(keys),
        records=records,
        recovered=recovered,
        still_failed=still,
        objects_moved=moved,
        run=total.summary(),
    )


def merge_counts(into: RunCounts, other: RunCounts) -> None:
    """Add `other`'s counts to `into`."""
    for name in (
        "events",
        "records",
        "ok",
        "failed",
        "dropped",
        "objects_written",
        "objects_existing",
        "error_objects",
        "bytes_written",
    ):
        setattr(into, name, getattr(into, name) + getattr(other, name))
    into.rows.update(other.rows)


def events_from_path(path: Path) -> Iterator[dict[str, Any]]:
    """Transformation events from a recorded or simulated stream at `path`.

    A folder holding ``firehose/`` (events, as the simulator writes them) is read from there, one
    holding ``kinesis/`` from its Kinesis record files; otherwise the folder's own ``*.json``
    events and ``*.jsonl`` Kinesis files are used. A single file is read by its suffix.

    Raises:
        FileNotFoundError: `path` does not exist.
        UnknownInputError: nothing under `path` is a Firehose event or a Kinesis record file.
    """
    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    if path.is_dir():
        for sub in ("firehose", "kinesis"):
            if (path / sub).is_dir():
                return events_from_path(path / sub)
        events, kinesis = sorted(path.glob("*.json")), sorted(path.glob("*.jsonl"))
    else:
        events = [path] if path.suffix == ".json" else []
        kinesis = [path] if path.suffix == ".jsonl" else []
    if not events and not kinesis:
        raise UnknownInputError(
            "no Firehose events (*.json) or Kinesis record files (*.jsonl) found; "
            "see docs/files.md for the formats",
            path=str(path),
        )
    return _chain_events(events, kinesis)


def _chain_events(events: list[Path], kinesis: list[Path]) -> Iterator[dict[str, Any]]:
    for p in events:
        yield json.loads(p.read_text())
    if kinesis:
        yield from events_from_kinesis_files(kinesis)

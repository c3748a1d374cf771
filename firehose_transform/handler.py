"""The Firehose transformation Lambda: QLDB stream records in, archive rows (JSON lines) out.

Only adapts: Powertools' event class and response shapes around `normalise.normalise_payload`.
Accepts events from a Kinesis-source delivery stream (records with `kinesisRecordMetadata`,
already de-aggregated by Firehose) and from direct PUT (where records may still be KPL
aggregates). Returns exactly one result per input recordId, in input order
(https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-status-model.html):

- ``Ok``: the record's rows as JSON lines, with `metadata.partitionKeys` for dynamic
  partitioning (`p_ledger`, `p_record_type`, `p_table`, `p_date`; see normalise.py).
- ``ProcessingFailed``: the record cannot be parsed (invalid base64, empty, not Ion, not a QLDB
  stream record, corrupt KPL aggregate) or its output would not fit in the response. The result
  carries the original data, and Firehose writes it under the error prefix
  (``processing-failed/``) once its retries are spent, so nothing is lost: fix the cause and
  re-run those objects. The reason is logged as a JSON line with the recordId, the Firehose
  arrival time and the SHA-256 of the record's bytes: the error object carries ``rawData`` and
  ``arrivalTimestamp`` but no recordId and no reason (the result's `metadata` only takes
  partition keys, which the error prefix cannot use), so the log is where the reason lives and
  the digest is how to join it to the object. Batch-mates are unaffected.
- ``Dropped`` is never returned: every QLDB stream record, CONTROL records included (they are
  the only evidence of a stream's start and end, and are tiny), is archived.

No document data, Ion or statement text is ever logged: failure reasons name fields, types
and positions only. One structured line per batch gives the counts per result and per record
type, the records whose rows span several partitions, and the response size.

Response size (the 6 MB Lambda limit)
-------------------------------------
Lambda caps a synchronous response at 6 MB; an oversized response fails the whole batch. The
response holds every record's base64 data, so its size is what the rows expand to. Measured on
the DMV simulator's stream records (Ion binary, `benchmarks/bench_handler.py`), result bytes per
input byte: REVISION_DETAILS x4.4-x5.5 (worst: small deleted or redacted revisions, where the
fixed columns weigh most), BLOCK_SUMMARY x3.2-x3.9, CONTROL x10.6 (two per stream, ~180 bytes),
x4.2 over a whole stream. The x5.5 worst case is what bounds the processor buffer
(`BufferSizeInMBs`, 0.2-3 MB, default 1 MB, counted in input bytes):

    6,291,456 / 5.5 = 1.14 MB  ->  keep the processor's BufferSizeInMBs at 1 (the default).

At the 3 MB maximum a batch of revisions would answer ~16 MB. The handler enforces the limit
whatever the buffer: it first reserves, for every record, the size of its ProcessingFailed result
(the original data, which must fit anyway), then turns records Ok in order while the response
stays under `QLDB_ARCHIVE_MAX_RESPONSE_BYTES` (default and maximum 6,291,456 bytes, 6 MiB). A
record that does not fit is ProcessingFailed with a reason saying so (`ResponseTooLargeError`)
and is re-run from the error prefix; its batch-mates are Ok. Sizes are computed exactly for the
JSON Lambda serialises (a test checks the logged size against `len(json.dumps(response))`).

Imports neither pyarrow nor boto3 (a test checks): the Lambda bundle stays small and cold
starts fast. In the x86_64 bundle the hot modules under this handler run compiled by mypyc
(`infra.native`; a test requires the same responses from both builds).
"""

from __future__ import annotations

import binascii
import gc
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import KinesisFirehoseEvent
from aws_lambda_powertools.utilities.data_classes.kinesis_firehose_event import KinesisFirehoseRecord

from firehose_transform.errors import ResponseTooLargeError, TransformError
from firehose_transform.normalise import KinesisRecordMetadata, NormalisedRecord, normalise_payload
from firehose_transform.schema import PARTITION_KEYS
from journal.errors import QldbArchiveError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["MAX_RESPONSE_BYTES", "lambda_handler", "max_response_bytes", "transform_event"]

MAX_RESPONSE_BYTES: Final = 6 * 1024 * 1024
"""Lambda's synchronous response limit, 6 MB (6 MiB is the conservative reading)."""

ENV_MAX_RESPONSE_BYTES: Final = "QLDB_ARCHIVE_MAX_RESPONSE_BYTES"
MAX_REASON: Final = 300
"""Longest failure reason logged."""

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "qldb-archive-transform"))


def max_response_bytes() -> int:
    """The response budget: `QLDB_ARCHIVE_MAX_RESPONSE_BYTES` if set (tests lower it), else 6 MiB."""
    raw = os.environ.get(ENV_MAX_RESPONSE_BYTES)
    return MAX_RESPONSE_BYTES if not raw else min(int(raw), MAX_RESPONSE_BYTES)


_FAILED_SHELL: Final = len(json.dumps({"recordId": "", "result": "ProcessingFailed", "data": ""}))
_OK_SHELL: Final = len(json.dumps({"recordId": "", "result": "Ok", "data": ""}))


def _json_len(text: str) -> int:
    """Length of `text` as a JSON string body (what `json.dumps` writes between the quotes)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text)
    return len(json.dumps(text)) - 2


@lru_cache(maxsize=256)
def _metadata_len(values: tuple[str, ...]) -> int:
    """Bytes `, "metadata": {"partitionKeys": {...}}` adds to a result (cached: few distinct keys)."""
    keys = dict(zip((k.name for k in PARTITION_KEYS), values, strict=True))
    return len(json.dumps({"metadata": {"partitionKeys": keys}})) - len("{}") + len(", ")


def _log_failure(rec: dict[str, Any], exc: Exception, data: bytes | None) -> None:
    reason = str(exc) if isinstance(exc, QldbArchiveError) else f"unexpected {type(exc).__name__}"
    md = rec.get("kinesisRecordMetadata") or {}
    logger.warning(
        "record failed",
        extra={
            "record_id": rec["recordId"],
            "error": type(exc).__name__,
            "reason": reason[:MAX_REASON],
            "firehose_arrival_ms": rec.get("approximateArrivalTimestamp"),
            "kinesis_sequence_number": md.get("sequenceNumber") if isinstance(md, dict) else None,
            "data_bytes": None if data is None else len(data),
            "data_sha256": None if data is None else hashlib.sha256(data).hexdigest(),
        },
    )


def _decode(raw: object, record_id: str) -> bytes:
    """The record's bytes: `base64.b64decode(raw, validate=True)`, without its Python wrapper."""
    if not isinstance(raw, str):
        raise TransformError("no base64 data field", record_id=record_id)
    try:
        return binascii.a2b_base64(raw, strict_mode=True)
    except (binascii.Error, ValueError):
        raise TransformError("data is not valid base64", record_id=record_id) from None


def _failed_result(rec: dict[str, Any]) -> dict[str, Any]:
    """What Powertools builds for a failed record: the original data, no metadata."""
    raw = rec.get("data")
    result = KinesisFirehoseRecord(rec).build_data_transformation_response(
        result="ProcessingFailed", data=raw if isinstance(raw, str) else ""
    )
    return result.asdict()


@dataclass(slots=True)
class _Tally:
    """Counts for the batch log line, kept as records go (rows are not kept)."""

    ok: int = 0
    failed: int = 0
    mixed: int = 0
    input_bytes: int = 0
    rows: Counter[str] = field(default_factory=Counter)

    def add(self, out: NormalisedRecord) -> None:
        self.ok += 1
        self.mixed += out.mixed
        for row in out.rows:
            self.rows[row["record_type"]] += 1


def transform_event(event: dict[str, Any], *, max_response_bytes: int = MAX_RESPONSE_BYTES) -> dict[str, Any]:
    """Transform a Firehose transformation event into its response (the handler minus Lambda).

    The local Firehose runner calls this, or `lambda_handler`, with the same events.

    Records are read as the event's dicts and Ok results built as the dicts Powertools'
    `KinesisFirehoseDataTransformationRecord.asdict()` returns (a test compares them), rather than
    through a record wrapper, two dataclasses and `asdict()` per record, which cost ~2.5% of the
    transform (~3,700 records in a 3 MB batch). Failed results, rare, still go through the classes.

    Args:
        event: a Firehose data transformation event.
        max_response_bytes: the most bytes the serialised response may take.

    Returns:
        The response: ``{"records": [...]}``, one result per input recordId, in order.
    """
    firehose = KinesisFirehoseEvent(event)
    records: list[dict[str, Any]] = firehose.get("records") or []
    if not records:
        return {"records": []}
    with _cycle_collector_paused():
        return _transform_records(firehose, records, max_response_bytes)


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for one batch; restore it after.

    A batch allocates ~50 containers per record (parsed values, rows, texts), none of them in a
    reference cycle, so reference counting frees all of them; but every 700 allocations the cycle
    collector walks the young objects, and every tenth time the older ones too, which cost 12% of
    the transform (`benchmarks/bench_handler.py`, 102 -> 89 us per record). Memory stays bounded
    by the batch (3 MB at most: peak RSS in the benchmark), and collection resumes after it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _transform_records(
    firehose: KinesisFirehoseEvent, records: list[dict[str, Any]], max_response_bytes: int
) -> dict[str, Any]:
    """`transform_event` for a non-empty batch."""
    stream_arn = firehose.source_kinesis_stream_arn
    # Decode every record first: a failed result carries the original data, so the response must
    # always have room for every record's failure. Ok results then spend what is left, in order.
    # Valid base64 needs no JSON escaping, so its JSON length is its length.
    decoded: list[bytes | TransformError] = []
    id_sizes: list[int] = []
    fail_sizes: list[int] = []
    for rec in records:
        record_id, raw = rec["recordId"], rec.get("data")
        try:
            data: bytes | TransformError = _decode(raw, record_id)
            data_len = len(raw) if isinstance(raw, str) else 0
        except TransformError as exc:
            data, data_len = exc, _json_len(raw) if isinstance(raw, str) else 0
        decoded.append(data)
        id_sizes.append(id_size := _json_len(record_id))
        fail_sizes.append(_FAILED_SHELL + id_size + data_len)
    used = len(json.dumps({"records": []})) + 2 * (len(records) - 1) + sum(fail_sizes)
    results: list[dict[str, Any]] = []
    tally = _Tally()
    for rec, data, id_size, fail_size in zip(records, decoded, id_sizes, fail_sizes, strict=True):
        record_id = rec["recordId"]
        try:
            if isinstance(data, TransformError):
                raise data
            tally.input_bytes += len(data)
            md = rec.get("kinesisRecordMetadata")
            out = normalise_payload(
                data,
                record_id=record_id,
                stream_arn=stream_arn,
                kinesis_metadata=cast("KinesisRecordMetadata", md) if isinstance(md, dict) else None,
                arrival_ms=rec.get("approximateArrivalTimestamp"),
            )
            data_b64 = out.data_b64
            keys = out.partition_keys
            extra = _OK_SHELL + id_size + len(data_b64) + _metadata_len(tuple(keys.values()))
            extra -= fail_size
            if used + extra > max_response_bytes:
                raise ResponseTooLargeError(
                    record_id=record_id,
                    size=extra + fail_size,
                    room=max_response_bytes - used + fail_size,
                    limit=max_response_bytes,
                )
            used += extra
            results.append(
                {"recordId": record_id, "result": "Ok", "data": data_b64, "metadata": {"partitionKeys": keys}}
            )
            tally.add(out)
        except Exception as exc:  # one bad record never fails the batch; Firehose keeps its bytes
            _log_failure(rec, exc, None if isinstance(data, TransformError) else data)
            results.append(_failed_result(rec))
            tally.failed += 1
    _log_batch(tally, records=len(records), response_bytes=used, limit=max_response_bytes)
    return {"records": results}


def _log_batch(tally: _Tally, *, records: int, response_bytes: int, limit: int) -> None:
    logger.info(
        "batch transformed",
        extra={
            "records": records,
            "ok": tally.ok,
            "dropped": 0,
            "processing_failed": tally.failed,
            "rows_revision_details": tally.rows["REVISION_DETAILS"],
            "rows_block_summary": tally.rows["BLOCK_SUMMARY"],
            "rows_control": tally.rows["CONTROL"],
            "mixed_partition_records": tally.mixed,
            "input_bytes": tally.input_bytes,
            "response_bytes": response_bytes,
            "max_response_bytes": limit,
        },
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Firehose data transformation entry point (see the module docstring)."""
    return transform_event(event, max_response_bytes=max_response_bytes())

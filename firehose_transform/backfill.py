"""Backfill: convert raw Firehose archives and QLDB journal exports into the Parquet archive.

Both kinds of source become Firehose transformation events and go through the local Firehose
(`firehose_transform.local_firehose`): the real handler, the same format conversion, layout and
error prefix as the stream path. One code path, so a backfilled row equals a streamed one.

Raw archives. A delivery stream with no transformation writes each S3 object as the bare record
payloads concatenated with no delimiter (GZIP-compressed when the stream compresses, detected
here by its magic). The records are found again by their framing (`split_raw_object`):

- a QLDB Kinesis record is Ion binary and starts with the Ion version marker ``E0 01 00 EA``;
  its top-level values are walked by their type-descriptor lengths, so a marker-like byte run
  inside a hash blob is never taken for a boundary;
- a KPL aggregate starts with ``F3 89 9A C2`` and ends with the MD5 of its protobuf body: it
  ends at the first following record start (or the object's end) where that MD5 matches.

Each record becomes one direct-PUT record (the handler de-aggregates KPL itself). Bytes that
cannot be framed are passed on as one record, which the handler fails: they land under the error
prefix with their raw data, never dropped. A Kinesis record holding several Ion version markers
is split into several records; their rows are the same but for `record_index`.

Journal exports. Every block of an export (manifests followed over `storage`, so local folders
and S3 prefixes alike; ION_TEXT, ION_BINARY or JSON) becomes the stream records QLDB would have
streamed for it, serialised as Ion binary: one BLOCK_SUMMARY (`revisionSummaries` from the
block's revisions, hash and documentId) and one REVISION_DETAILS per user revision (`tableInfo`
from the block's `transactionInfo.documents`). The stream ARN is synthesised as
``arn:aws:qldb:::stream/<ledger>/<exportId>`` unless given (the ledger comes from the started
manifest, or the `ledger` argument). Rows from JSON exports keep JSON's types in `revision_ion`:
their hashes do not recompute (see `journal.export`).

Idempotent per source object: record ids are derived from the source key, each source object is
flushed on its own, and object names are salted with the source key and derived from their
content (the rule of `local_firehose`): re-running over the same sources writes no new object.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Final

from firehose_transform.local_firehose import (
    DEFAULT_BUFFER_BYTES,
    FORMAT_CONVERSION_FAILED,
    MAX_EVENT_RECORDS,
    PROCESSING_FAILED,
    PROCESSOR_BUFFER_BYTES,
    REPROCESSED,
    Delivery,
    RunCounts,
    direct_put_event,
    merge_counts,
)
from firehose_transform.storage import Location, open_location
from journal.errors import ExportParseError, JournalError, QldbArchiveError
from journal.export import ExportFormat, iter_export_blocks, parse_completed_manifest, parse_started_manifest
from journal.kpl import MAGIC
from journal.progress import NULL_PROGRESS, ProgressReporter
from journal.stream_encode import block_stream_records

if TYPE_CHECKING:
    from journal.records import Block

__all__ = ["BackfillError", "BackfillSummary", "backfill", "block_to_stream_records", "split_raw_object"]

logger = logging.getLogger(__name__)

ION_BVM: Final = b"\xe0\x01\x00\xea"
GZIP_MAGIC: Final = b"\x1f\x8b"
_MD5_LEN: Final = 16
_FIREHOSE_TIME: Final = re.compile(r"-(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-")
_SKIP_PREFIXES: Final = frozenset({PROCESSING_FAILED, FORMAT_CONVERSION_FAILED, REPROCESSED})


class BackfillError(QldbArchiveError):
    """A backfill source that cannot be used as given.

    Attributes:
        source: the object or folder at fault.
        reason: what is wrong, and what to pass instead.
    """

    def __init__(self, reason: str, *, source: str) -> None:
        self.reason, self.source = reason, source
        super().__init__(f"cannot backfill {source}: {reason}")


@dataclass(frozen=True, slots=True)
class BackfillSummary:
    """What a backfill did.

    Attributes:
        export_objects: journal export data objects converted.
        raw_objects: raw Firehose objects converted.
        skipped: source keys left alone (Parquet, error prefixes, unreferenced manifests).
        records: Firehose records fed to the handler; failed: those it failed (error prefix).
        rows: archive rows written, per record type.
        objects_written: Parquet objects written; objects_existing: already there (a re-run).
        error_objects: error objects written.
        problems: source objects that could not be read (a malformed export object, a bad
            gzip), each with its reason; their rows are not all written: fix and re-run.
    """

    export_objects: int
    raw_objects: int
    skipped: tuple[str, ...]
    records: int
    failed: int
    rows: dict[str, int]
    objects_written: int
    objects_existing: int
    error_objects: int
    problems: tuple[str, ...]


# Raw archives ------------------------------------------------------------------------------------


def _varuint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for i in range(pos, min(len(data), pos + 9)):
        value = (value << 7) | (data[i] & 0x7F)
        if data[i] & 0x80:
            return value, i + 1
    raise ValueError("truncated VarUInt")


def _skip_value(data: bytes, pos: int) -> int:
    """The position after the top-level Ion binary value at `pos` (lengths only, no parsing)."""
    td = data[pos]
    t, low = td >> 4, td & 0x0F
    pos += 1
    if t == 0xF:
        raise ValueError("reserved type code")
    if low == 15 or t == 1:
        return pos
    if low == 14 or (t == 0xD and low == 1):
        length, pos = _varuint(data, pos)
    else:
        length = low
    if pos + length > len(data):
        raise ValueError("value runs past the object")
    return pos + length


def _aggregate_end(data: bytes, pos: int) -> int | None:
    """Where the KPL aggregate at `pos` ends: the first record start (or the end) its MD5 fits."""
    body, n = pos + len(MAGIC), len(data)
    q = body + _MD5_LEN
    while q <= n:
        if (q == n or data.startswith(ION_BVM, q) or data.startswith(MAGIC, q)) and hashlib.md5(
            data[body : q - _MD5_LEN]
        ).digest() == data[q - _MD5_LEN : q]:
            return q
        if q == n:
            return None
        nexts = [i for i in (data.find(ION_BVM, q + 1), data.find(MAGIC, q + 1)) if i >= 0]
        q = min(nexts) if nexts else n
    return None


def split_raw_object(data: bytes) -> list[bytes]:
    r"""Split a raw Firehose object into the Kinesis records concatenated in it (module docstring).

    >>> bvm = b"\xe0\x01\x00\xea"
    >>> split_raw_object(bvm + b"\x21\x01" + bvm + b"\x8e\x81\xea\x21\x02")
    [b'\xe0\x01\x00\xea!\x01', b'\xe0\x01\x00\xea\x8e\x81\xea!\x02']
    """
    out: list[bytes] = []
    start = pos = 0
    n = len(data)
    while pos < n:
        if data.startswith(MAGIC, pos):
            if pos > start:
                out.append(data[start:pos])
            end = _aggregate_end(data, pos)
            if end is None:  # corrupt: the rest goes on whole, for the handler to fail
                out.append(data[pos:])
                return out
            out.append(data[pos:end])
            start = pos = end
        elif data.startswith(ION_BVM, pos):
            if pos > start:
                out.append(data[start:pos])
            start, pos = pos, pos + len(ION_BVM)
        else:
            try:
                pos = _skip_value(data, pos)
            except (ValueError, IndexError):
                out.append(data[start:])
                return out
    if start < n:
        out.append(data[start:])
    return out


def _arrival_from_key(key: str) -> int | None:
    """Firehose's object name carries a UTC time (``<stream>-1-2019-12-11-07-20-51-<id>``)."""
    m = _FIREHOSE_TIME.search(PurePosixPath(key).name)
    if m is None:
        return None
    try:
        y, mo, d, h, mi, sec = (int(g) for g in m.groups())
        when = dt.datetime(y, mo, d, h, mi, sec, tzinfo=dt.UTC)
    except ValueError:
        return None
    return int(when.timestamp() * 1000)


def _events(
    key: str, datas: Iterator[bytes], stream: str, arrival_ms: int | None
) -> Iterator[dict[str, Any]]:
    """Direct-PUT events of at most 500 records and 1 MB, record ids derived from the source key."""
    tag = hashlib.sha256(key.encode()).hexdigest()[:16]
    batch: list[dict[str, Any]] = []
    size = 0
    for i, data in enumerate(datas):
        if batch and (len(batch) >= MAX_EVENT_RECORDS or size + len(data) > PROCESSOR_BUFFER_BYTES):
            yield direct_put_event(batch, stream)
            batch, size = [], 0
        entry: dict[str, Any] = {
            "recordId": f"backfill-{tag}-{i:08d}",
            "data": base64.b64encode(data).decode(),
        }
        if arrival_ms is not None:
            entry["approximateArrivalTimestamp"] = arrival_ms
        batch.append(entry)
        size += len(data)
    if batch:
        yield direct_put_event(batch, stream)


# Journal exports ---------------------------------------------------------------------------------


def block_to_stream_records(block: Block, *, stream_arn: str) -> list[bytes]:
    """The stream records QLDB streams for an export block, each as Ion binary.

    One BLOCK_SUMMARY, then one REVISION_DETAILS per user revision, in block order. The Ion
    values are the export's own (types and precision kept), re-framed.

    Raises:
        BackfillError: a user revision whose table the block's transactionInfo does not name.
    """
    try:
        return [r.data for r in block_stream_records(block, stream_arn=stream_arn)]
    except JournalError as exc:
        raise BackfillError(str(exc), source=str(block.address)) from None


@dataclass(frozen=True, slots=True)
class _ExportObject:
    key: str
    fmt: ExportFormat | None
    stream_arn: str


def _find_key(keys: set[str], folder: str, key: str) -> str | None:
    """A manifest key is a bucket key (prefix included): match its trailing parts under `folder`."""
    parts = PurePosixPath(key).parts
    for i in range(len(parts)):
        candidate = "/".join((folder, *parts[i:])) if folder else "/".join(parts[i:])
        if candidate in keys:
            return candidate
    return None


def _export_objects(
    src: Location, keys: list[str], *, ledger: str | None, stream_arn: str | None
) -> tuple[list[_ExportObject], set[str]]:
    """Export data objects in manifest order, and every key that belongs to an export."""
    key_set = set(keys)
    objects: list[_ExportObject] = []
    claimed: set[str] = set()
    for mkey in keys:
        if not mkey.endswith(".completed.manifest"):
            continue
        claimed.add(mkey)
        folder = mkey.rpartition("/")[0]
        manifest = parse_completed_manifest(src.read_bytes(mkey), source=src.describe(mkey))
        export_id = manifest.export_id or PurePosixPath(mkey).name.split(".", 1)[0]
        started_key = f"{folder}/{export_id}.started.manifest" if folder else f"{export_id}.started.manifest"
        fmt: ExportFormat | None = None
        name = ledger
        if started_key in key_set:
            claimed.add(started_key)
            started = parse_started_manifest(src.read_bytes(started_key), source=src.describe(started_key))
            fmt, name = started.output_format, ledger or started.ledger_name
        arn = stream_arn
        if arn is None:
            if name is None:
                raise BackfillError(
                    "no started manifest names the ledger: pass the ledger name", source=src.describe(mkey)
                )
            arn = f"arn:aws:qldb:::stream/{name}/{export_id}"
        for data_key in manifest.keys:
            found = _find_key(key_set, folder, data_key)
            if found is None:
                raise BackfillError(
                    f"data object {data_key!r} listed in the manifest is missing; "
                    "copy the whole export prefix",
                    source=src.describe(mkey),
                )
            claimed.add(found)
            objects.append(_ExportObject(found, fmt, arn))
    return objects, claimed


def _export_records(src: Location, obj: _ExportObject) -> Iterator[bytes]:
    data = src.read_bytes(obj.key)
    for block in iter_export_blocks(data, source=src.describe(obj.key), fmt=obj.fmt):
        yield from block_to_stream_records(block, stream_arn=obj.stream_arn)


def _raw_records(src: Location, key: str) -> Iterator[bytes]:
    data = src.read_bytes(key)
    if data.startswith(GZIP_MAGIC):
        data = gzip.decompress(data)
    yield from split_raw_object(data)


def _relative_prefix(src: Location, dest: Location) -> str | None:
    """`dest`'s root as a key prefix under `src`, when it is inside it."""
    if type(src.fs) is not type(dest.fs):
        return None
    root = src.root.rstrip("/")
    if dest.root.startswith(root + "/"):
        return dest.root[len(root) + 1 :].rstrip("/") + "/"
    return None


# The backfill ------------------------------------------------------------------------------------


def backfill(
    src: str,
    dest: str,
    *,
    endpoint_url: str | None = None,
    ledger: str | None = None,
    stream_arn: str | None = None,
    delivery_stream_name: str = "qldb-archive-backfill",
    buffer_bytes: int = DEFAULT_BUFFER_BYTES,
    progress: ProgressReporter = NULL_PROGRESS,
) -> BackfillSummary:
    """Convert every raw Firehose object and journal export under `src` into the archive at `dest`.

    Keys ending in ``.completed.manifest`` make their export's data objects export sources; every
    other key (but Parquet objects, manifests, error prefixes and `dest` itself when it lies
    inside `src`) is a raw Firehose object. Streams: one source object at a time, rows buffered
    per partition up to `buffer_bytes`.

    Args:
        src: a folder or ``s3://bucket/prefix`` holding raw archives and/or export folders.
        dest: the Parquet archive (a folder or ``s3://bucket/prefix``).
        endpoint_url: the S3 endpoint, for both locations.
        ledger: the ledger name, for exports without a started manifest.
        stream_arn: the QLDB stream ARN to put in export rows (synthesised when None).
        delivery_stream_name: names the objects written.
        buffer_bytes: the S3 buffer size (JSON bytes per partition and object).
        progress: one unit per source object.

    Raises:
        BackfillError: an export manifest lists a missing object, or names no ledger.
        StorageError: a location cannot be read or written.
    """
    src_loc = open_location(src, endpoint_url=endpoint_url)
    dest_loc = open_location(dest, endpoint_url=endpoint_url)
    keys = src_loc.list_keys()
    inside = _relative_prefix(src_loc, dest_loc)
    if inside is not None:  # the destination lies inside the source: never read it back
        keys = [k for k in keys if not k.startswith(inside)]
    exports, claimed = _export_objects(src_loc, keys, ledger=ledger, stream_arn=stream_arn)
    raw: list[str] = []
    skipped: list[str] = []
    for key in keys:
        if key in claimed:
            continue
        if key.endswith((".parquet", ".manifest")) or _SKIP_PREFIXES & set(key.split("/")):
            skipped.append(key)
        else:
            raw.append(key)
    total = RunCounts()
    problems: list[str] = []
    progress.start("backfill", total=len(exports) + len(raw), unit="objects")
    sources: list[tuple[str, Iterator[bytes], int | None]] = [
        (obj.key, _export_records(src_loc, obj), None) for obj in exports
    ]
    sources += [(key, _raw_records(src_loc, key), _arrival_from_key(key)) for key in raw]
    for key, records, arrival in sources:
        delivery = Delivery(
            dest_loc, stream=delivery_stream_name, buffer_bytes=buffer_bytes, buffer_records=None, salt=key
        )
        try:
            for event in _events(key, records, delivery_stream_name, arrival):
                delivery.feed(event)
        except (ExportParseError, BackfillError, OSError, EOFError) as exc:  # OSError: a bad gzip
            # The object's buffered rows are dropped, not written: fix the object and re-run (the
            # objects already written for it get the same names again and are skipped).
            problems.append(str(exc) if isinstance(exc, QldbArchiveError) else f"{key}: {exc}")
            merge_counts(total, delivery.counts)
            progress.advance()
            continue
        delivery.flush()
        merge_counts(total, delivery.counts)
        progress.advance()
    progress.finish()
    if problems:
        logger.warning("backfill: %d export objects could not be read", len(problems))
    summary = total.summary()
    return BackfillSummary(
        export_objects=len(exports),
        raw_objects=len(raw),
        skipped=tuple(skipped),
        records=summary.records,
        failed=summary.failed,
        rows=dict(Counter(summary.rows)),
        objects_written=summary.objects_written,
        objects_existing=summary.objects_existing,
        error_objects=summary.error_objects,
        problems=tuple(problems),
    )

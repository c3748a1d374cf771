"""The parity cache: the archive side's indexes kept between runs, so a run reads only new objects.

A folder or ``s3://bucket/prefix`` holding, beside a ``manifest.json``, layers of three files:

- ``rows-<id>.parquet``: slim revision rows (`restore.parity_index`: ``data_json`` replaced by
  its SHA-256, no ``revision_ion``);
- ``parity_current_index-<id>.parquet`` and ``parity_history_index-<id>.parquet``: the indexes
  parity reads, for the documents of that layer.

A cold run writes one layer with every document. A warm run that read new objects adds a layer
with their rows and the fresh index entries of every document they touch; a document's entries
come from the newest layer holding it (its history entries are never empty, so its history
index says which). Writes are thus proportional to what arrived, which matters in a versioned
bucket with Object Lock (every object written is kept for the retention period); past
`MAX_LAYERS` layers a warm run writes them merged as one.

The manifest lists the archive objects (key, size, modification time) the layers were computed
from, the cache format and a fingerprint of the SQL. Archive objects are immutable (Firehose
writes new keys; the backfill names objects by their content), so a run whose listing still
holds every cached object unchanged is **warm**: it reads only the new objects, recomputes the
documents their rows touch from (those documents' cached rows and the new rows) with the same
view SQL, and keeps every other document's index entries. Anything else is **cold**: an object
removed or changed, another format or SQL, a copy of a revision whose hash conflicts with the
cached one, a cache that cannot be read, or a rebuild asked for; the whole archive is read and
the cache rewritten. Writes are new files first, then the manifest (one atomic PUT or rename),
then the old files are deleted: a run killed at any point leaves the old cache usable.

Trust: parity believes the cache. Whoever can write it can hide a difference, so keep it as
protected as the archive (same bucket, same encryption, write access for the parity job only),
run one parity job per cache, and run cold now and then (``--rebuild-cache``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TypedDict

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from athena.local import ArchiveObject, LocalEngine, revisions_dataset
from firehose_transform.storage import Location, StorageError, open_location
from journal.urls import redact_url
from restore.parity_index import (
    INDEX_SCHEMA,
    INDEXES,
    IndexName,
    index_archive,
    index_fingerprint,
    index_rows,
    load_slim_rows,
)

__all__ = ["CACHE_FORMAT", "CacheMode", "CacheOutcome", "prepare_archive_index"]

logger = logging.getLogger(__name__)

CACHE_FORMAT: Final = 1
"""Bumped whenever the files' meaning changes; another format is never read."""
MANIFEST: Final = "manifest.json"
MAX_LAYERS: Final = 24
"""Past this many layers, a warm run writes them merged as one (a day of hourly runs)."""
_NEW_SCHEMA: Final = "parity_new"
_OURS: Final = ("rows-", *(f"{i}-" for i in INDEXES))

CacheMode = Literal["off", "cold", "warm"]


@dataclass(frozen=True, slots=True)
class CacheOutcome:
    """How the archive side was computed, for the report.

    Attributes:
        mode: off (no cache: computed, not kept), cold (computed from every object, cache
            rewritten) or warm (cached, plus the new objects).
        new_objects: objects read that the cache did not hold (warm).
        new_revisions: archived rows in those objects (warm).
        reason: why a run with a cache was cold.
    """

    mode: CacheMode
    new_objects: int = 0
    new_revisions: int = 0
    reason: str = ""

    def summary(self) -> str:
        """One line: ``cache: warm, 3 new objects (1,200 revisions)`` or ``cache: cold (why)``."""
        if self.mode == "warm":
            return f"cache: warm, {self.new_objects:,} new objects ({self.new_revisions:,} revisions)"
        return f"cache: {self.mode}" + (f" ({self.reason})" if self.reason else "")


class LayerJson(TypedDict):
    """One layer's files, as stored in the manifest."""

    rows: str
    parity_current_index: str
    parity_history_index: str


class ManifestJson(TypedDict):
    """The manifest as stored."""

    format: int
    fingerprint: str
    archive: str
    objects: list[tuple[str, int, int]]
    layers: list[LayerJson]
    cold_at: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """A usable manifest: what the cache files were computed from, oldest layer first."""

    objects: dict[str, tuple[int, int]]
    layers: tuple[LayerJson, ...]
    cold_at: dt.datetime

    def files(self) -> set[str]:
        """Every file it refers to."""
        return {name for layer in self.layers for name in _layer_files(layer)}


def _layer_files(layer: LayerJson) -> tuple[str, str, str]:
    return layer["rows"], layer["parity_current_index"], layer["parity_history_index"]


class _CacheDoubtError(Exception):
    """A reason not to trust the cache this run (internal: it only ever means "go cold")."""


def prepare_archive_index(
    engine: LocalEngine,
    objects: Sequence[ArchiveObject],
    *,
    archive: str | Path,
    cache: str | None,
    endpoint_url: str | None = None,
    rebuild: bool = False,
    rebuild_after: dt.timedelta | None = None,
) -> CacheOutcome:
    """Fill ``parity.parity_current_index`` (and the history index) for `objects`, with the cache.

    Args:
        engine: a local engine opened on exactly `objects` (``revision_keys``).
        objects: the archive's revision objects as listed for this run.
        archive: the archive root, to read new objects from.
        cache: the cache folder or ``s3://`` prefix; None: no cache (computed, not kept).
        endpoint_url: the S3 endpoint, None for AWS.
        rebuild: compute cold and rewrite the cache whatever it holds.
        rebuild_after: also when its last cold run is older than this (a periodic full check).

    Raises:
        StorageError: the cache cannot be written.
    """
    if cache is None:
        index_archive(engine, keep_rows=False)
        return CacheOutcome("off")
    location = open_location(cache, endpoint_url=endpoint_url)
    manifest: Manifest | None = None
    try:
        manifest = _read_manifest(location)
        if rebuild:
            raise _CacheDoubtError("rebuild asked for")
        age = dt.datetime.now(dt.UTC) - manifest.cold_at
        if rebuild_after is not None and age > rebuild_after:
            raise _CacheDoubtError(f"last cold run {age.total_seconds() / 86400:.1f} days ago")
        return _warm(engine, location, manifest, objects, archive=archive, endpoint_url=endpoint_url)
    except _CacheDoubtError as doubt:
        reason = str(doubt)
    except (
        StorageError,
        OSError,
        ValueError,
        duckdb.Error,
    ) as exc:  # pyarrow's errors are OSError/ValueError
        reason = f"cache unreadable: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    logger.info("parity cache cold", extra={"reason": reason})
    rows = index_archive(engine, keep_rows=True)
    assert rows is not None
    layer = _write_layer(engine, location, rows, prefix="")
    _switch(location, objects, [layer], archive=archive, previous=manifest, cold_at=None)
    return CacheOutcome("cold", reason=reason)


def _read_manifest(location: Location) -> Manifest:
    if not location.exists(MANIFEST):
        raise _CacheDoubtError("no cache yet")
    doc = json.loads(location.read_bytes(MANIFEST))
    if not isinstance(doc, dict) or doc.get("format") != CACHE_FORMAT:
        raise _CacheDoubtError(
            f"cache format {doc.get('format') if isinstance(doc, dict) else '?'}, not {CACHE_FORMAT}"
        )
    if doc.get("fingerprint") != index_fingerprint():
        raise _CacheDoubtError("cache made by other parity SQL")
    try:
        layers = tuple(
            LayerJson(
                rows=str(layer["rows"]),
                parity_current_index=str(layer["parity_current_index"]),
                parity_history_index=str(layer["parity_history_index"]),
            )
            for layer in doc["layers"]
        )
        objects = {str(k): (int(size), int(mtime)) for k, size, mtime in doc["objects"]}
        cold_at = dt.datetime.fromisoformat(str(doc["cold_at"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise _CacheDoubtError(f"cache manifest unusable ({type(exc).__name__})") from None
    if not layers:
        raise _CacheDoubtError("cache manifest unusable (no layer)")
    return Manifest(objects=objects, layers=layers, cold_at=cold_at)


def _warm(
    engine: LocalEngine,
    location: Location,
    manifest: Manifest,
    objects: Sequence[ArchiveObject],
    *,
    archive: str | Path,
    endpoint_url: str | None,
) -> CacheOutcome:
    listed = {o.key: (o.size, o.mtime_ns) for o in objects}
    for key, stat in manifest.objects.items():
        if key not in listed:
            raise _CacheDoubtError(f"object removed: {key}")
        if listed[key] != stat:
            raise _CacheDoubtError(f"object changed: {key}")
    new = [o.key for o in objects if o.key not in manifest.objects]
    engine.con.execute(f"CREATE SCHEMA IF NOT EXISTS {INDEX_SCHEMA}")
    layers = [
        {i: _register(engine, location, f"parity_cached_{i}_{n}", [layer[i]]) for i in INDEXES}
        for n, layer in enumerate(manifest.layers)
    ]
    if not new:
        _layered_views(engine, layers, out="")
        return CacheOutcome("warm")
    engine.attach_revisions(_NEW_SCHEMA, revisions_dataset(archive, endpoint_url=endpoint_url, keys=new))
    new_rows = load_slim_rows(engine, source=_NEW_SCHEMA, into=f"{INDEX_SCHEMA}.new_rows")
    _layered_views(engine, layers, out="cached_")
    _refuse_conflicts(engine, new_rows, f"{INDEX_SCHEMA}.cached_parity_history_index")
    touched = f"{INDEX_SCHEMA}.touched"
    engine.con.execute(f"CREATE OR REPLACE TABLE {touched} AS SELECT DISTINCT ledger, doc_id FROM {new_rows}")
    cached_rows = _register(
        engine, location, "parity_cached_rows", [layer["rows"] for layer in manifest.layers]
    )
    engine.con.execute(
        f"CREATE OR REPLACE TABLE {INDEX_SCHEMA}.touched_rows AS SELECT * FROM {cached_rows} AS c "
        f"WHERE EXISTS (SELECT 1 FROM {touched} AS t WHERE t.ledger = c.ledger AND t.doc_id = c.doc_id) "
        f"UNION ALL BY NAME SELECT * FROM {new_rows}"
    )
    index_rows(engine, f"{INDEX_SCHEMA}.touched_rows", prefix="touched_")
    fresh: dict[IndexName, str] = {i: f"{INDEX_SCHEMA}.touched_{i}" for i in INDEXES}
    _layered_views(engine, [*layers, fresh], out="")
    revisions = int(engine.con.sql(f"SELECT COUNT(*) FROM {new_rows}").fetchall()[0][0])
    if len(manifest.layers) + 1 > MAX_LAYERS:  # one layer of everything
        engine.con.execute(
            f"CREATE OR REPLACE VIEW {INDEX_SCHEMA}.all_rows AS SELECT * FROM {cached_rows} "
            f"UNION ALL BY NAME SELECT * FROM {new_rows}"
        )
        layer = _write_layer(engine, location, f"{INDEX_SCHEMA}.all_rows", prefix="")
        merged = {i: _register(engine, location, f"parity_merged_{i}", [layer[i]]) for i in INDEXES}
        _layered_views(engine, [merged], out="")  # the old layers' files go once the manifest is switched
        _switch(location, objects, [layer], archive=archive, previous=manifest, cold_at=manifest.cold_at)
    else:  # one more layer: the new rows and the touched documents' entries
        layer = _write_layer(engine, location, new_rows, prefix="touched_")
        kept = [*manifest.layers, layer]
        _switch(location, objects, kept, archive=archive, previous=manifest, cold_at=manifest.cold_at)
    return CacheOutcome("warm", new_objects=len(new), new_revisions=revisions)


def _layered_views(engine: LocalEngine, layers: Sequence[dict[IndexName, str]], *, out: str) -> None:
    """Views ``parity.<out><index>``: each document's entries from the newest layer holding it.

    A layer's documents are those of its history index (never empty for a document it holds).
    Every layer but the first is what one run added, so the documents of later layers are a
    small table, and each view is the layers, each minus those: a scan, not a join of indexes.
    """
    con = engine.con
    for n in range(len(layers) - 1, 0, -1):
        later = (
            f" UNION SELECT ledger, doc_id FROM {INDEX_SCHEMA}.{out}later_{n + 1}"
            if n + 1 < len(layers)
            else ""
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {INDEX_SCHEMA}.{out}later_{n} AS SELECT DISTINCT ledger, doc_id "
            f"FROM {layers[n]['parity_history_index']}{later}"
        )
    for index in INDEXES:
        parts = [
            f"SELECT * FROM {layer[index]} AS x WHERE NOT EXISTS (SELECT 1 FROM "
            f"{INDEX_SCHEMA}.{out}later_{n + 1} AS d WHERE d.ledger = x.ledger AND d.doc_id = x.doc_id)"
            if n + 1 < len(layers)
            else f"SELECT * FROM {layer[index]}"
            for n, layer in enumerate(layers)
        ]
        con.execute(
            f"CREATE OR REPLACE VIEW {INDEX_SCHEMA}.{out}{index} AS {' UNION ALL BY NAME '.join(parts)}"
        )


def _refuse_conflicts(engine: LocalEngine, new_rows: str, cached_history: str) -> None:
    """A new copy of a cached revision with another hash: recompute everything, as cold would."""
    found = engine.con.sql(
        f"SELECT n.doc_id, n.version FROM {new_rows} AS n JOIN {cached_history} AS h "
        "ON n.ledger = h.ledger AND n.doc_id = h.doc_id AND n.version = h.version "
        "WHERE n.revision_hash <> h.revision_hash LIMIT 1"
    ).fetchall()
    if found:
        doc_id, version = found[0]
        raise _CacheDoubtError(f"a new copy of {doc_id} version {version} conflicts with the cached one")


def _register(engine: LocalEngine, location: Location, name: str, files: list[str]) -> str:
    """Cache files as a relation: DuckDB's own reader for a folder, a pyarrow dataset for S3."""
    if location.is_s3:
        engine.con.register(
            name, ds.dataset([location.path(f) for f in files], format="parquet", filesystem=location.fs)
        )
    else:
        paths = ", ".join("'" + location.path(f).replace("'", "''") + "'" for f in files)
        engine.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet([{paths}])")
    return name


def _write_layer(engine: LocalEngine, location: Location, rows: str, *, prefix: str) -> LayerJson:
    """The slim `rows` and the indexes ``parity.<prefix><index>`` as new files (names never reused)."""
    run = uuid.uuid4().hex[:12]
    if not location.is_s3:
        location.fs.create_dir(location.root, recursive=True)
    layer = LayerJson(
        rows=f"rows-{run}.parquet",
        parity_current_index=f"parity_current_index-{run}.parquet",
        parity_history_index=f"parity_history_index-{run}.parquet",
    )
    _write_relation(engine, location, rows, layer["rows"])
    for index in INDEXES:
        _write_relation(engine, location, f"{INDEX_SCHEMA}.{prefix}{index}", layer[index])
    return layer


def _switch(
    location: Location,
    objects: Sequence[ArchiveObject],
    layers: list[LayerJson],
    *,
    archive: str | Path,
    previous: Manifest | None,
    cold_at: dt.datetime | None,
) -> None:
    """Point the manifest at `layers`, then delete the files no manifest needs.

    `cold_at` is when the layers' first was computed from every object; None: now (a cold run,
    which also removes the files killed runs left behind).
    """
    doc: ManifestJson = {
        "format": CACHE_FORMAT,
        "fingerprint": index_fingerprint(),
        "archive": redact_url(str(archive)),
        "objects": [(o.key, o.size, o.mtime_ns) for o in objects],
        "layers": layers,
        "cold_at": (cold_at or dt.datetime.now(dt.UTC)).isoformat(),
    }
    location.write_bytes(MANIFEST, json.dumps(doc).encode("utf-8"))
    keep = {name for layer in layers for name in _layer_files(layer)}
    stale = (previous.files() if previous else set()) - keep
    if cold_at is None:
        stale |= {f for f in _our_files(location) if f not in keep}
    for name in sorted(stale):
        try:
            location.delete(name)
        except StorageError as exc:  # the new cache is complete; a leftover file only costs space
            logger.warning("parity cache file not deleted", extra={"file": name, "reason": exc.reason})


def _write_relation(engine: LocalEngine, location: Location, relation: str, name: str) -> None:
    """Stream a DuckDB relation into one Parquet file (a new name: no reader ever sees it partial)."""
    reader = engine.con.sql(f"SELECT * FROM {relation}").to_arrow_reader(100_000)
    try:
        with (
            location.fs.open_output_stream(location.path(name), compression=None) as out,
            pq.ParquetWriter(out, reader.schema, compression="zstd") as writer,
        ):
            for batch in reader:
                writer.write_batch(batch)
    except (OSError, pa.ArrowException) as exc:
        raise StorageError(str(exc), url=location.describe(name)) from None


def _our_files(location: Location) -> list[str]:
    selector = pafs.FileSelector(location.root, recursive=False, allow_not_found=True)
    names = [str(i.path).rsplit("/", 1)[-1] for i in location.fs.get_file_info(selector)]
    return [n for n in names if n.endswith(".parquet") and n.startswith(_OURS)]

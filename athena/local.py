"""The local engine: the Athena views, transpiled by sqlglot, on DuckDB over the Parquet archive.

The same .sql files as Athena (`athena.views`) run here after
``sqlglot.transpile(sql, read="athena", write="duckdb")``; a bad translation is fixed in the .sql,
never here (the one rewrite made here is for speed: `athena.lateral_unnest`). The archive (a
folder or ``s3://bucket/prefix``, see `open_location`) is read object by object: only the
REVISION_DETAILS objects (``p_record_type=revision_details``), with the archive schema's types.
A folder's objects are read by DuckDB's own Parquet reader (`_create_native_scan`: faster, and
within DuckDB's memory limit); an S3 prefix's through a pyarrow dataset, not DuckDB's httpfs
(which cannot be installed everywhere).

What makes DuckDB see what Athena sees:

- Partition keys are strings, read without URI decoding (``segment_encoding="none"``): Athena's
  ``p_table`` is the sanitised value in the key (``a%2Fb``), so is ours. ``p_date`` is never
  inferred as a DATE.
- Timestamps: Parquet holds UTC instants, which Athena reads as a zone-less ``timestamp`` in
  UTC. DuckDB would read a ``TIMESTAMP WITH TIME ZONE``; the ``revisions`` view casts them to
  ``TIMESTAMP`` in a UTC session, so comparisons and output match Athena's.

The DuckDB database is the in-memory ``main``: the views are ``main.history``, ``main.current``...,
and a query may name them unqualified.

Memory: DuckDB keeps its own within ``memory_limit`` and spills the rest, but the Parquet it
scans from S3 is read by pyarrow, whose default allocator (jemalloc) keeps what it freed for later:
restoring 300k revisions peaked at 763 MiB that way, 490-530 MiB with
``ARROW_DEFAULT_MEMORY_POOL=system``, at the same speed. pyarrow reads that variable once, when
it is first imported (``pa.set_memory_pool`` later changes only the Python-level default, not
what its C++ readers allocate with), so the ``qldb-archive`` command sets it before anything
imports pyarrow (`qldb_archive`); a program using this module sets it itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import sqlglot
import sqlglot.errors

from athena.ddl import BLOCKS_TABLE, REVISIONS_TABLE, blocks_columns, revisions_columns
from athena.errors import EngineMemoryError, LocalQueryError
from athena.lateral_unnest import unnest_in_select_list
from athena.views import VIEW_NAMES, check_database_name, render_query, render_view
from firehose_transform.schema import PARTITION_KEYS, Column, Kind, RecordType, arrow_schema
from firehose_transform.storage import Location, open_location

__all__ = [
    "INDEX_DATABASE",
    "LOCAL_DATABASE",
    "ArchiveObject",
    "LocalEngine",
    "check_memory_limit",
    "memory_limit_bytes",
    "current",
    "history",
    "query",
    "revision_objects",
    "revisions_dataset",
    "to_duckdb",
    "utc_naive",
]

logger = logging.getLogger(__name__)

LOCAL_DATABASE: Final = "main"
"""The database name the views are rendered with locally (DuckDB's default schema)."""

TRINO_MACROS: Final = (
    # Trino built-ins DuckDB lacks, defined with Trino's meaning so the .sql files stay Athena SQL.
    "CREATE MACRO from_base(s, b) AS CASE WHEN b = 16 THEN CAST('0x' || s AS UBIGINT) "
    "ELSE error('from_base: only base 16 on the local engine') END",
)

_RAW: Final = "revisions_parquet"
_RAW_BLOCKS: Final = "blocks_parquet"


def to_duckdb(sql: str) -> str:
    """Translate one Athena (Trino) statement to DuckDB SQL with sqlglot.

    Raises:
        sqlglot.errors.ParseError: `sql` is not Athena SQL.
        ValueError: `sql` holds more than one statement.

    >>> to_duckdb("SELECT doc_id FROM current WHERE tx_time <= TIMESTAMP '2019-12-11 07:20:51.245'")
    "SELECT doc_id FROM current WHERE tx_time <= CAST('2019-12-11 07:20:51.245' AS TIMESTAMP(3))"
    """
    statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
    if len(statements) != 1:
        raise ValueError(f"expected one SQL statement, got {len(statements)}")
    return unnest_in_select_list(statements[0]).sql(dialect="duckdb")


def _record_infos(fs: pafs.FileSystem, root: str, record_type: RecordType) -> list[pafs.FileInfo]:
    record_dir = f"p_record_type={record_type.value.lower()}"
    selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    infos = []
    for info in fs.get_file_info(selector):
        if info.type != pafs.FileType.File or not info.path.endswith(".parquet"):
            continue
        parts = info.path[len(root) :].strip("/").split("/")
        # p_ledger=/p_record_type=/p_table=/p_date=/<object>; error prefixes, other record types: skipped
        if len(parts) == len(PARTITION_KEYS) + 1 and parts[1] == record_dir and not parts[-1].startswith("."):
            infos.append(info)
    return sorted(infos, key=lambda i: str(i.path))


def _record_files(fs: pafs.FileSystem, root: str, record_type: RecordType) -> list[str]:
    return [info.path for info in _record_infos(fs, root, record_type)]


@dataclass(frozen=True, slots=True)
class ArchiveObject:
    """One archived REVISION_DETAILS object, as listed: what a cache of derived data checks.

    Archive objects are immutable (Firehose writes new keys, the backfill names objects by their
    content), so a key with the same size and modification time holds the same rows.

    Attributes:
        key: the object's key relative to the archive root (``p_ledger=.../x.parquet``).
        size: its size in bytes.
        mtime_ns: its modification time (S3: LastModified), in nanoseconds since the epoch.
    """

    key: str
    size: int
    mtime_ns: int


def revision_objects(archive: str | Path, *, endpoint_url: str | None = None) -> list[ArchiveObject]:
    """The archive's REVISION_DETAILS objects, sorted by key, as `revisions_dataset` reads them.

    Raises:
        StorageError: the archive cannot be listed.
    """
    location = open_location(str(archive), endpoint_url=endpoint_url)
    root = location.root.rstrip("/")
    return [
        ArchiveObject(info.path[len(root) :].strip("/"), int(info.size or 0), int(info.mtime_ns or 0))
        for info in _record_infos(location.fs, location.root, RecordType.REVISION_DETAILS)
    ]


def _record_dataset(
    archive: str | Path,
    record_type: RecordType,
    columns: Sequence[Column],
    endpoint_url: str | None,
    keys_only: Sequence[str] | None = None,
) -> ds.Dataset:
    location = open_location(str(archive), endpoint_url=endpoint_url)
    if keys_only is None:
        files = _record_files(location.fs, location.root, record_type)
    else:
        files = [location.path(k) for k in keys_only]
    logger.debug("archive objects found", extra={"record_type": record_type.value, "objects": len(files)})
    return _files_dataset(location, columns, files)


def _scan_schema(columns: Sequence[Column]) -> pa.Schema:
    """The columns' Arrow types, then the partition keys as strings."""
    full = arrow_schema()
    keys = [pa.field(k.name, pa.string()) for k in PARTITION_KEYS]
    return pa.schema([full.field(c.name) for c in columns] + keys)


def _files_dataset(location: Location, columns: Sequence[Column], files: Sequence[str]) -> ds.Dataset:
    """A pyarrow dataset over these objects: partition keys from their paths, as typed strings."""
    schema = _scan_schema(columns)
    keys = pa.schema([schema.field(k.name) for k in PARTITION_KEYS])
    return ds.dataset(
        list(files),
        schema=schema,
        format="parquet",
        filesystem=location.fs,
        partitioning=ds.HivePartitioning(keys, segment_encoding="none"),
        partition_base_dir=location.root,
    )


def _create_native_scan(
    con: duckdb.DuckDBPyConnection, name: str, columns: Sequence[Column], files: Sequence[str], root: str
) -> None:
    """View `name`: these local objects read by DuckDB's own Parquet reader, as `_files_dataset` reads them.

    Faster and leaner than scanning the pyarrow dataset: DuckDB reads only the row groups and
    columns a query needs, in its own threads and within its memory limit (a 1M-revision restore
    peaked at 560 MiB instead of 820). What stays the same: the columns and their types (an
    empty table of the archive schema comes first, ``UNION ALL BY NAME``, so a column an older
    object lacks reads as NULL) and the partition keys, taken from each object's path without URI
    decoding (DuckDB's own hive partitioning would decode ``a%2Fb`` to ``a/b``).
    """
    schema = _scan_schema(columns)
    keys = [k.name for k in PARTITION_KEYS]
    paths = [str(f) for f in files]
    values = [dict(part.split("=", 1) for part in p[len(root) :].strip("/").split("/")[:-1]) for p in paths]
    partitions = pa.table(
        {"filename": paths, **{k: [v.get(k) for v in values] for k in keys}},
        schema=pa.schema([pa.field("filename", pa.string()), *(pa.field(k, pa.string()) for k in keys)]),
    )
    con.register(f"{name}_schema", schema.empty_table())
    con.register(f"{name}_partitions", partitions)
    file_list = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
    options = "filename = true, union_by_name = true, hive_partitioning = false"
    con.execute(
        f"CREATE OR REPLACE VIEW {name} AS SELECT {', '.join(schema.names)} FROM ("
        f"SELECT * FROM {name}_schema UNION ALL BY NAME "
        f"SELECT r.* EXCLUDE (filename), {', '.join(f'f.{k}' for k in keys)} "
        f"FROM read_parquet({file_list}, {options}) AS r "
        f"JOIN {name}_partitions AS f ON r.filename = f.filename)"
    )


def _create_file_scan(
    con: duckdb.DuckDBPyConnection,
    name: str,
    columns: Sequence[Column],
    location: Location,
    files: Sequence[str],
) -> None:
    """View `name`: objects holding every column, partition keys included, in the archive schema's types.

    Local objects are read by DuckDB's Parquet reader, S3 objects through a pyarrow dataset (its
    schema inferred from them, as another writer's types may differ: an UNLOAD's timestamps, for
    one); either way unioned by name with an empty table of the scan schema, so the columns and
    their types are the archive's (a zone-less timestamp is read as UTC: the session's zone).
    """
    schema = _scan_schema(columns)
    con.register(f"{name}_schema", schema.empty_table())
    if not files:
        source = f"{name}_schema"
    elif isinstance(location.fs, pafs.LocalFileSystem):
        file_list = "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in files) + "]"
        source = f"read_parquet({file_list}, union_by_name = true, hive_partitioning = false)"
    else:
        con.register(f"{name}_files", ds.dataset(list(files), format="parquet", filesystem=location.fs))
        source = f"{name}_files"
    keep = ", ".join(f"CAST({n} AS {t}) AS {n}" for n, t in _duckdb_types(con, f"{name}_schema"))
    con.execute(
        f"CREATE OR REPLACE VIEW {name} AS SELECT {keep} FROM ("
        f"SELECT * FROM {name}_schema UNION ALL BY NAME SELECT * FROM {source})"
    )


def _duckdb_types(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    """The (column, DuckDB type) pairs of a registered relation, in order."""
    return [(str(r[0]), str(r[1])) for r in con.sql(f"DESCRIBE {relation}").fetchall()]


def _connect(
    memory_limit: str | None,
) -> tuple[duckdb.DuckDBPyConnection, tempfile.TemporaryDirectory[str] | None]:
    """A new in-memory DuckDB in UTC with the Trino macros, spilling to its own folder past `memory_limit`."""
    scratch = None
    if memory_limit is None:
        con = duckdb.connect()
    else:
        scratch = tempfile.TemporaryDirectory(prefix="qldb-archive-duckdb-")
        con = duckdb.connect(
            config={"memory_limit": check_memory_limit(memory_limit), "temp_directory": scratch.name}
        )
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET python_enable_replacements = false")  # never read the caller's Python variables
    for macro in TRINO_MACROS:
        con.execute(macro)
    return con, scratch


def revisions_dataset(
    archive: str | Path, *, endpoint_url: str | None = None, keys: Sequence[str] | None = None
) -> ds.Dataset:
    """The archive's REVISION_DETAILS rows as a pyarrow dataset (partition keys as string columns).

    Args:
        archive: the archive root, a folder or ``s3://bucket/prefix``.
        endpoint_url: the S3 endpoint, None for AWS.
        keys: only these objects (keys relative to the root, from `revision_objects`); None:
            every object the archive lists now.

    Raises:
        StorageError: the archive cannot be listed.
    """
    return _record_dataset(archive, RecordType.REVISION_DETAILS, revisions_columns(), endpoint_url, keys)


def _table_view_sql(table: str, columns: Sequence[Column], raw: str, schema: str = LOCAL_DATABASE) -> str:
    stamps = [c.name for c in columns if c.kind is Kind.TIMESTAMP]
    replace = ", ".join(f"CAST({n} AS TIMESTAMP) AS {n}" for n in stamps)
    return f"CREATE OR REPLACE VIEW {schema}.{table} AS SELECT * REPLACE ({replace}) FROM {raw}"


_UNITS: Final = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
"""The memory units DuckDB reads: KB, MB, GB are powers of 1000; KiB, MiB, GiB of 1024."""


def memory_limit_bytes(limit: str) -> int:
    """The bytes a memory size means to DuckDB (``512MB``, ``1.5 GiB``).

    Raises:
        ValueError: `limit` is not a memory size.

    >>> memory_limit_bytes("640MB"), memory_limit_bytes("1.5 GiB")
    (640000000, 1610612736)
    """
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(\w+)", limit)
    if match is None or match.group(2) not in _UNITS:
        raise ValueError(f"not a memory size: {limit!r} (write e.g. 512MB)")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def check_memory_limit(limit: str) -> str:
    """`limit` if it is a memory size DuckDB reads (``512MB``, ``1.5GB``, ``800MiB``).

    Raises:
        ValueError: it is not.

    >>> check_memory_limit("640MB")
    '640MB'
    """
    memory_limit_bytes(limit)
    return limit


def utc_naive(moment: dt.datetime) -> dt.datetime:
    """`moment` as a zone-less UTC time, as Athena's ``timestamp`` holds it (naive: taken as UTC)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


UNLOAD_MEMORY: Final = "160MB"
"""DuckDB's memory limit while `LocalEngine.unload` streams rows out (see there)."""

INDEX_DATABASE: Final = "plan"
"""The schema `LocalEngine.index_history` fills: ``history`` without the columns no plan question reads."""

_UNINDEXED_HISTORY_COLUMNS: Final = frozenset(
    {"data_json", "revision_ion", "table_id", "strand_id", "tx_id", "data_hash", "revision_hash"}
)
"""What the plan's index leaves out: the two text columns (most of the bytes) and five ids no
question asked of it reads (the missing-revision check reads revision hashes from ``revisions``).
At 1M revisions four of them took the index from 1.03 to 1.34 s (640MB; 1.35 -> 2.00 s at 320MB)
and its peak RSS from 576 to 725 MiB; the revision hash took it from 109 to 155 MB."""


@dataclass(slots=True)
class LocalEngine:
    """A DuckDB connection with the archive's revisions and blocks tables and every view in it.

    Attributes:
        archive: the archive as given (for messages).
        con: the DuckDB connection (in memory, spilling to `scratch` past its memory limit).
        scratch: a temporary folder for what DuckDB spills, removed by `close`.
        indexed: `index_history` has run.
        memory_limit: DuckDB's memory limit as set (``"640MB"``); None: DuckDB's default.
        local_archive: the archive is a folder on this machine (read again cheaply), not on S3.
    """

    archive: str
    con: duckdb.DuckDBPyConnection
    scratch: tempfile.TemporaryDirectory[str] | None = None
    indexed: bool = False
    memory_limit: str | None = None
    local_archive: bool = True

    @classmethod
    def open(
        cls,
        archive: str | Path,
        *,
        endpoint_url: str | None = None,
        memory_limit: str | None = None,
        revision_keys: Sequence[str] | None = None,
    ) -> LocalEngine:
        """List the archive and create the revisions table and the views in a new DuckDB.

        Args:
            archive: the archive root, a folder or ``s3://bucket/prefix``.
            endpoint_url: the S3 endpoint, None for AWS.
            memory_limit: DuckDB's memory limit (``"512MB"``), past which it spills to a
                temporary folder; None: DuckDB's default (80% of the machine's memory).
            revision_keys: read exactly these REVISION_DETAILS objects (from `revision_objects`,
                so a caller knows what the views saw); None: list them now.
        """
        con, scratch = _connect(memory_limit)
        location = open_location(str(archive), endpoint_url=endpoint_url)
        if revision_keys is None:
            revision_files = _record_files(location.fs, location.root, RecordType.REVISION_DETAILS)
        else:
            revision_files = [location.path(k) for k in revision_keys]
        block_files = _record_files(location.fs, location.root, RecordType.BLOCK_SUMMARY)
        sources = (
            (_RAW, REVISIONS_TABLE, revisions_columns(), revision_files),
            (_RAW_BLOCKS, BLOCKS_TABLE, blocks_columns(), block_files),
        )
        for raw, table, columns, files in sources:
            if isinstance(location.fs, pafs.LocalFileSystem) and files:
                _create_native_scan(con, raw, columns, files, location.root)
            else:
                con.register(raw, _files_dataset(location, columns, files))
            con.execute(_table_view_sql(table, columns, raw))
        return cls._with_views(str(archive), con, scratch, memory_limit, location)

    @classmethod
    def open_files(
        cls,
        label: str,
        location: Location,
        *,
        revision_keys: Sequence[str],
        block_keys: Sequence[str],
        memory_limit: str | None = None,
    ) -> LocalEngine:
        """The engine over Parquet objects that hold their partition keys as columns (not in their paths).

        What an UNLOAD writes, as `restore.split` does: the archive's rows with every column,
        ``p_ledger``... included, under keys of any shape. Read with the archive schema's types:
        a column the objects lack reads as NULL, and timestamps of any unit or zone are the same
        instants (`_create_file_scan`).

        Args:
            label: the name for messages (the split's URL and shard).
            location: where the keys are.
            revision_keys: the objects holding REVISION_DETAILS rows (relative to the location).
            block_keys: the objects holding BLOCK_SUMMARY rows.
            memory_limit: as `open`.
        """
        con, scratch = _connect(memory_limit)
        sources = (
            (_RAW, REVISIONS_TABLE, revisions_columns(), revision_keys),
            (_RAW_BLOCKS, BLOCKS_TABLE, blocks_columns(), block_keys),
        )
        for raw, table, columns, keys in sources:
            _create_file_scan(con, raw, columns, location, [location.path(k) for k in keys])
            con.execute(_table_view_sql(table, columns, raw))
        return cls._with_views(label, con, scratch, memory_limit, location)

    @classmethod
    def _with_views(
        cls,
        label: str,
        con: duckdb.DuckDBPyConnection,
        scratch: tempfile.TemporaryDirectory[str] | None,
        memory_limit: str | None,
        location: Location,
    ) -> LocalEngine:
        for name in VIEW_NAMES:
            con.execute(to_duckdb(render_view(name, database=LOCAL_DATABASE)))
        local = isinstance(location.fs, pafs.LocalFileSystem)
        return cls(label, con, scratch, memory_limit=memory_limit, local_archive=local)

    def attach_revisions(self, schema: str, dataset: ds.Dataset) -> None:
        """Make `dataset` (e.g. `revisions_dataset` of some objects) the table ``schema.revisions``.

        With the same types as ``main.revisions``, so the views rendered for `schema` read it as
        they read the whole archive: what lets a cache add only the objects that are new.
        """
        check_database_name(schema)
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        self.con.register(f"{schema}_{_RAW}", dataset)
        self.con.execute(_table_view_sql(REVISIONS_TABLE, revisions_columns(), f"{schema}_{_RAW}", schema))

    def close(self) -> None:
        """Close the DuckDB connection and remove what it spilled."""
        self.con.close()
        if self.scratch is not None:
            self.scratch.cleanup()

    def materialize(self, view: str, *, schema: str, exclude: frozenset[str] = frozenset()) -> None:
        """Compute one view once into table ``schema.view`` (its columns but `exclude`).

        Several questions asked of one view would each compute it again (its window functions
        rank every archived copy); rendered for `schema`, the same SQL reads the table instead.
        The table lives in this engine's DuckDB, which spills past its memory limit.
        """
        if view not in VIEW_NAMES:
            raise ValueError(f"no view {view!r}; choose one of {', '.join(VIEW_NAMES)}")
        columns = [
            r[0] for r in self.con.sql(f"DESCRIBE {LOCAL_DATABASE}.{view}").fetchall() if r[0] not in exclude
        ]
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        try:
            self.con.execute(
                f"CREATE OR REPLACE TABLE {schema}.{view} AS "
                f"SELECT {', '.join(columns)} FROM {LOCAL_DATABASE}.{view}"
            )
        except duckdb.Error as exc:
            raise self._query_error(exc) from None
        for name in (BLOCKS_TABLE, REVISIONS_TABLE):
            self.con.execute(
                f"CREATE OR REPLACE VIEW {schema}.{name} AS SELECT * FROM {LOCAL_DATABASE}.{name}"
            )

    def index_history(self) -> str:
        """Materialize ``history`` without its text columns for the restore plan; the schema holding it.

        The plan asks several questions of ``history`` (counts, conflicts, gaps, chunks); with
        the index the ranking runs once. Columns no plan question reads are left out
        (`_UNINDEXED_HISTORY_COLUMNS`; one that did would fail, not read NULLs).
        """
        self.materialize("history", schema=INDEX_DATABASE, exclude=_UNINDEXED_HISTORY_COLUMNS)
        self.indexed = True
        return INDEX_DATABASE

    def drop_index(self) -> None:
        """Drop what `index_history` made, giving its memory back (before a large query of the archive)."""
        if self.indexed:
            self.con.execute(f"DROP SCHEMA IF EXISTS {INDEX_DATABASE} CASCADE")
            self.indexed = False

    def set_memory_limit(self, limit: str) -> None:
        """Change DuckDB's memory limit (``"640MB"``) for the queries that follow.

        Raises:
            ValueError: `limit` is not a size like ``512MB`` or ``1GB``.
        """
        self.con.execute(f"SET memory_limit = '{check_memory_limit(limit)}'")
        self.memory_limit = limit

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, sql: str, params: Sequence[object] = ()) -> pa.Table:
        """Run one Athena (Trino) SQL statement, with ``?`` parameters, and return its rows.

        Raises:
            LocalQueryError: the statement does not parse as Athena SQL, or DuckDB cannot run it.
        """
        try:
            local_sql = to_duckdb(sql)
            return self.con.sql(local_sql, params=list(params) or None).to_arrow_table()
        except (sqlglot.errors.SqlglotError, duckdb.Error, ValueError) as exc:
            raise self._query_error(exc) from None

    def query_batches(
        self, sql: str, params: Sequence[object] = (), *, rows: int = 10_000
    ) -> pa.RecordBatchReader:
        """`query`, streamed: record batches of about `rows` rows, so a large result is never held whole.

        Raises:
            LocalQueryError: the statement does not parse as Athena SQL, or DuckDB cannot run it.
        """
        try:
            local_sql = to_duckdb(sql)
            reader = self.con.sql(local_sql, params=list(params) or None).to_arrow_reader(rows)
        except (sqlglot.errors.SqlglotError, duckdb.Error, ValueError) as exc:
            raise self._query_error(exc) from None

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from reader
            except (duckdb.Error, OSError) as exc:  # DuckDB's errors while streaming reach pyarrow as OSError
                raise self._query_error(exc) from None

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    def unload(
        self,
        sql: str,
        params: Sequence[object] = (),
        *,
        location: Location,
        prefix: str,
        partitioned_by: Sequence[str] = (),
        rows: int = 10_000,
        memory_limit: str = UNLOAD_MEMORY,
    ) -> None:
        """Athena's UNLOAD here: a SELECT's rows as Parquet under `prefix`, Hive-partitioned.

        As UNLOAD writes them (``prefix/p_shard=1/<object>``, the partition columns only in the
        keys), streamed `rows` at a time, so memory stays bounded (splitting 1M revisions with
        their Ion text peaked at 1,174 MiB in batches of 100,000 rows, 580 in batches of 10,000,
        as fast). It runs on one thread within `memory_limit`, then puts both settings back:
        streaming needs no more, and more only holds more of the archive's row groups at once
        (after a 1M-revision split's plan at 640MB, unloading its 555,813 block summaries took
        the peak from 685 to 1,510 MiB on two threads at 640MB, to 981 on one, to 724 on one at
        160MB, as fast). `prefix` must hold no objects yet.

        Raises:
            LocalQueryError: the statement cannot run, or `prefix` already holds objects.
        """
        if location.list_keys(prefix):
            raise LocalQueryError(
                f"{location.describe(prefix)} already holds objects",
                archive=self.archive,
                hint="unload into an empty prefix (as Athena's UNLOAD requires)",
            )
        threads = self.con.execute("SELECT current_setting('threads')").fetchone()
        limit = self.memory_limit
        self.con.execute("SET threads = 1")
        self.set_memory_limit(memory_limit)
        try:
            self._unload(
                sql, params, location=location, prefix=prefix, partitioned_by=partitioned_by, rows=rows
            )
        finally:
            self.con.execute(f"SET threads = {int(threads[0]) if threads else 1}")
            if limit is not None:
                self.set_memory_limit(limit)
            else:
                self.con.execute("RESET memory_limit")
                self.memory_limit = None

    def _unload(
        self,
        sql: str,
        params: Sequence[object],
        *,
        location: Location,
        prefix: str,
        partitioned_by: Sequence[str],
        rows: int,
    ) -> None:
        reader = self.query_batches(sql, params, rows=rows)
        partitioning = None
        if partitioned_by:
            keys = pa.schema([reader.schema.field(n) for n in partitioned_by])
            partitioning = ds.partitioning(keys, flavor="hive")
        try:
            ds.write_dataset(
                reader,
                location.path(prefix),
                filesystem=location.fs,
                format="parquet",
                partitioning=partitioning,
                basename_template="part-{i}.parquet",
                existing_data_behavior="overwrite_or_ignore",
                file_options=ds.ParquetFileFormat().make_write_options(compression="snappy"),
                max_rows_per_group=rows,
            )
        except OSError as exc:
            raise LocalQueryError(str(exc).splitlines()[0], archive=self.archive) from None

    def _query_error(self, exc: Exception) -> LocalQueryError:
        """The error to raise for `exc`: running out of memory names the limit and what to do."""
        reason = str(exc).splitlines()[0]
        if isinstance(exc, duckdb.OutOfMemoryException) or reason.startswith("Out of Memory Error"):
            return EngineMemoryError(reason, archive=self.archive, limit=self.memory_limit)
        return LocalQueryError(reason, archive=self.archive)

    def current(
        self,
        table: str | None = None,
        *,
        as_of_block: int | None = None,
        as_of_time: dt.datetime | None = None,
    ) -> pa.Table:
        """The user view, of one QLDB table or all, now or at a point in time.

        Args:
            table: the QLDB table name; None for every table.
            as_of_block: only revisions in blocks up to this sequence number (inclusive).
            as_of_time: only revisions committed at or before this time (naive: UTC).

        Returns:
            Rows of the ``current`` view, ordered by table_name and doc_id.

        Raises:
            ValueError: both `as_of_block` and `as_of_time` are given.
        """
        if as_of_block is not None and as_of_time is not None:
            raise ValueError("give as_of_block or as_of_time, not both")
        if as_of_block is not None:
            sql = render_query("current_as_of_block", database=LOCAL_DATABASE)
            rows = self.query(sql, [as_of_block, as_of_block])  # cut, and "not replaced by then"
        elif as_of_time is not None:
            sql = render_query("current_as_of_time", database=LOCAL_DATABASE)
            moment = utc_naive(as_of_time)
            rows = self.query(sql, [moment, moment])
        else:
            rows = self.query(f"SELECT * FROM {LOCAL_DATABASE}.current")
        if table is not None:
            rows = rows.filter(pc.equal(rows["table_name"], table))
        return rows.sort_by([("table_name", "ascending"), ("doc_id", "ascending")])

    def create_typed_view(self, table: str) -> str:
        """Infer QLDB table `table`'s columns and create its typed view here; return the view name.

        Raises:
            InvalidNameError: the table or a field name cannot be carried into a view.
            LocalQueryError: the view cannot be created.
        """
        from athena.typed import infer_table_columns, render_typed_view, typed_view_name

        sql = render_typed_view(table, infer_table_columns(self, table), database=LOCAL_DATABASE)
        try:
            self.con.execute(to_duckdb(sql))
        except (sqlglot.errors.SqlglotError, duckdb.Error) as exc:
            raise LocalQueryError(str(exc).splitlines()[0], archive=self.archive) from None
        return typed_view_name(table)

    def history(self, table: str, doc_id: str) -> pa.Table:
        """Every revision of one document, oldest first (the ``history`` view's columns)."""
        return self.query(render_query("document_history", database=LOCAL_DATABASE), [table, doc_id])


def query(
    archive: str | Path, sql: str, params: Sequence[object] = (), *, endpoint_url: str | None = None
) -> pa.Table:
    """Run one Athena SQL statement over the archive on DuckDB (see `LocalEngine.query`)."""
    with LocalEngine.open(archive, endpoint_url=endpoint_url) as engine:
        return engine.query(sql, params)


def current(
    archive: str | Path,
    table: str | None = None,
    *,
    as_of_block: int | None = None,
    as_of_time: dt.datetime | None = None,
    endpoint_url: str | None = None,
) -> pa.Table:
    """The archive's user view (see `LocalEngine.current`)."""
    with LocalEngine.open(archive, endpoint_url=endpoint_url) as engine:
        return engine.current(table, as_of_block=as_of_block, as_of_time=as_of_time)


def history(archive: str | Path, table: str, doc_id: str, *, endpoint_url: str | None = None) -> pa.Table:
    """Every revision of one document (see `LocalEngine.history`)."""
    with LocalEngine.open(archive, endpoint_url=endpoint_url) as engine:
        return engine.history(table, doc_id)

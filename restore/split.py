"""Split a restore across workers: plan it once, on Athena at scale or here, and write each shard's rows.

For an archive too large to restore from one machine. `split_archive` asks the plan's questions
of the whole archive (`restore.survey`: tables, conflicts, gaps, the point in time) and refuses
as `restore` would; then it unloads the archive's rows up to the cut, each with its shard (the
document-id hash range of ``--shard i/n``), and the block summaries, and writes the manifest last:

```
OUTPUT/split.json                     the manifest (what was planned; its presence: complete)
OUTPUT/revisions/p_shard=<i>/<objects>  shard i's archived revisions (every column, copies kept)
OUTPUT/blocks/<objects>               the block summaries up to the cut (every worker reads them)
```

The questions and the unloads run on a `SplitEngine`: `AthenaSplitEngine` (the plan SQL on
Athena, ``UNLOAD ... partitioned_by`` into S3) or `LocalSplitEngine` (the same SQL on DuckDB,
the same layout written with pyarrow, into a folder or S3). Then one worker per shard runs
``restore OUTPUT TARGET --shard i/n``: `read_split` finds the manifest and `open_shard` reads
only that shard's objects, so each worker reads 1/n of the archive and plans its own
documents again (copies, conflicts, version gaps are per document); the missing revisions come
from the manifest, found once over every block summary.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from athena.local import INDEX_DATABASE, LOCAL_DATABASE, LocalEngine
from athena.remote import MAX_UNLOAD_PARTITIONS, AthenaEngine
from firehose_transform.storage import Location, StorageError, open_location
from journal.progress import NULL_PROGRESS, ProgressReporter
from journal.urls import redact_url
from restore.errors import RestoreError
from restore.plan import NO_BLOCK_CUT, Gap, RestorePlan, TablePlan, format_shard, refusal, vars_of
from restore.plan_sql import render_plan_query
from restore.survey import block_cut_for, survey

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "BLOCKS_PREFIX",
    "MANIFEST_KEY",
    "REVISIONS_PREFIX",
    "AthenaSplitEngine",
    "LocalSplitEngine",
    "SplitEngine",
    "SplitManifest",
    "SplitOptions",
    "open_shard",
    "read_split",
    "shard_prefix",
    "split_archive",
    "why_empty",
]

logger = logging.getLogger(__name__)

MANIFEST_KEY: Final = "split.json"
REVISIONS_PREFIX: Final = "revisions"
BLOCKS_PREFIX: Final = "blocks"
SHARD_COLUMN: Final = "p_shard"
SPLIT_FORMAT: Final = "qldb-archive restore split"
SPLIT_VERSION: Final = 1


def shard_prefix(index: int) -> str:
    """The prefix holding shard `index`'s revisions (1-based, as ``--shard i/n``)."""
    return f"{REVISIONS_PREFIX}/{SHARD_COLUMN}={index}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitOptions:
    """What to split (the CLI's options).

    Attributes:
        shards: how many workers will restore (1-100: an UNLOAD writes at most 100 partitions).
        tables: QLDB tables to include; empty for every table.
        as_of_block: include the blocks up to this one (inclusive).
        as_of_time: include the blocks committed by this time (naive: UTC).
        allow_gaps: split even when the archive has holes (each worker still refuses them
            unless it too is given --allow-gaps).
        dry_run: plan only: write nothing, report what a split would hold and any refusal.
    """

    shards: int
    tables: tuple[str, ...] = ()
    as_of_block: int | None = None
    as_of_time: dt.datetime | None = None
    allow_gaps: bool = False
    dry_run: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.shards <= MAX_UNLOAD_PARTITIONS:
            raise RestoreError(
                f"--shards takes 1 to {MAX_UNLOAD_PARTITIONS} (an Athena UNLOAD writes at most "
                f"{MAX_UNLOAD_PARTITIONS} partitions), not {self.shards}"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitManifest:
    """What a split holds: written last, so a split without one is incomplete.

    Attributes:
        archive: the archive split (credentials redacted), or the Athena database.
        engine: ``local`` or ``athena``: where the plan ran.
        shards: the shard count every worker must use.
        block_cut: the last block included; None for all.
        selection: the tables asked for (empty: all).
        tables: per QLDB table, what a restore of every shard applies.
        gaps: every gap found (the workers take the missing revisions from here).
        created_at: when the split finished (UTC, ISO 8601).
        refused: a dry run's reason the split would be refused (conflicts, gaps); else None.
    """

    archive: str
    engine: str
    shards: int
    block_cut: int | None
    selection: tuple[str, ...]
    tables: tuple[TablePlan, ...]
    gaps: tuple[Gap, ...]
    created_at: str
    refused: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The manifest as JSON-ready data."""
        return {
            "format": SPLIT_FORMAT,
            "version": SPLIT_VERSION,
            "archive": self.archive,
            "engine": self.engine,
            "shards": self.shards,
            "block_cut": self.block_cut,
            "selection": list(self.selection),
            "tables": [vars_of(t) for t in self.tables],
            "gaps": [vars_of(g) for g in self.gaps],
            "created_at": self.created_at,
            "refused": self.refused,
        }

    @classmethod
    def from_json(cls, doc: Any, *, url: str) -> SplitManifest:
        """Read a manifest.

        Raises:
            RestoreError: not a split manifest this version reads.
        """
        if not isinstance(doc, dict) or doc.get("format") != SPLIT_FORMAT:
            raise RestoreError(f"{url} is not a restore split's manifest")
        if doc.get("version") != SPLIT_VERSION:
            raise RestoreError(
                f"{url} is a version {doc.get('version')} split; this qldb-archive reads version "
                f"{SPLIT_VERSION}: split again with this version"
            )
        try:
            return cls(
                archive=str(doc["archive"]),
                engine=str(doc["engine"]),
                shards=int(doc["shards"]),
                block_cut=None if doc["block_cut"] is None else int(doc["block_cut"]),
                selection=tuple(str(t) for t in doc["selection"]),
                tables=tuple(TablePlan(**t) for t in doc["tables"]),
                gaps=tuple(Gap(**g) for g in doc["gaps"]),
                created_at=str(doc["created_at"]),
                refused=doc.get("refused"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RestoreError(f"{url}: a damaged split manifest ({exc}); split again") from None

    def check_shard(self, shard: tuple[int, int], *, url: str) -> None:
        """Refuse a worker whose ``--shard i/n`` does not fit this split.

        Raises:
            RestoreError: n is not the split's shard count.
        """
        if shard[1] != self.shards:
            raise RestoreError(
                f"{url} was split into {self.shards} shard(s): restore each with --shard i/{self.shards} "
                f"(1 <= i <= {self.shards}), not --shard {format_shard(shard)}"
            )


class SplitEngine(Protocol):
    """Where the split's plan runs: the plan queries, and their large answers written to the output."""

    @property
    def name(self) -> str:
        """``local`` or ``athena``, for the manifest."""
        ...

    def ask(self, query: str, params: Sequence[object]) -> pa.Table:
        """Run the plan query of this name (`restore.plan_sql`) and return its rows."""
        ...

    def unload(
        self, query: str, params: Sequence[object], *, prefix: str, partitioned_by: Sequence[str]
    ) -> None:
        """Write the plan query's rows under the output's `prefix`, as Athena's UNLOAD does."""
        ...


@dataclass(frozen=True, slots=True)
class LocalSplitEngine:
    """The split's plan on DuckDB (`athena.local.LocalEngine`), written by pyarrow.

    The questions read the engine's history index (`LocalEngine.index_history`) once made.
    """

    engine: LocalEngine
    output: Location
    name: str = "local"

    def ask(self, query: str, params: Sequence[object]) -> pa.Table:  # noqa: D102
        database = INDEX_DATABASE if self.engine.indexed else LOCAL_DATABASE
        return self.engine.query(render_plan_query(query, database=database), params)

    def unload(  # noqa: D102
        self, query: str, params: Sequence[object], *, prefix: str, partitioned_by: Sequence[str]
    ) -> None:
        self.engine.drop_index()  # planned: its memory goes to the unload (a no-op once dropped)
        sql = render_plan_query(query, database=LOCAL_DATABASE)  # every column: not the index
        self.engine.unload(sql, params, location=self.output, prefix=prefix, partitioned_by=partitioned_by)


@dataclass(frozen=True, slots=True)
class AthenaSplitEngine:
    """The split's plan on Athena, over the database `qldb-archive athena deploy` made; UNLOAD into S3."""

    athena: AthenaEngine
    output: Location
    name: str = "athena"

    def ask(self, query: str, params: Sequence[object]) -> pa.Table:  # noqa: D102
        return self.athena.query(render_plan_query(query, database=self.athena.database), params, what=query)

    def unload(  # noqa: D102
        self, query: str, params: Sequence[object], *, prefix: str, partitioned_by: Sequence[str]
    ) -> None:
        sql = render_plan_query(query, database=self.athena.database)
        url = self.output.describe(prefix) + "/"
        self.athena.unload(sql, params, output=url, partitioned_by=partitioned_by, what=query)


def split_archive(
    engine: SplitEngine,
    output: Location,
    options: SplitOptions,
    *,
    archive: str,
    now: dt.datetime | None = None,
    progress: ProgressReporter = NULL_PROGRESS,
) -> SplitManifest:
    """Plan the restore of the whole archive on `engine`, write each shard's rows and the manifest.

    Args:
        engine: where the plan runs.
        output: an empty folder or S3 prefix.
        options: the shard count, table selection, point in time.
        archive: what is split, for the manifest (credentials are redacted here).
        now: the manifest's time (tests).
        progress: told of each question asked and each unload (on Athena, each can take minutes).

    Raises:
        RestoreError: `output` is not empty, or a selected table has no revision.
        ConflictError, GapError: the plan is refused, as `restore` refuses it (nothing written;
            a dry run reports it in `SplitManifest.refused` instead).
    """
    if output.list_keys():
        raise RestoreError(
            f"{output.url} already holds objects: split into an empty folder or prefix (an Athena "
            "UNLOAD requires one, and a worker must never read two splits mixed)"
        )

    def ask(query: str, params: Sequence[object]) -> pa.Table:
        answer = engine.ask(query, params)
        progress.advance()
        return answer

    moments = [options.as_of_time] if options.as_of_time is not None else []
    progress.start("split: plan", total=None, unit="queries")
    try:
        block_cut = block_cut_for(ask, as_of_block=options.as_of_block, moments=moments)
        selection = list(options.tables)
        found = survey(ask, block_cut=block_cut, selection=selection)
    finally:
        progress.finish()
    plan = RestorePlan(
        tables=found.tables,
        block_cut=block_cut,
        gaps=found.gaps,
        conflicts=found.conflicts,
        chunks=(),
        start_after=-1,
    )
    refused = refusal(plan, allow_gaps=options.allow_gaps, dry_run=options.dry_run)
    logger.info(
        "split planned", extra={"engine": engine.name, "block_cut": block_cut, "gaps": len(found.gaps)}
    )
    n = options.shards
    moment = now if now is not None else dt.datetime.now(dt.UTC)
    manifest = SplitManifest(
        archive=redact_url(archive),
        engine=engine.name,
        shards=n,
        block_cut=None if block_cut == NO_BLOCK_CUT else block_cut,
        selection=tuple(selection),
        tables=found.tables,
        gaps=found.gaps,
        created_at=moment.isoformat(timespec="seconds"),
        refused=refused,
    )
    if options.dry_run:
        return manifest
    progress.start("split: write shards", total=2, unit="unloads")
    try:
        engine.unload(
            "split_revisions",
            [n, n, n, block_cut, selection, selection],
            prefix=REVISIONS_PREFIX,
            partitioned_by=[SHARD_COLUMN],
        )
        progress.advance()
        engine.unload("split_blocks", [block_cut], prefix=BLOCKS_PREFIX, partitioned_by=())
        progress.advance()
    finally:
        progress.finish()
    output.write_bytes(MANIFEST_KEY, (json.dumps(manifest.to_json(), indent=2) + "\n").encode("utf-8"))
    return manifest


def read_split(archive: str, *, endpoint_url: str | None = None) -> SplitManifest | None:
    """The manifest when `archive` is a split's output, else None (an archive).

    Raises:
        RestoreError: the manifest cannot be read.
    """
    try:
        location = open_location(archive, endpoint_url=endpoint_url)
        if not location.exists(MANIFEST_KEY):
            return None
        text = location.read_bytes(MANIFEST_KEY).decode("utf-8")
    except StorageError:
        return None  # not a location we can list: let the archive reader say why
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise RestoreError(f"{location.describe(MANIFEST_KEY)}: not JSON ({exc}); split again") from None
    return SplitManifest.from_json(doc, url=location.describe(MANIFEST_KEY))


def why_empty(archive: str, *, endpoint_url: str | None = None) -> str:
    """What to tell someone whose archive holds no revision: a wrong path, or an unfinished split."""
    location = open_location(archive, endpoint_url=endpoint_url)
    if any(location.list_keys(prefix) for prefix in (REVISIONS_PREFIX, BLOCKS_PREFIX)):
        return (
            f"{redact_url(archive)} holds a restore split's objects but no {MANIFEST_KEY}: the split did "
            "not finish; split again into an empty prefix"
        )
    return (
        f"no archived revisions under {redact_url(archive)}: give the archive's root, the folder or "
        "prefix holding the p_ledger=... folders (the Firehose destination), or a split's OUTPUT"
    )


def _data_keys(location: Location, prefix: str) -> list[str]:
    """The data objects under `prefix`: not hidden files, not markers (``_SUCCESS``), not partial writes."""
    return [k for k in location.list_keys(prefix) if not k.rpartition("/")[2].startswith((".", "_"))]


def open_shard(
    archive: str,
    manifest: SplitManifest,
    shard: tuple[int, int],
    *,
    endpoint_url: str | None = None,
    memory_limit: str | None = None,
) -> LocalEngine:
    """The local engine over one shard of a split: its revisions and every block summary.

    Raises:
        RestoreError: the shard does not fit the split.
    """
    location = open_location(archive, endpoint_url=endpoint_url)
    manifest.check_shard(shard, url=redact_url(archive))
    revisions = _data_keys(location, shard_prefix(shard[0]))
    blocks = _data_keys(location, BLOCKS_PREFIX)
    logger.info(
        "reading one shard of a split",
        extra={
            "shard": format_shard(shard),
            "revision_objects": len(revisions),
            "block_objects": len(blocks),
        },
    )
    return LocalEngine.open_files(
        f"{redact_url(archive)} (shard {format_shard(shard)})",
        location,
        revision_keys=revisions,
        block_keys=blocks,
        memory_limit=memory_limit,
    )

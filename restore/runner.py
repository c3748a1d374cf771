"""Run a restore: plan on the local engine, apply chunk by chunk, checkpoint, retry, report.

The I/O edge of the restore. The archive is read through `athena.local.LocalEngine` (DuckDB over
the Parquet, a folder or S3) with the plan SQL of `restore.plan_sql`; the target is any
`restore.targets.Target`. Memory stays bounded: the archive is read one chunk of whole blocks at a
time (`plan_chunks`, about `chunk_revisions` revisions), and each chunk is applied in batches of
about `batch_revisions`, each batch in one transaction with its checkpoint row. A first restore
reads it in document order instead, one range of whole documents at a time
(`plan_document_ranges`, sized to sort within the engine's memory limit). Given a split
(`restore.split`) instead of an archive, it reads only its shard's objects.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from athena.local import INDEX_DATABASE, LOCAL_DATABASE, LocalEngine, memory_limit_bytes
from athena.typed import infer_table_columns
from journal.progress import NULL_PROGRESS, ProgressReporter
from journal.urls import redact_url
from restore.batch import RevisionBatch, RevisionRow, batch_effects
from restore.bulk import bulk_batches
from restore.bulk_load import ensure_schema_over, load_slices
from restore.checkpoint import Checkpoint, RunIdentity, resume_point
from restore.content import content_hash
from restore.errors import RestoreError, TransientTargetError
from restore.identifiers import TableNames, table_names
from restore.ledger_archive import add_revision_ion, attach_blocks, read_blocks, read_expected_data
from restore.plan import (
    NO_BLOCK_CUT,
    Chunk,
    DocumentRange,
    Gap,
    RestorePlan,
    document_ranges,
    format_shard,
    in_shard,
    keep_gaps,
    range_revisions,
    refusal,
    split_batches,
    vars_of,
)
from restore.plan_sql import render_plan_query
from restore.split import open_shard, read_split, why_empty
from restore.survey import Ask, block_cut_for, survey
from restore.targets import Target, open_target
from restore.typed_columns import SkippedField, typed_columns_for

if TYPE_CHECKING:
    import pyarrow as pa

    from athena.typed import TypedColumn
    from restore.ledger_hashes import DataHashReport

__all__ = ["RestoreOptions", "RestoreReport", "TableReport", "apply_with_retry", "build_plan", "run_restore"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoreOptions:
    """How to restore (the CLI's options).

    Attributes:
        tables: QLDB tables to restore; empty for every table.
        table_map: QLDB name -> target name, for names the target cannot hold.
        history: also write history tables.
        as_of_block: restore the state after this block (inclusive).
        as_of_time: restore the state at this time (naive: UTC).
        shard: (i, n): apply only the documents of hash range i of n.
        allow_gaps: restore even when the archive has holes (they are reported).
        resume: continue an interrupted run from the target's checkpoint.
        incremental: apply only blocks after the checkpoint of a completed run.
        settle: with `incremental`, only revisions older than this (a settling buffer for
            records still on their way into the archive).
        batch_revisions: revisions per transaction (about: blocks are never split).
        chunk_revisions: revisions read from the archive at a time (bounds memory).
        max_retries: attempts per batch on transient errors.
        dry_run: plan only; write nothing.
        typed: also give each current table generated columns for its documents' top-level fields,
            with the types of the typed views (`restore.typed_columns`).
        engine_memory: the local engine's memory limit (DuckDB spills to a temporary folder past
            it), so a restore's memory stays bounded however large the archive: it grows with the
            archive until DuckDB reaches the limit (at 1M revisions), then stays there. A first
            restore from a folder sorts one document range at a time (`read_document_ranges`),
            so even a low limit is enough (1M revisions with history: 160MB, peak RSS 374 MiB).
        document_order: let a first, full restore apply the archive in document order, only the
            final states without history (`first_full_restore`); False: always in block order.
        bulk_load: let such a restore load the final rows straight into empty tables, where the
            target can (`restore.bulk`); False: through the guarded apply.
        bulk_connections: connections a bulk load uses at once (`restore.bulk_load`).
        range_revisions: revisions a first restore ranks and sorts at once, a range of whole
            documents (`read_document_ranges`); None: as many as sort within the memory limit.
        bulk_memory: the local engine's memory limit for a restore that may load in bulk, from
            its plan to the sort of the rows it loads (the plan's index is gone by then): less
            spilled; at 1M revisions into PostgreSQL 20 -> 17 s with history, 10 -> 9 s without
            (before document ranges), peak RSS 785 MiB.
    """

    tables: tuple[str, ...] = ()
    table_map: Mapping[str, str] = field(default_factory=dict)
    history: bool = False
    as_of_block: int | None = None
    as_of_time: dt.datetime | None = None
    shard: tuple[int, int] = (1, 1)
    allow_gaps: bool = False
    resume: bool = False
    incremental: bool = False
    settle: dt.timedelta | None = None
    batch_revisions: int = 5_000
    chunk_revisions: int = 50_000
    max_retries: int = 6
    dry_run: bool = False
    typed: bool = False
    engine_memory: str = "320MB"
    document_order: bool = True
    bulk_load: bool = True
    bulk_connections: int = 2
    bulk_memory: str = "640MB"
    range_revisions: int | None = None

    def identity(self) -> RunIdentity:
        """The options a resumed run must share with this one."""
        return RunIdentity(
            tables=tuple(sorted(self.tables)),
            history=self.history,
            as_of_block=self.as_of_block,
            as_of_time=None if self.as_of_time is None else self.as_of_time.isoformat(),
            shard=format_shard(self.shard),
        )

    @property
    def restore_id(self) -> str:
        """The checkpoint's key: shards of one restore keep separate checkpoints."""
        i, n = self.shard
        return "restore" if n == 1 else f"restore-shard-{i}-of-{n}"


@dataclass(slots=True)
class TableReport:
    """What the restore did to one QLDB table (this run, this shard)."""

    table_name: str
    target_table: str
    documents: int = 0
    revisions: int = 0
    deletes: int = 0
    redactions: int = 0
    duplicates_skipped: int = 0
    gaps: int = 0
    typed_columns: list[str] = field(default_factory=list)
    typed_skipped: list[str] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class RestoreReport:
    """The final report: printed for people, written as JSON for machines."""

    archive: str
    target: str
    engine: str
    dry_run: bool
    shard: str
    block_cut: int | None
    started_after_block: int
    last_block: int
    completed: bool
    batches: int = 0
    retries: int = 0
    revisions_applied: int = 0
    elapsed_seconds: float = 0.0
    tables: list[TableReport] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    plan: RestorePlan | None = None
    refused: str | None = None
    typed_ddl: list[str] = field(default_factory=list)
    method: str = "block order"
    data_hashes: DataHashReport | None = None

    @property
    def revisions_per_second(self) -> float:
        """Applied revisions per second of wall time."""
        return self.revisions_applied / self.elapsed_seconds if self.elapsed_seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (gaps capped at 1,000, with the total)."""
        return {
            "archive": self.archive,
            "target": self.target,
            "engine": self.engine,
            "dry_run": self.dry_run,
            "shard": self.shard,
            "block_cut": self.block_cut,
            "started_after_block": self.started_after_block,
            "last_block": self.last_block,
            "completed": self.completed,
            "batches": self.batches,
            "retries": self.retries,
            "revisions_applied": self.revisions_applied,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "revisions_per_second": round(self.revisions_per_second, 1),
            "tables": [vars_of(t) for t in self.tables],
            "gap_count": len(self.gaps),
            "gaps": [vars_of(g) for g in self.gaps[:1000]],
            "refused": self.refused,
            "plan": None if self.plan is None else self.plan.to_json(),
            "typed_ddl": self.typed_ddl,
            "method": self.method,
            "data_hashes": None if self.data_hashes is None else self.data_hashes.to_json(),
        }

    def take_planned_counts(self, *, documents: bool) -> None:
        """Report the plan's counts as what was applied (a dry run; a shortcut that writes final states).

        `revisions_applied` becomes the plan's too, except in a dry run, which applies nothing.
        """
        assert self.plan is not None  # set before anything is applied
        if not self.dry_run:
            self.revisions_applied = self.plan.revisions_to_apply
        by_table = {t.table_name: t for t in self.tables}
        for planned in self.plan.tables:
            entry = by_table[planned.table_name]
            entry.revisions, entry.deletes, entry.redactions = (
                planned.revisions,
                planned.deletes,
                planned.redactions,
            )
            if documents:
                entry.documents = planned.documents

    def summary_lines(self) -> list[str]:
        """A short human summary."""
        verb = "would restore" if self.dry_run else "restored"
        cut = "now" if self.block_cut is None else f"as of block {self.block_cut}"
        lines = [f"{verb} {self.archive} into {self.target} ({self.engine}, {cut}, shard {self.shard})"]
        for t in self.tables:
            lines.append(
                f"  {t.table_name} -> {t.target_table}: {t.documents:,} documents, "
                f"{t.revisions:,} revisions, {t.deletes:,} deletes, {t.redactions:,} redactions, "
                f"{t.duplicates_skipped:,} duplicates skipped, {t.gaps:,} gaps"
            )
            if t.typed_columns or t.typed_skipped:
                skipped = f"; no column for {'; '.join(t.typed_skipped)}" if t.typed_skipped else ""
                lines.append(f"    typed columns: {', '.join(t.typed_columns) or 'none'}{skipped}")
        if self.gaps:
            lines.append(f"  gaps ({len(self.gaps)}):")
            lines.extend(f"    {g.describe()}" for g in self.gaps[:10])
            if len(self.gaps) > 10:
                lines.append(f"    ... and {len(self.gaps) - 10} more (see the JSON report)")
        if self.refused:
            lines.append(f"  the restore would be refused: {self.refused}")
        if self.plan is not None and self.dry_run:
            lines.append(
                f"  {self.plan.revisions_to_apply:,} revisions to apply in {len(self.plan.chunks)} chunk(s), "
                f"{self.method}"
            )
            lines.append("  target DDL:")
            lines.extend(f"    {s};" for s in (*self.plan.ddl, *self.typed_ddl))
        if not self.dry_run:
            state = "complete" if self.completed else "stopped"
            lines.append(
                f"  {state} ({self.method}): {self.revisions_applied:,} revisions in {self.batches:,} "
                "transactions, "
                f"{self.elapsed_seconds:.1f} s ({self.revisions_per_second:,.0f}/s), {self.retries} retries; "
                f"checkpoint at block {self.last_block}"
            )
        if self.data_hashes is not None:
            lines.extend(self.data_hashes.summary_lines())
        return lines


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()  # type: ignore[no-any-return]


def _query(engine: LocalEngine, name: str, params: Sequence[object]) -> pa.Table:
    """A plan query, on the history index when `LocalEngine.index_history` made one."""
    database = INDEX_DATABASE if engine.indexed else LOCAL_DATABASE
    return engine.query(render_plan_query(name, database=database), params)


def _holds_revisions(engine: LocalEngine) -> bool:
    """Whether the archive the engine reads holds any revision (a split's shard may hold none)."""
    return bool(engine.query(f"SELECT 1 AS found FROM {LOCAL_DATABASE}.revisions LIMIT 1").num_rows)


def _ask(engine: LocalEngine) -> Ask:
    """The plan queries on the local engine (`restore.survey.Ask`)."""
    return lambda name, params: _query(engine, name, params)


def resolve_block_cut(engine: LocalEngine, options: RestoreOptions, now: dt.datetime) -> int:
    """The last block to restore: --as-of-block, --as-of-time (or the settle window), or none."""
    moments = [options.as_of_time] if options.as_of_time is not None else []
    if options.incremental and options.settle is not None:
        moments.append(now - options.settle)
    return block_cut_for(_ask(engine), as_of_block=options.as_of_block, moments=moments)


def build_plan(
    engine: LocalEngine,
    target: Target,
    options: RestoreOptions,
    *,
    start_after: int,
    block_cut: int,
    missing: Sequence[Gap] | None = None,
) -> tuple[RestorePlan, dict[str, TableNames]]:
    """Plan the restore on the local engine: counts, conflicts, gaps, chunks, names and DDL.

    `missing`: the missing revisions a split found over the whole archive (`restore.split`),
    instead of checking this shard's block summaries, which list every shard's revisions.

    Raises:
        RestoreError: an unknown table was selected, or the archive mixes ledgers.
        IdentifierError: a table name the target cannot hold.
    """
    if target.capabilities.whole_journal and (options.tables or options.shard != (1, 1)):
        raise RestoreError(
            f"the {target.capabilities.engine} ledger target keeps the whole journal (every block and "
            "revision, so its hashes and chain verify): restore it without --table and --shard"
        )
    ledgers = _rows(engine.query(f"SELECT DISTINCT ledger FROM {LOCAL_DATABASE}.revisions"))
    if len(ledgers) > 1:
        found = ", ".join(sorted(str(r["ledger"]) for r in ledgers))
        raise RestoreError(
            f"the archive holds several ledgers ({found}); restore one archive prefix per ledger"
        )
    selection = list(options.tables)
    found_out = survey(_ask(engine), block_cut=block_cut, selection=selection, missing=missing)
    names = table_names(
        [t.table_name for t in found_out.tables], target.capabilities.identifiers, options.table_map
    )
    chunks = tuple(
        Chunk(int(r["first_block"]), int(r["last_block"]), int(r["revisions"]))
        for r in _rows(
            _query(
                engine,
                "plan_chunks",
                [options.chunk_revisions, start_after, block_cut, selection, selection],
            )
        )
    )
    plan = RestorePlan(
        tables=found_out.tables,
        block_cut=block_cut,
        gaps=keep_gaps(found_out.gaps, tables=selection, shard=options.shard),
        conflicts=found_out.conflicts,
        chunks=chunks,
        start_after=start_after,
        ddl=tuple(target.ddl([names[t.table_name] for t in found_out.tables], history=options.history)),
    )
    return plan, names


def read_document_ranges(
    engine: LocalEngine, plan: RestorePlan, options: RestoreOptions, *, memory: str
) -> list[DocumentRange]:
    """The plan's documents in ranges of `RestoreOptions.range_revisions` revisions.

    By default as many as sort within `memory`, for the archive's average JSON length (one
    pass over that column: 0.08 s at 1M revisions; `range_revisions`), when the archive is a
    folder here. An archive on S3 is one range by default: each range reads the archive again,
    which from S3 is a download, so there the engine sorts it all at once, spilling to disk.
    """
    size = options.range_revisions
    if size is None and not engine.local_archive:
        return [DocumentRange("", None)]
    if size is None:
        average = engine.query(
            f"SELECT avg(length(r.data_json)) AS chars FROM {LOCAL_DATABASE}.revisions AS r"
        ).column("chars")[0]
        size = range_revisions(memory_limit_bytes(memory), json_chars=average.as_py() or 0.0)
    selection = list(options.tables)
    rows = _rows(_query(engine, "plan_document_ranges", [size, plan.block_cut, selection, selection]))
    return document_ranges([str(r["first_doc"]) for r in rows])


def revision_rows(table: pa.Table | pa.RecordBatch, shard: tuple[int, int]) -> list[RevisionRow]:
    """Rows of `plan_revisions`' columns as RevisionRows, this shard's only, content hashes computed."""
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    rows: list[RevisionRow] = []
    for i in range(table.num_rows):
        doc_id = columns["doc_id"][i]
        if not in_shard(doc_id, shard):
            continue
        data_json = columns["data_json"][i]
        rows.append(
            RevisionRow(
                table_name=columns["table_name"][i],
                doc_id=doc_id,
                version=columns["version"][i],
                block_seq=columns["block_seq"][i],
                tx_id=columns["tx_id"][i],
                tx_time=columns["tx_time"][i],
                revision_hash=columns["revision_hash"][i],
                data_hash=columns["data_hash"][i],
                is_deleted=columns["is_deleted"][i],
                is_redacted=columns["is_redacted"][i],
                data_json=data_json,
                content_hash=content_hash(data_json),
            )
        )
    return rows


def read_chunk(
    engine: LocalEngine, chunk: Chunk, options: RestoreOptions, *, revision_ion: bool = False
) -> tuple[list[RevisionRow], int]:
    """The chunk's revisions in block order (this shard only), and how many were read in all.

    With `revision_ion`, each row also gets its revision's lossless Ion text (ledger targets).
    """
    selection = list(options.tables)
    table = _query(engine, "plan_revisions", [chunk.first_block, chunk.last_block, selection, selection])
    rows = revision_rows(table, options.shard)
    if revision_ion:
        rows = add_revision_ion(engine, rows, chunk)
    return rows, table.num_rows


def _chunk_batches(
    engine: LocalEngine, plan: RestorePlan, options: RestoreOptions, target: Target, start_after: int
) -> Iterator[tuple[list[RevisionBatch], int, int]]:
    """Per chunk: its batches, its last block and how many rows were read.

    For a target that keeps blocks, each batch carries its blocks, and the blocks after the last
    revision up to the cut come last, as a batch of their own (`restore.ledger_archive`).
    """
    caps = target.capabilities
    previous = start_after
    for chunk in plan.chunks:
        rows, read = read_chunk(engine, chunk, options, revision_ion=caps.revision_ion)
        batches = list(split_batches(rows, options.batch_revisions))
        if caps.blocks:
            batches = attach_blocks(batches, read_blocks(engine, after=previous, last=chunk.last_block))
        yield batches, chunk.last_block, read
        previous = chunk.last_block
    if caps.blocks:
        tail = attach_blocks((), read_blocks(engine, after=previous, last=plan.block_cut))
        if tail:
            yield tail, tail[-1].last_block_seq, 0


def _document_order_batches(
    engine: LocalEngine,
    plan: RestorePlan,
    options: RestoreOptions,
    ranges: Sequence[DocumentRange],
    *,
    final_state: bool,
) -> Iterator[tuple[list[RevisionBatch], int, int]]:
    """A first restore's batches in document order, streamed; as `_chunk_batches` yields.

    `final_state`: only each document's newest revision (`plan_final_state`: no history is kept,
    so the others change nothing); else every revision (`plan_document_order`). Each batch is
    about `batch_revisions` rows; the block it reports is the plan's last, reached only when
    every batch is applied. One document range (`read_document_ranges`) is read at a time.
    """
    selection = list(options.tables)
    if final_state:
        name, params = "plan_final_state", [plan.block_cut, plan.block_cut, selection, selection]
    else:
        name, params = "plan_document_order", [plan.block_cut, selection, selection]
    sql = render_plan_query(name, database=LOCAL_DATABASE)  # reads data_json: not the index
    last_block = plan.chunks[-1].last_block if plan.chunks else plan.start_after
    for document_range in ranges:
        for record_batch in engine.query_batches(
            sql, [*document_range.params, *params], rows=options.batch_revisions
        ):
            rows = revision_rows(record_batch, options.shard)
            if rows:
                first, last = min(r.block_seq for r in rows), max(r.block_seq for r in rows)
                yield [RevisionBatch(tuple(rows), first, last)], last_block, len(rows)


@dataclass(slots=True)
class DocumentTally:
    """The documents an apply has touched, per QLDB table, for the report.

    In block order a document's revisions come in any chunk, so their ids are kept. In document
    order (`contiguous`) each document's revisions come together, one document after another, so
    a new document is where the doc_id changes and nothing grows with the archive (a set of 249k
    ids at 1M revisions is about 26 MB).

    >>> tally = DocumentTally(contiguous=True)
    >>> tally.add("T", ["a", "a", "b"]); tally.add("T", ["b", "c"]); tally.count("T")
    3
    """

    contiguous: bool
    _seen: dict[str, set[str]] = field(default_factory=dict)
    _last: dict[str, str] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, doc_ids: Iterable[str]) -> None:
        """Count the documents of these revisions of `table` (in the apply's order)."""
        if not self.contiguous:
            self._seen.setdefault(table, set()).update(doc_ids)
            return
        for doc_id in doc_ids:
            if doc_id != self._last.get(table):
                self._last[table] = doc_id
                self._counts[table] = self._counts.get(table, 0) + 1

    def count(self, table: str) -> int:
        """Documents of `table` touched so far."""
        return len(self._seen.get(table, ())) if not self.contiguous else self._counts.get(table, 0)


def first_full_restore(options: RestoreOptions, target: Target, saved: Checkpoint | None) -> bool:
    """True when the restore may apply the archive in document order instead of block order.

    For a first, full restore into a target that keeps no journal: the apply converges whatever
    the order (`restore.batch`), and in document order each table's primary key grows at its
    end; without history, only each document's final state is written, one row per document
    instead of one per revision. Killed midway, it leaves no checkpoint of a finished block, so
    the next run (`--resume` or not) applies every revision in block order, which converges
    from any partial state.
    """
    caps = target.capabilities
    return (
        options.document_order
        and not options.incremental
        and saved is None
        and not (caps.revision_ion or caps.blocks or caps.whole_journal)
    )


def bulk_load_possible(
    options: RestoreOptions, target: Target, saved: Checkpoint | None, *, sliced: bool = False
) -> bool:
    """True when a first, full restore may load the final rows in bulk (`restore.bulk`).

    On a target that can, for the whole archive, or for one shard of a split (`sliced`: its
    objects hold exactly that shard's documents; of the archive itself a shard would have to filter
    rows in Python). The run then loads in bulk only if the tables hold no row yet, of that
    shard's documents for a split's worker (`Target.is_empty`), so nothing is loaded twice.
    """
    return (
        options.bulk_load
        and target.capabilities.bulk_insert
        and (options.shard == (1, 1) or sliced)
        and first_full_restore(options, target, saved)
    )


def choose_method(
    options: RestoreOptions,
    target: Target,
    saved: Checkpoint | None,
    restored: Sequence[TableNames],
    *,
    sliced: bool = False,
) -> str:
    """How the run applies the archive: ``bulk load``, ``final state``, ``document order``, ``block order``.

    A first, full restore loads in bulk where the target can and its tables hold no row yet
    (`bulk_load_possible`; a table not yet created holds none; for a split's worker, no row of its
    shard's documents, so the workers of one split all load in bulk, each its own documents);
    else it applies in document order (`first_full_restore`), only each document's final state
    without history; anything else (a resumed, incremental or sharded run, or a ledger) applies
    in block order.
    """
    if bulk_load_possible(options, target, saved, sliced=sliced) and target.is_empty(
        restored, history=options.history, shard=options.shard
    ):
        return "bulk load"
    if first_full_restore(options, target, saved):
        return "document order" if options.history else "final state"
    return "block order"


def _bulk_restore(
    engine: LocalEngine,
    target: Target,
    plan: RestorePlan,
    names: Mapping[str, TableNames],
    options: RestoreOptions,
    report: RestoreReport,
    progress: ProgressReporter,
    started: float,
) -> RestoreReport:
    """Load every table's final rows in bulk over `bulk_connections`, then the completed checkpoint.

    First a checkpoint saying the run has finished no block: a run killed while loading is
    resumed in block order under the guards (`restore.bulk`).
    """
    identity = options.identity()
    retry = functools.partial(apply_with_retry, max_retries=options.max_retries)
    unfinished = Checkpoint(
        restore_id=options.restore_id, identity=identity, last_block_seq=plan.start_after, completed=False
    )
    restored = [names[t.table_name] for t in plan.tables]
    retry(target, lambda: target.save_checkpoint(unfinished))
    rows = sum(t.documents for t in plan.tables) + (plan.revisions_to_apply if options.history else 0)
    if options.shard == (1, 1) and target.rebuilds_parity_indexes(rows):
        # not for a split's worker: the other workers load into the same tables meanwhile
        # built over the loaded rows at the end, not kept up row by row; a run killed before then
        # gets them back from ensure_schema when it is resumed
        target.drop_parity_indexes(restored, history=options.history)
    ranges = read_document_ranges(engine, plan, options, memory=options.bulk_memory)
    engine.drop_index()  # planned: its memory goes to sorting the rows to load (at bulk_memory)
    progress.start("restore", total=plan.revisions_to_apply, unit="revisions")
    try:
        with ExitStack() as connections:
            loaders = [target] + [
                connections.enter_context(open_target(target.url))
                for _ in range(options.bulk_connections - 1)
            ]
            report.batches, report.retries = load_slices(
                loaders,
                bulk_batches(
                    engine,
                    block_cut=plan.block_cut,
                    ranges=ranges,
                    tables=options.tables,
                    history=options.history,
                    rows=options.batch_revisions,
                    database=LOCAL_DATABASE,  # reads data_json: not the index
                ),
                names,
                retry=retry,
                on_loaded=lambda parts: progress.advance(sum(p.revisions for p in parts)),
            )
            # the parity indexes, over every row, where they were dropped; on every connection
            sizes = {t.table_name: t.revisions for t in plan.tables}
            ensure_schema_over(loaders, restored, sizes, history=options.history, retry=retry)
        last_block = plan.chunks[-1].last_block if plan.chunks else plan.start_after
        final = Checkpoint(
            restore_id=options.restore_id, identity=identity, last_block_seq=last_block, completed=True
        )
        retry(target, lambda: target.save_checkpoint(final))
        report.completed = True
        report.last_block = last_block
        report.take_planned_counts(documents=True)
    finally:
        progress.finish()
        report.elapsed_seconds = time.perf_counter() - started
    return report


def plan_typed_columns(
    engine: LocalEngine, target: Target, tables: Sequence[str]
) -> dict[str, tuple[list[TypedColumn], list[SkippedField]]]:
    """Per QLDB table, the typed columns its current table gets and the fields that get none.

    Inferred from the archive's current documents, as the typed views are.
    """
    return {
        table: typed_columns_for(
            infer_table_columns(engine, table), target.capabilities.identifiers, target.capabilities.engine
        )
        for table in tables
    }


def apply_with_retry(
    target: Target,
    apply: Callable[[], None],
    *,
    max_retries: int,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run `apply` (one transaction), retrying transient errors with jittered exponential backoff.

    Returns:
        How many retries it took.

    Raises:
        TransientTargetError: still failing after `max_retries` attempts.
        TerminalTargetError: at once.
    """
    attempt = 0
    while True:
        try:
            apply()
            return attempt
        except TransientTargetError as exc:
            attempt += 1
            if attempt >= max_retries:
                raise
            delay = min(30.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            logger.warning("transient error, retrying", extra={"attempt": attempt, "reason": str(exc)})
            sleep(delay)
            try:
                target.reconnect()
            except TransientTargetError:
                continue


def run_restore(
    archive: str | Path,
    target_url: str,
    options: RestoreOptions,
    *,
    endpoint_url: str | None = None,
    progress: ProgressReporter = NULL_PROGRESS,
    now: dt.datetime | None = None,
) -> RestoreReport:
    """Restore `archive` into the target at `target_url` (see the module docstring).

    Raises:
        ConflictError, GapError: the plan is refused (nothing was written).
        CheckpointError: the target's checkpoint does not fit this run.
        IdentifierError, UnsupportedTargetError, RestoreError: unusable input.
        TargetError: the apply failed; the checkpoint names the last block applied.
    """
    started = time.perf_counter()
    moment = now if now is not None else dt.datetime.now(dt.UTC)
    identity = options.identity()
    split = read_split(str(archive), endpoint_url=endpoint_url)
    if split is None:
        opened = LocalEngine.open(archive, endpoint_url=endpoint_url, memory_limit=options.engine_memory)
    else:  # one shard of a split: only its objects are read
        opened = open_shard(
            str(archive), split, options.shard, endpoint_url=endpoint_url, memory_limit=options.engine_memory
        )
    with opened as engine, open_target(target_url) as target:
        saved = target.read_checkpoint(options.restore_id)
        may_bulk_load = bulk_load_possible(options, target, saved, sliced=split is not None)
        if may_bulk_load:
            engine.set_memory_limit(options.bulk_memory)  # a bulk load peaks there anyway: plan with it too
        engine.index_history()
        if split is None and not _holds_revisions(engine):  # a wrong path, or an unfinished split
            raise RestoreError(why_empty(str(archive), endpoint_url=endpoint_url))
        start_after = resume_point(saved, identity, resume=options.resume, incremental=options.incremental)
        block_cut = resolve_block_cut(engine, options, moment)
        missing = None if split is None else split.gaps
        plan, names = build_plan(
            engine, target, options, start_after=start_after, block_cut=block_cut, missing=missing
        )
        refused = refusal(plan, allow_gaps=options.allow_gaps, dry_run=options.dry_run)
        report = RestoreReport(
            archive=redact_url(str(archive)),
            target=redact_url(target_url),
            engine=target.capabilities.engine,
            dry_run=options.dry_run,
            shard=format_shard(options.shard),
            block_cut=None if block_cut == NO_BLOCK_CUT else block_cut,
            started_after_block=start_after,
            last_block=start_after,
            completed=False,
            gaps=list(plan.gaps),
            plan=plan,
            refused=refused,
        )
        per_table = {
            t.table_name: TableReport(
                t.table_name, names[t.table_name].current, duplicates_skipped=t.duplicate_copies
            )
            for t in plan.tables
        }
        report.tables = list(per_table.values())
        for gap in plan.gaps:
            if gap.table_name in per_table:
                per_table[gap.table_name].gaps += 1
        typed = (
            plan_typed_columns(engine, target, [t.table_name for t in plan.tables]) if options.typed else {}
        )
        for table, (columns, skipped) in typed.items():
            per_table[table].typed_columns = [c.column for c in columns]
            per_table[table].typed_skipped = [f"{f.field!r}: {f.reason}" for f in skipped]
            if options.dry_run:
                report.typed_ddl += target.typed_column_ddl(names[table], columns)
        restored = [names[t.table_name] for t in plan.tables]
        if options.dry_run:
            report.method = choose_method(options, target, saved, restored, sliced=split is not None)
            report.take_planned_counts(documents=True)
            report.elapsed_seconds = time.perf_counter() - started
            return report
        # retried: workers of one split (or --shard) start together and create the same tables
        apply_with_retry(
            target,
            lambda: target.ensure_schema(restored, history=options.history),
            max_retries=options.max_retries,
        )
        for table, (columns, _) in typed.items():
            target.add_typed_columns(names[table], columns)
        report.method = choose_method(options, target, saved, restored, sliced=split is not None)
        bulk = report.method == "bulk load"
        final_state = report.method == "final state"
        document_order = final_state or report.method == "document order"
        documents = DocumentTally(contiguous=document_order)
        if bulk:
            return _bulk_restore(engine, target, plan, names, options, report, progress, started)
        if document_order:
            ranges = read_document_ranges(engine, plan, options, memory=options.engine_memory)
            engine.drop_index()  # planned: its memory goes to sorting each range
            steps = _document_order_batches(engine, plan, options, ranges, final_state=final_state)
            total = sum(t.documents for t in plan.tables) if final_state else plan.revisions_to_apply
            progress.start("restore", total=total, unit="documents" if final_state else "revisions")
        else:
            steps = _chunk_batches(engine, plan, options, target, start_after)
            progress.start("restore", total=plan.revisions_to_apply, unit="revisions")
        last_block = start_after
        try:
            for batches, chunk_last, read in steps:
                for batch in batches:
                    checkpoint = Checkpoint(
                        restore_id=options.restore_id,
                        identity=identity,
                        # document order: no block is applied in full before the end
                        last_block_seq=start_after if document_order else batch.last_block_seq,
                        completed=False,
                    )
                    report.retries += apply_with_retry(
                        target,
                        lambda b=batch, c=checkpoint: target.apply(b, names, c, history=options.history),  # type: ignore[misc]
                        max_retries=options.max_retries,
                    )
                    report.batches += 1
                    report.revisions_applied += len(batch.rows)
                    for table, effects in batch_effects(batch.rows).items():
                        entry = per_table[table]
                        entry.revisions += len(effects.history)
                        entry.deletes += sum(1 for r in effects.history if r.is_deleted)
                        entry.redactions += sum(1 for r in effects.history if r.is_redacted)
                        documents.add(table, (r.doc_id for r in effects.history))
                last_block = chunk_last
                report.last_block = last_block
                progress.advance(read)
            final = Checkpoint(
                restore_id=options.restore_id, identity=identity, last_block_seq=last_block, completed=True
            )
            apply_with_retry(target, lambda: target.save_checkpoint(final), max_retries=options.max_retries)
            report.completed = True
            if target.capabilities.data_hash_check:
                report.data_hashes = target.compare_data_hashes(
                    names, read_expected_data(engine, block_cut=block_cut)
                )
        finally:
            progress.finish()
            for table, entry in per_table.items():
                entry.documents = documents.count(table)
            if final_state and report.completed:  # what the state reflects: every revision, as planned
                report.take_planned_counts(documents=False)
            report.elapsed_seconds = time.perf_counter() - started
        return report

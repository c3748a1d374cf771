"""Parity: prove a database equals the archive's user view, moving checksums, not documents.

Three levels per QLDB table, each run on both sides in their own SQL (DuckDB or Athena on the
archive, the target's engine on the database):

1. counts per table;
2. checksums per hash bucket of doc_id: 256 buckets, then 64 sub-buckets inside each bucket
   that differs. A bucket's checksum is the count and two 32-bit sums of MD5("doc_id|version|
   content_hash") over its documents;
3. rows, only in the sub-buckets that still differ: (doc_id, version, content_hash), classified
   as missing, extra, stale version, content differs, or newer in the target.

So rows moved grow with the number of differences, not with the table. When the target has a
history table for a QLDB table (restored with ``--history``), its revisions are compared with
the archive's ``history`` view the same way: a bucket's checksum then covers "doc_id|version|
revision_hash|content_hash" of every revision, and the rows of differing buckets name each
missing, extra or differing revision (doc_id and version). The content hash is
SHA-256 of the archive's JSON text of the document (`restore.content`); the restore and live
replication store it beside the data. A change made to a target's ``data`` column directly,
without its hash, is invisible to the checksums: ``deep`` mode reads every document on both
sides and compares their canonical JSON (key order and white space are not differences).

The archive side answers every level from a compact index computed once per run
(`restore.parity_index`: the views over slim revision rows, hashes kept as integers), which a
cache (`restore.parity_cache`, ``--cache``) keeps between runs so that a run reads only the
archive objects added since the last one; the report says whether it was cold or warm. On the
target, MySQL and PostgreSQL tables restored now carry the hashes as STORED generated columns
(`restore.parity_columns`), so its first level sums integers; other tables are hashed at query time.

Libraries considered: reladiff / data-diff do bucketed checksums between two databases, but
neither reads DuckDB over Parquet or Athena, and their hashing is theirs (MD5 of a concatenation
of columns cast their way), so the archive side could not be Athena SQL; datacompy compares
DataFrames in memory, which is the full comparison we avoid. The algorithm is ~150 lines here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from athena.local import LOCAL_DATABASE, LocalEngine, revision_objects
from journal.progress import NULL_PROGRESS, ProgressReporter
from journal.urls import redact_url
from restore.content import canonical_json
from restore.errors import IdentifierError, RestoreError, TargetError
from restore.identifiers import TableNames, table_names
from restore.parity_cache import CacheOutcome, prepare_archive_index
from restore.parity_columns import PARITY_COLUMNS, current_row_key, history_row_key
from restore.parity_index import INDEX_SCHEMA, ensure_history_index
from restore.plan import vars_of
from restore.plan_sql import render_plan_query
from restore.split import read_split
from restore.targets import Target, open_target

__all__ = [
    "LEVEL1_WIDTH",
    "LEVEL2_WIDTH",
    "Difference",
    "DifferenceKind",
    "ParityReport",
    "TableParity",
    "compare_history",
    "check_parity",
    "classify_rows",
    "differing_buckets",
]

ARCHIVE_SIDE_SCHEMA: Final = INDEX_SCHEMA
"""Where the archive side's parity indexes are (`restore.parity_index`)."""
PARITY_ENGINE_MEMORY: Final = "512MB"
"""The local engine's memory limit during a parity check: DuckDB spills past it."""

LEVEL1_WIDTH: Final = 1 << 24
"""Bucket width over the 32-bit document hash: 256 buckets."""
LEVEL2_WIDTH: Final = 1 << 18
"""Sub-bucket width: 64 sub-buckets per bucket, 16,384 in all (~15 documents each at 250k)."""

DifferenceKind = Literal["missing", "extra", "stale_version", "content_differs", "newer_in_target"]
KINDS: Final[tuple[DifferenceKind, ...]] = (
    "missing",
    "extra",
    "stale_version",
    "content_differs",
    "newer_in_target",
)

BucketSums = dict[int, tuple[int, int, int]]
RowVersions = dict[str, tuple[int, str | None]]


@dataclass(frozen=True, slots=True)
class Difference:
    """One document that differs.

    Attributes:
        kind: missing (in the archive, not the target), extra (in the target only),
            stale_version (the target has an older version), content_differs (same version,
            other content), newer_in_target (the target is ahead of the archive, e.g. live
            replication of records not yet archived).
        table_name: the QLDB table.
        doc_id: the document.
        archive_version: its version in the archive's user view, if there.
        target_version: its version in the target, if there.
    """

    kind: DifferenceKind
    table_name: str
    doc_id: str
    archive_version: int | None
    target_version: int | None


@dataclass(slots=True)
class TableParity:
    """The result for one QLDB table."""

    table_name: str
    target_table: str
    archive_documents: int = 0
    target_documents: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    differences: list[Difference] = field(default_factory=list)
    rows_moved: int = 0
    buckets_differing: int = 0
    history: TableParity | None = None

    @property
    def equal(self) -> bool:
        """No difference of any kind, in the current table or (when checked) the history table."""
        return not any(self.counts.values()) and (self.history is None or self.history.equal)

    def to_json(self, max_ids: int) -> dict[str, Any]:
        """JSON-ready, with up to `max_ids` differences."""
        return {
            "table_name": self.table_name,
            "target_table": self.target_table,
            "archive_documents": self.archive_documents,
            "target_documents": self.target_documents,
            "equal": self.equal,
            "counts": self.counts,
            "differences": [vars_of(d) for d in self.differences[:max_ids]],
            "differences_omitted": max(0, len(self.differences) - max_ids),
            "rows_moved": self.rows_moved,
            "history": None if self.history is None else self.history.to_json(max_ids),
        }


@dataclass(slots=True, kw_only=True)
class ParityReport:
    """Parity of one target against the archive."""

    archive: str
    target: str
    deep: bool
    max_ids: int
    tables: list[TableParity] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    cache: CacheOutcome = field(default_factory=lambda: CacheOutcome("off"))

    @property
    def equal(self) -> bool:
        """Every table equal."""
        return all(t.equal for t in self.tables)

    @property
    def rows_moved(self) -> int:
        """Rows read from both sides (bucket sums and document rows), history included."""
        return sum(t.rows_moved + (t.history.rows_moved if t.history else 0) for t in self.tables)

    @property
    def differences(self) -> int:
        """Differing documents (current tables) and revisions (history tables), every kind."""
        return sum(
            sum(t.counts.values()) + (sum(t.history.counts.values()) if t.history else 0) for t in self.tables
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: per table the counts per kind and up to `max_ids` differences."""
        return {
            "archive": self.archive,
            "target": self.target,
            "equal": self.equal,
            "deep": self.deep,
            "differences": self.differences,
            "rows_moved": self.rows_moved,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "cache": vars_of(self.cache),
            "tables": [t.to_json(self.max_ids) for t in self.tables],
        }

    def summary_lines(self) -> list[str]:
        """A short human summary."""
        verdict = "EQUAL" if self.equal else f"DIFFERENT ({self.differences:,} documents or revisions)"
        mode = "deep" if self.deep else "checksums"
        lines = [
            f"{verdict}: {self.target} vs archive {self.archive} ({mode}, {self.rows_moved:,} rows moved, "
            f"{self.elapsed_seconds:.1f} s, {self.cache.summary()})"
        ]
        for t in self.tables:
            lines += self._table_lines(t, f"  {t.table_name} -> {t.target_table}", "documents")
            if t.history is not None:
                lines += self._table_lines(t.history, f"    history -> {t.history.target_table}", "revisions")
        return lines

    def _table_lines(self, t: TableParity, title: str, unit: str) -> list[str]:
        kinds = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in t.counts.items() if n) or "equal"
        lines = [f"{title}: archive {t.archive_documents:,}, target {t.target_documents:,} {unit}: {kinds}"]
        for d in t.differences[: min(5, self.max_ids)]:
            lines.append(
                f"    {d.kind.replace('_', ' ')}: {d.doc_id} (archive v{d.archive_version}, "
                f"target v{d.target_version})"
            )
        if len(t.differences) > 5:
            lines.append(f"    ... and {len(t.differences) - 5:,} more (--json lists up to {self.max_ids})")
        return lines


def differing_buckets(archive: BucketSums, target: BucketSums) -> list[int]:
    """Buckets whose count or checksums differ, or that one side lacks.

    >>> differing_buckets({1: (2, 3, 4), 2: (1, 1, 1)}, {1: (2, 3, 4), 3: (1, 1, 1)})
    [2, 3]
    """
    return sorted(b for b in archive.keys() | target.keys() if archive.get(b) != target.get(b))


def classify_rows(table: str, archive: RowVersions, target: RowVersions) -> list[Difference]:
    """Compare (version, content_hash) per document; one Difference per document that differs.

    >>> classify_rows("T", {"a": (1, "h"), "b": (2, "x")}, {"b": (1, "x"), "c": (0, "y")})
    ... # doctest: +NORMALIZE_WHITESPACE
    [Difference(kind='missing', table_name='T', doc_id='a', archive_version=1, target_version=None),
     Difference(kind='stale_version', table_name='T', doc_id='b', archive_version=2, target_version=1),
     Difference(kind='extra', table_name='T', doc_id='c', archive_version=None, target_version=0)]
    """
    found: list[Difference] = []
    for doc_id in sorted(archive.keys() | target.keys()):
        a, t = archive.get(doc_id), target.get(doc_id)
        if a == t:
            continue
        if t is None:
            found.append(Difference("missing", table, doc_id, a[0] if a else None, None))
        elif a is None:
            found.append(Difference("extra", table, doc_id, None, t[0]))
        elif t[0] < a[0]:
            found.append(Difference("stale_version", table, doc_id, a[0], t[0]))
        elif t[0] > a[0]:
            found.append(Difference("newer_in_target", table, doc_id, a[0], t[0]))
        else:
            found.append(Difference("content_differs", table, doc_id, a[0], t[0]))
    return found


class Side(Protocol):
    """One side of the comparison: the archive or the target."""

    def count(self, table: str) -> int:
        """Documents of `table`."""

    def buckets(self, table: str, width: int, parents: Sequence[int], parent_width: int) -> BucketSums:
        """Per bucket of `width`: count and checksums, only inside `parents` (all when empty)."""

    def rows(self, table: str, width: int, buckets: Sequence[int]) -> RowVersions:
        """(version, content_hash) per document in the listed buckets."""

    def documents(self, table: str) -> Iterator[tuple[str, int, Any]]:
        """Every (doc_id, version, parsed data) of `table` (deep mode)."""


class ArchiveSide:
    """The archive's user view on the local engine, from its parity index (`restore.parity_index`)."""

    prefix: str = "parity_"

    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine
        counts = self._q(f"{self.prefix}counts", [])
        self.counts = {r["table_name"]: int(r["documents"]) for r in counts}
        self.level1: dict[str, BucketSums] = {}

    def prefetch(self, tables: Sequence[str]) -> None:
        """Level-1 sums of `tables` now, while the target is still computing its own."""
        for table in tables:
            self.level1[table] = self.buckets(table, LEVEL1_WIDTH, (), 0)

    def _q(self, name: str, params: Sequence[object]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.engine.query(
            render_plan_query(name, database=ARCHIVE_SIDE_SCHEMA), params
        ).to_pylist()
        return rows

    def count(self, table: str) -> int:
        """Documents of `table` in the user view."""
        return self.counts.get(table, 0)

    def buckets(self, table: str, width: int, parents: Sequence[int], parent_width: int) -> BucketSums:
        """Bucket sums from `parity_buckets` (level 1: prefetched, if it was)."""
        if width == LEVEL1_WIDTH and not parents and table in self.level1:
            return self.level1[table]
        ps = list(parents)
        rows = self._q(f"{self.prefix}buckets", [width, parent_width or width, table, ps, ps])
        return {int(r["bucket"]): (int(r["n"]), int(r["s1"]), int(r["s2"])) for r in rows}

    def rows(self, table: str, width: int, buckets: Sequence[int]) -> RowVersions:
        """Rows from `parity_rows`."""
        rows = self._q(f"{self.prefix}rows", [table, list(buckets), width])
        return {r["doc_id"]: (int(r["version"]), r["content_hash"]) for r in rows}

    def documents(self, table: str) -> Iterator[tuple[str, int, Any]]:
        """Every document with its data, parsed: from the view itself (deep mode needs the JSON)."""
        sql = render_plan_query("parity_documents", database=LOCAL_DATABASE)
        for r in self.engine.query(sql, [table]).to_pylist():
            data = r["data_json"]
            yield r["doc_id"], int(r["version"]), None if data is None else json.loads(data)


class HistoryArchiveSide(ArchiveSide):
    """The archive's de-duplicated history: one row per revision, keyed ``doc_id#version``."""

    prefix = "parity_history_"

    def __init__(self, engine: LocalEngine) -> None:
        ensure_history_index(engine)
        super().__init__(engine)

    def rows(self, table: str, width: int, buckets: Sequence[int]) -> RowVersions:
        """Rows from `parity_history_rows`: (version, "revision_hash|content_hash") per revision."""
        rows = self._q(f"{self.prefix}rows", [table, list(buckets), width])
        return {
            revision_key(r["doc_id"], int(r["version"])): (
                int(r["version"]),
                f"{r['revision_hash']}|{r['content_hash'] or ''}",
            )
            for r in rows
        }

    def documents(self, table: str) -> Iterator[tuple[str, int, Any]]:
        """None: the deep mode compares the current tables only."""
        return iter(())


def revision_key(doc_id: str, version: int) -> str:
    """The key of one revision in a history comparison (`split_revision_key` reads it back).

    >>> split_revision_key(revision_key("a#b", 3))
    ('a#b', 3)
    """
    return f"{doc_id}#{version}"


def split_revision_key(key: str) -> tuple[str, int]:
    """The (doc_id, version) of a `revision_key`."""
    doc_id, _, version = key.rpartition("#")
    return doc_id, int(version)


class TargetSide:
    """A target database, with the same checksums in its engine's SQL.

    A table with parity's stored checksum columns (`restore.parity_columns`) is summed from
    them; one without (restored by an older version, or written by another program) is hashed
    at query time, with the same expressions.
    """

    def __init__(self, target: Target, names: Mapping[str, TableNames]) -> None:
        self.target, self.names = target, names
        self.dialect = target.capabilities.dialect
        self.quote = target.capabilities.quote
        self._stored: dict[str, bool] = {}

    def _table(self, table: str) -> str:
        return self.quote(self.names[table].current)

    def _hash(self, column_sql: str) -> str:
        return self.dialect.md5_int32(column_sql, 1)

    def _row_key(self) -> str:
        return current_row_key(self.dialect)

    def has_stored_columns(self, table: str) -> bool:
        """Whether the target table has the stored checksum columns (asked once per table)."""
        quoted = self._table(table)
        if quoted not in self._stored:
            found = self.dialect.stored_int32 is not None or self.dialect.written_checksums
            if found:
                try:
                    self.target.query(f"SELECT {', '.join(PARITY_COLUMNS)} FROM {quoted} WHERE 1 = 0", ())
                except TargetError:  # no such columns (or no table: count says so)
                    found = False
            self._stored[quoted] = found
        return self._stored[quoted]

    def _checksum(self, column: str) -> str:
        """SQL for one stored checksum column: itself, or COALESCE with the value computed from the row.

        Where the restore writes the columns (SQLite), a direct change of a row's key clears them
        (`restore.targets.sqlite`), and that row's hashes are computed from its columns.
        """
        if not self.dialect.written_checksums:
            return column
        key = self._row_key()
        computed = {
            "parity_doc_hash": self._hash("doc_id"),
            "parity_h1": self.dialect.md5_int32(key, 1),
            "parity_h2": self.dialect.md5_int32(key, 9),
        }[column]
        return f"COALESCE({column}, {computed})"

    def _in_buckets(self, table: str, width: int, buckets: Sequence[int]) -> str:
        """SQL true for the rows of the listed buckets of `width` (integer literals, never markers)."""
        if self.has_stored_columns(table):  # ranges: an index on parity_doc_hash could serve them
            doc_hash = self._checksum("parity_doc_hash")
            return " OR ".join(
                f"({doc_hash} >= {int(b) * width} AND {doc_hash} < {(int(b) + 1) * width})" for b in buckets
            )
        listed = ", ".join(str(int(b)) for b in buckets)
        return f"{self.dialect.int_div(self._hash('doc_id'), width)} IN ({listed})"

    def count(self, table: str) -> int:
        """Rows of the current table."""
        rows = self.target.query(f"SELECT COUNT(*) FROM {self._table(table)}", ())
        return int(rows[0][0])

    def buckets(self, table: str, width: int, parents: Sequence[int], parent_width: int) -> BucketSums:
        """Bucket sums computed by the target."""
        d = self.dialect
        # bucket numbers are integers computed here, inlined as literals: no parameter markers, so
        # a '%' in a quoted table name can never be taken for one (PyMySQL and psycopg format '%s')
        if self.has_stored_columns(table):  # integers only: no MD5 at query time
            where = f"WHERE {self._in_buckets(table, parent_width or width, parents)}" if parents else ""
            sql = (
                f"SELECT {d.int_div(self._checksum('parity_doc_hash'), width)} AS bucket, COUNT(*), "
                f"SUM({self._checksum('parity_h1')}), SUM({self._checksum('parity_h2')}) "
                f"FROM {self._table(table)} {where} GROUP BY bucket"
            )
        elif not parents and d.md5_digest is not None and d.digest_int32 is not None:
            # every row: its row key's MD5 computed once, both halves read from it
            digest = d.md5_digest(self._row_key())
            sql = (
                f"SELECT bucket, COUNT(*), SUM({d.digest_int32('m', 1)}), SUM({d.digest_int32('m', 9)}) "
                f"FROM (SELECT {d.int_div(self._hash('doc_id'), width)} AS bucket, "
                f"{digest} AS m FROM {self._table(table)} {d.no_merge}) k GROUP BY bucket"
            )
        else:  # a few buckets: the row keys' MD5 only for their rows
            row_key = self._row_key()
            where = f"WHERE parent IN ({', '.join(str(int(p)) for p in parents)})" if parents else ""
            sql = (
                f"SELECT bucket, COUNT(*), SUM(h1), SUM(h2) FROM (SELECT "
                f"{d.int_div(self._hash('doc_id'), width)} AS bucket, "
                f"{d.int_div(self._hash('doc_id'), parent_width or width)} AS parent, "
                f"{d.md5_int32(row_key, 1)} AS h1, {d.md5_int32(row_key, 9)} AS h2 "
                f"FROM {self._table(table)}) k {where} GROUP BY bucket"
            )
        return {int(b): (int(n), int(s1), int(s2)) for b, n, s1, s2 in self.target.query(sql, ())}

    def rows(self, table: str, width: int, buckets: Sequence[int]) -> RowVersions:
        """Rows of the listed buckets."""
        if not buckets:
            return {}
        sql = (
            f"SELECT doc_id, version, content_hash FROM {self._table(table)} "
            f"WHERE {self._in_buckets(table, width, buckets)}"
        )
        return {r[0]: (int(r[1]), r[2]) for r in self.target.query(sql, ())}

    def documents(self, table: str) -> Iterator[tuple[str, int, Any]]:
        """Every row with its data, parsed."""
        for row in self.target.fetch_current(self.names[table]):
            yield row.doc_id, row.version, row.data


class HistoryTargetSide(TargetSide):
    """A target's history tables, with the checksums of `HistoryArchiveSide`."""

    def _table(self, table: str) -> str:
        return self.quote(self.names[table].history)

    def _row_key(self) -> str:
        return history_row_key(self.dialect)

    def rows(self, table: str, width: int, buckets: Sequence[int]) -> RowVersions:
        """Rows of the listed buckets: (version, "revision_hash|content_hash") per revision."""
        if not buckets:
            return {}
        sql = (
            f"SELECT doc_id, version, revision_hash, content_hash FROM {self._table(table)} "
            f"WHERE {self._in_buckets(table, width, buckets)}"
        )
        return {
            revision_key(r[0], int(r[1])): (int(r[1]), f"{r[2]}|{r[3] or ''}")
            for r in self.target.query(sql, ())
        }

    def documents(self, table: str) -> Iterator[tuple[str, int, Any]]:
        """None: the deep mode compares the current tables only."""
        return iter(())


def compare_history(table: str, archive: Side, target: Side) -> TableParity:
    """Compare one QLDB table's revisions; differences name each revision's doc_id and version."""
    result = compare_table(table, archive, target, deep=False)
    named = []
    for d in result.differences:
        doc_id, version = split_revision_key(d.doc_id)
        named.append(
            Difference(
                d.kind,
                table,
                doc_id,
                version if d.archive_version is not None else None,
                version if d.target_version is not None else None,
            )
        )
    result.differences = named
    return result


def _canonical_digests(side: Side, table: str) -> dict[str, tuple[int, bytes]]:
    return {
        doc_id: (version, hashlib.sha256(canonical_json(data).encode("utf-8")).digest())
        for doc_id, version, data in side.documents(table)
    }


def compare_table(table: str, archive: Side, target: Side, *, deep: bool) -> TableParity:
    """Compare one QLDB table level by level (see the module docstring)."""
    result = TableParity(table, "")
    with ThreadPoolExecutor(max_workers=2) as pool:  # both sides work at once: the wall time is the slower

        def both(call: str, *args: Any) -> tuple[Any, Any]:
            a = pool.submit(getattr(archive, call), table, *args)
            t = pool.submit(getattr(target, call), table, *args)
            return a.result(), t.result()

        result.archive_documents, result.target_documents = both("count")
        result.rows_moved = 2
        level1 = both("buckets", LEVEL1_WIDTH, (), 0)
        result.rows_moved += len(level1[0]) + len(level1[1])
        differing = differing_buckets(*level1)
        if differing:
            level2 = both("buckets", LEVEL2_WIDTH, differing, LEVEL1_WIDTH)
            result.rows_moved += len(level2[0]) + len(level2[1])
            sub = differing_buckets(*level2)
            result.buckets_differing = len(sub)
            rows = both("rows", LEVEL2_WIDTH, sub)
            result.rows_moved += len(rows[0]) + len(rows[1])
            result.differences = classify_rows(table, *rows)
        if deep:
            a_docs, t_docs = both_digests(pool, archive, target, table)
            result.rows_moved += len(a_docs) + len(t_docs)
            reported = {d.doc_id for d in result.differences}
            for doc_id in sorted(a_docs.keys() & t_docs.keys()):
                same_version = a_docs[doc_id][0] == t_docs[doc_id][0]
                if same_version and a_docs[doc_id][1] != t_docs[doc_id][1] and doc_id not in reported:
                    result.differences.append(
                        Difference("content_differs", table, doc_id, a_docs[doc_id][0], t_docs[doc_id][0])
                    )
    for d in result.differences:
        result.counts[d.kind] += 1
    return result


def both_digests(
    pool: ThreadPoolExecutor, archive: Side, target: Side, table: str
) -> tuple[dict[str, tuple[int, bytes]], dict[str, tuple[int, bytes]]]:
    """Canonical-JSON digests of every document on both sides, computed at once."""
    a = pool.submit(_canonical_digests, archive, table)
    t = pool.submit(_canonical_digests, target, table)
    return a.result(), t.result()


class PrefetchedSide:
    """A target side whose counts and first-level sums were asked for ahead, while the archive works.

    The archive side's index takes seconds to build; the target's first level does not depend
    on it, so `prefetch` runs in a thread meanwhile, for every table the archive may hold. An
    answer is used only for a table whose target names are the ones it was asked with.
    """

    def __init__(self, side: TargetSide) -> None:
        self.side = side
        self.answers: dict[str, tuple[TableNames, int | TargetError, BucketSums | None]] = {}

    def prefetch(self, tables: Sequence[str]) -> None:
        """Count and level-1 sums of each table (a missing table's error is kept, raised when asked)."""
        for table in tables:
            try:
                count = self.side.count(table)
            except TargetError as exc:
                self.answers[table] = (self.side.names[table], exc, None)
                continue
            level1 = self.side.buckets(table, LEVEL1_WIDTH, (), 0)
            self.answers[table] = (self.side.names[table], count, level1)

    def _answer(self, table: str) -> tuple[int | TargetError, BucketSums | None] | None:
        found = self.answers.get(table)
        if found is None or found[0] != self.side.names.get(table):
            return None
        return found[1], found[2]

    def count(self, table: str) -> int:
        """The prefetched count, or the target's."""
        found = self._answer(table)
        if found is None:
            return self.side.count(table)
        if isinstance(found[0], TargetError):
            raise found[0]
        return found[0]

    def buckets(self, table: str, width: int, parents: Sequence[int], parent_width: int) -> BucketSums:
        """The prefetched level-1 sums, or the target's."""
        found = self._answer(table)
        if found is not None and found[1] is not None and width == LEVEL1_WIDTH and not parents:
            return found[1]
        return self.side.buckets(table, width, parents, parent_width)

    def rows(self, table: str, width: int, buckets: Sequence[int]) -> RowVersions:
        """The target's rows."""
        return self.side.rows(table, width, buckets)

    def documents(self, table: str) -> Iterator[tuple[str, int, Any]]:
        """The target's documents."""
        return self.side.documents(table)


def _prefetch_all(sides: Sequence[PrefetchedSide], tables: Sequence[str]) -> None:
    for side in sides:
        side.prefetch(tables)


def _archive_tables(engine: LocalEngine, tables: Sequence[str]) -> list[str]:
    """Every QLDB table the archive's rows name (a superset of the user view's), or `tables`."""
    if tables:
        return list(tables)
    rows = engine.con.sql(f"SELECT DISTINCT table_name FROM {LOCAL_DATABASE}.revisions").fetchall()
    return sorted(str(r[0]) for r in rows if r[0] is not None)


class _MissingTable:
    """A target table that does not exist: every archive document is missing."""

    def count(self, table: str) -> int:
        return 0

    def buckets(self, table: str, width: int, parents: Sequence[int], parent_width: int) -> BucketSums:
        return {}

    def rows(self, table: str, width: int, buckets: Sequence[int]) -> RowVersions:
        return {}

    def documents(self, table: str) -> Iterator[tuple[str, int, Any]]:
        return iter(())


def check_parity(
    archive: str | Path,
    target_url: str,
    *,
    tables: Sequence[str] = (),
    table_map: Mapping[str, str] | None = None,
    deep: bool = False,
    max_ids: int = 100,
    endpoint_url: str | None = None,
    cache: str | None = None,
    rebuild_cache: bool = False,
    rebuild_after_days: float | None = None,
    progress: ProgressReporter = NULL_PROGRESS,
) -> ParityReport:
    """Compare the target's current tables with the archive's user view, and its history.

    A QLDB table's history table, where the target has one, is compared with the archive's
    ``history`` view (`TableParity.history`); without one, only the current table is. With a
    `cache` (a folder or ``s3://`` prefix, `restore.parity_cache`) the archive side reads only
    the objects added since the last run when it can (`ParityReport.cache` says which); it
    reads them all when `rebuild_cache`, or when its last such run is `rebuild_after_days` old.

    Raises:
        IdentifierError, UnsupportedTargetError, RestoreError: unusable input (a split, not an archive).
        TargetError: the database failed.
        StorageError: the archive cannot be listed, or the cache cannot be written.
    """
    started = time.perf_counter()
    report = ParityReport(
        archive=redact_url(str(archive)), target=redact_url(target_url), deep=deep, max_ids=max_ids
    )
    if read_split(str(archive), endpoint_url=endpoint_url) is not None:
        raise RestoreError(
            f"{redact_url(str(archive))} is a restore split (one shard per worker), not an archive: "
            "check parity against the archive the split was made from"
        )
    objects = revision_objects(archive, endpoint_url=endpoint_url)  # the views see exactly these
    with (
        LocalEngine.open(
            archive,
            endpoint_url=endpoint_url,
            memory_limit=PARITY_ENGINE_MEMORY,
            revision_keys=[o.key for o in objects],
        ) as engine,
        open_target(target_url) as target,
        ThreadPoolExecutor(max_workers=1) as ahead,
    ):
        try:
            candidates = _archive_tables(engine, tables)
            early = TargetSide(target, table_names(candidates, target.capabilities.identifiers, table_map))
        except IdentifierError:  # raised again below for a table that matters
            early = TargetSide(target, {})
            candidates = []
        prefetched = PrefetchedSide(early)
        history_prefetched = PrefetchedSide(HistoryTargetSide(target, early.names))
        asked = ahead.submit(_prefetch_all, (prefetched, history_prefetched), candidates)
        report.cache = prepare_archive_index(
            engine,
            objects,
            archive=archive,
            cache=cache,
            endpoint_url=endpoint_url,
            rebuild=rebuild_cache,
            rebuild_after=None if rebuild_after_days is None else dt.timedelta(days=rebuild_after_days),
        )
        archive_side = ArchiveSide(engine)
        selected = sorted(tables or archive_side.counts)
        archive_side.prefetch(selected)
        asked.result()
        names = table_names(selected, target.capabilities.identifiers, table_map)
        prefetched.side.names = history_prefetched.side.names = names
        target_side, history_target = prefetched, history_prefetched
        history_archive: HistoryArchiveSide | None = None
        progress.start("parity", total=len(selected), unit="tables")
        for table in selected:
            side: Side = target_side
            try:
                target_side.count(table)
            except TargetError:
                side = _MissingTable()
            result = compare_table(table, archive_side, side, deep=deep)
            result.target_table = names[table].current
            try:
                history_target.count(table)
            except TargetError:  # no history table: restored without --history
                pass
            else:
                history_archive = history_archive or HistoryArchiveSide(engine)
                result.history = compare_history(table, history_archive, history_target)
                result.history.target_table = names[table].history
            report.tables.append(result)
            progress.advance()
        progress.finish()
    report.elapsed_seconds = time.perf_counter() - started
    return report

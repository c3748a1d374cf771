"""A first full restore into empty tables: each table's final rows, loaded in bulk.

The guarded apply (`restore.batch` and each target's ``apply``) is what lets any subset of the
revisions, in any order, any number of times, converge; it pays for that with a staging table
and an upsert per row. A first restore into empty tables needs none of it: the plan SQL
(``plan_bulk_rows``) has already kept one copy of each revision and marked each document's
newest one, so the rows every table must end with are known. Here they go from the local engine
to the target as Arrow batches, are written as CSV by pyarrow (in C++), and are loaded straight
into the tables (PostgreSQL ``COPY``, MySQL ``LOAD DATA LOCAL INFILE``): no Python object per row.

Safe to kill: before the first slice, `restore.runner` commits a checkpoint saying no block is
finished, and each slice is one transaction (`restore.bulk_load`), so a killed run leaves a
subset of the final rows and that checkpoint, and ``--resume`` applies every revision in block
order under the guards, which converges from any such subset (and puts back the parity indexes
a PostgreSQL load drops while it runs). Chosen only when the tables are empty when the run
starts (`Target.is_empty`), so no row is ever loaded twice.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from restore.identifiers import TOMBSTONE_TABLE, target_tables
from restore.plan_sql import render_plan_query

if TYPE_CHECKING:
    import pyarrow as pa

    from athena.local import LocalEngine
    from restore.identifiers import TableNames
    from restore.plan import DocumentRange

__all__ = [
    "CURRENT_COLUMNS",
    "HISTORY_COLUMNS",
    "TOMBSTONE_COLUMNS",
    "BulkRows",
    "bulk_batches",
    "render_is_empty",
    "shard_filter",
    "slice_loads",
    "split_bulk_rows",
    "to_csv",
]

CURRENT_COLUMNS: Final = ("doc_id", "version", "block_seq", "tx_time", "data", "content_hash")
"""A current table's columns, in the order the CSV carries them."""

HISTORY_COLUMNS: Final = (
    "doc_id",
    "version",
    "block_seq",
    "tx_id",
    "tx_time",
    "is_deleted",
    "is_redacted",
    "revision_hash",
    "data_hash",
    "data",
    "content_hash",
)
"""A history table's columns, in the order the CSV carries them."""

TOMBSTONE_COLUMNS: Final = ("table_name", "doc_id", "version", "block_seq", "tx_time")
"""The tombstone table's columns, in the order the CSV carries them."""


@dataclass(frozen=True, slots=True)
class BulkRows:
    """One slice of one QLDB table's final rows, columns named as the target's tables name them.

    Attributes:
        table_name: the QLDB table.
        current: its current rows (`CURRENT_COLUMNS`): the newest revision of each live or
            redacted document.
        tombstones: its tombstones (`TOMBSTONE_COLUMNS`): the newest revision of each deleted one.
        history: every revision once (`HISTORY_COLUMNS`); None when history is not restored.
        revisions: the revisions this slice stands for (for progress).
    """

    table_name: str
    current: pa.Table
    tombstones: pa.Table
    history: pa.Table | None
    revisions: int

    def loads(self, names: TableNames) -> list[tuple[str, tuple[str, ...], pa.Table]]:
        """Where the rows go: (target table, its columns in CSV order, the rows), none empty."""
        loads = [
            (names.current, CURRENT_COLUMNS, self.current),
            (TOMBSTONE_TABLE, TOMBSTONE_COLUMNS, self.tombstones),
        ]
        if self.history is not None:
            loads.append((names.history, HISTORY_COLUMNS, self.history))
        return [(table, columns, rows) for table, columns, rows in loads if rows.num_rows]

    @property
    def where(self) -> str:
        """Names the slice in messages: its table and first and last document."""
        docs = (self.history if self.history is not None else self.current).column("doc_id")
        if not len(docs):
            docs = self.tombstones.column("doc_id")
        span = f" documents {docs[0]}..{docs[-1]}" if len(docs) else ""
        return f"bulk-loading {self.table_name!r}{span}"


def split_bulk_rows(batch: pa.RecordBatch | pa.Table, *, history: bool) -> list[BulkRows]:
    """Split rows of ``plan_bulk_rows`` by QLDB table into what each target table gets (pure).

    With `history` False the rows are each document's newest revision only (the query was asked
    for those), and every one of them is final.
    """
    import pyarrow as pa  # lazily: the targets import this module in the live Lambda, which has no pyarrow
    import pyarrow.compute as pc

    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    table = table.rename_columns(["data" if c == "data_json" else c for c in table.column_names])
    parts: list[BulkRows] = []
    for name in pc.unique(table.column("table_name")).to_pylist():
        rows = table.filter(pc.equal(table.column("table_name"), name))
        final = rows.column("is_final")
        deleted = rows.column("is_deleted")
        parts.append(
            BulkRows(
                table_name=name,
                current=rows.filter(pc.and_(final, pc.invert(deleted))).select(CURRENT_COLUMNS),
                tombstones=rows.filter(pc.and_(final, deleted)).select(TOMBSTONE_COLUMNS),
                history=rows.select(HISTORY_COLUMNS) if history else None,
                revisions=rows.num_rows,
            )
        )
    return parts


def slice_loads(
    parts: Sequence[BulkRows], names: Mapping[str, TableNames]
) -> Iterator[tuple[str, str, tuple[str, ...], pa.Table]]:
    """What one transaction loads, in order: (the slice it is for, target table, its CSV columns, rows).

    The first item names the slice in messages (`BulkRows.where`): a target's ``load_bulk`` keeps
    the last one it took, so an error names the slice being loaded.
    """
    for part in parts:
        for table, columns, rows in part.loads(names[part.table_name]):
            yield part.where, table, columns, rows


def render_is_empty(
    names: Sequence[TableNames],
    *,
    history: bool,
    quote: Callable[[str], str],
    tombstone_filter: str,
    existing: Collection[str] | None = None,
    row_filter: str | None = None,
) -> str | None:
    r"""One SELECT that is true when any of these tables, or the tombstones of their QLDB tables, has a row.

    `tombstone_filter` is the engine's test of ``table_name`` against the QLDB names (its only
    parameter); table names enter only through `quote`. With `existing`, only the tables named
    there are read (one that does not exist holds no row, as in a dry run before any table is
    created); None when none of them exists. `row_filter`: only rows it holds true of count
    (`shard_filter`: one shard's documents).

    >>> from restore.identifiers import TableNames
    >>> sql = render_is_empty([TableNames("P", "P", "P_history")], history=False, quote=lambda n: f'"{n}"',
    ...     tombstone_filter="table_name = ANY(%s)")
    >>> print(sql.replace(" OR ", "\n OR "))
    SELECT EXISTS (SELECT 1 FROM "P")
     OR EXISTS (SELECT 1 FROM "qldb_restore_tombstones" WHERE table_name = ANY(%s))
    >>> render_is_empty([TableNames("P", "P", "P_history")], history=True, quote=str, tombstone_filter="",
    ...     existing={"P_history"})
    'SELECT EXISTS (SELECT 1 FROM P_history)'
    """
    tables = [t for t in target_tables(names, history=history) if existing is None or t in existing]
    where = f" WHERE {row_filter}" if row_filter else ""
    probes = [f"SELECT 1 FROM {quote(t)}{where}" for t in tables]
    if existing is None or TOMBSTONE_TABLE in existing:
        also = f" AND {row_filter}" if row_filter else ""
        probes.append(f"SELECT 1 FROM {quote(TOMBSTONE_TABLE)} WHERE {tombstone_filter}{also}")
    if not probes:
        return None
    return "SELECT " + " OR ".join(f"EXISTS ({p})" for p in probes)


def shard_filter(md5_int32: Callable[[str, int], str], column: str, shard: tuple[int, int]) -> str | None:
    """SQL true of the rows whose `column` is a document of `shard` (i, n), as `restore.plan.in_shard` says.

    None for the one shard of everything (1/1): every row is in it.

    The first 8 bytes of MD5, big-endian, modulo n, taken as two 32-bit halves (`md5_int32`, the
    target dialect's) so no engine needs unsigned 64-bit arithmetic; `column` is a plain name.
    ``mod()``, not ``%``, which the drivers would read as a placeholder (MySQL, PostgreSQL).

    >>> shard_filter(lambda e, o: f"h({e},{o})", "doc_id", (2, 3))
    'mod(mod(h(doc_id,1), 3) * 1 + h(doc_id,9), 3) = 1'
    """
    i, n = shard
    if not column.isidentifier() or not 1 <= i <= n:
        raise ValueError(f"no shard filter for column {column!r} and shard {shard!r}")
    if n == 1:
        return None
    high, low = md5_int32(column, 1), md5_int32(column, 9)
    return f"mod(mod({high}, {n}) * {2**32 % n} + {low}, {n}) = {i - 1}"


def bulk_batches(
    engine: LocalEngine,
    *,
    block_cut: int,
    ranges: Sequence[DocumentRange],
    tables: Sequence[str],
    history: bool,
    rows: int,
    database: str,
) -> Iterator[list[BulkRows]]:
    """The final rows of every selected table, streamed in slices of about `rows` archive rows.

    Each yielded list is what one transaction loads (a slice may span two QLDB tables). The
    engine ranks and sorts one document range at a time (`restore.plan.DocumentRange`).
    """
    selection = list(tables)
    sql = render_plan_query("plan_bulk_rows", database=database)
    for document_range in ranges:
        params = [*document_range.params, block_cut, selection, selection, history]
        for batch in engine.query_batches(sql, params, rows=rows):
            if batch.num_rows:
                yield split_bulk_rows(batch, history=history)


def to_csv(table: pa.Table, *, null: str, booleans_as_integers: bool = False) -> pa.Buffer:
    r"""The rows as CSV without a header: every non-NULL value quoted, NULL written as `null` unquoted.

    Quoting every value keeps a text that reads like `null` (``"NULL"``) or is empty (``""``)
    apart from NULL, whatever the loader. PostgreSQL's ``COPY ... (FORMAT csv)`` reads an
    unquoted empty field as NULL (`null` ``""``); MySQL's ``LOAD DATA`` with ``ENCLOSED BY '"'``
    reads an unquoted ``NULL`` as NULL, and wants booleans as 0 and 1. Quotes inside values are
    doubled, which both read back as one.

    >>> import pyarrow as pa
    >>> to_csv(pa.table({"a": ["x", None, 'x"y'], "b": [True, False, None]}), null="").to_pybytes()
    b'"x","true"\n,"false"\n"x""y",\n'
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    if booleans_as_integers:
        for i, field in enumerate(table.schema):
            if pa.types.is_boolean(field.type):
                table = table.set_column(i, field.name, pc.cast(table.column(i), pa.int8()))
    out = pa.BufferOutputStream()
    options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid", null_string=null)
    pacsv.write_csv(table, out, options)
    return out.getvalue()

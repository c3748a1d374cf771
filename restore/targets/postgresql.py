r"""PostgreSQL: the ``postgresql://`` target, on psycopg 3; a batch goes in with one COPY.

Each `apply` is one transaction: the batch's effects (`restore.batch.batch_effects`) are copied
into a TEMP staging table (``ON COMMIT DELETE ROWS``, created once per connection), then a few
set-based statements move them: tombstones (``INSERT ... SELECT ... ON CONFLICT DO UPDATE ...
WHERE`` the version is higher), ``DELETE ... USING`` for current rows below a tombstone, the
guarded current upsert, the history insert, and the checkpoint row. A row-per-statement loop is
what makes naive restores slow: here the statement count is fixed per table, not per revision.

Types: ``doc_id text`` primary key, ``version``/``block_seq bigint``, ``tx_time timestamp(3)``
holding naive UTC (no session time zone can shift it), ``data jsonb``, ``content_hash text``.
Traps: jsonb refuses ``\u0000`` in strings (a terminal error naming the blocks), and reorders
keys (``content_hash`` is computed on the canonical form, so parity still holds). Identifiers
are quoted like ``psycopg.sql.Identifier``; PostgreSQL would silently truncate names over 63
bytes, so `restore.identifiers` refuses them first. SQL with a table name in it never carries
parameters, so a ``%`` in a name is inert.

Errors: a lost connection, serialization failure, deadlock, lock timeout or shutdown is
transient; anything else is terminal. Messages carry the SQLSTATE and psycopg's primary
message, cut before any quoted value, never the DETAIL or CONTEXT (they echo row values).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final
from urllib.parse import urlsplit, urlunsplit

import psycopg

from journal.urls import redact_url
from restore.batch import RevisionBatch, RevisionRow, batch_effects
from restore.bulk import (
    HISTORY_COLUMNS,
    BulkRows,
    render_is_empty,
    shard_filter,
    slice_loads,
    to_csv,
)
from restore.checkpoint import Checkpoint, RunIdentity
from restore.errors import TerminalTargetError, TransientTargetError, UnsupportedTargetError
from restore.identifiers import CHECKPOINT_TABLE, TOMBSTONE_TABLE, IdentifierRules, TableNames, target_tables
from restore.parity_columns import PARITY_INDEX, parity_column_ddl, parity_index_name
from restore.targets.base import (
    CONCURRENT_DDL,
    CurrentRow,
    HistoryRow,
    SqlDialect,
    Target,
    TargetCapabilities,
)
from restore.typed_columns import render_typed_column

if TYPE_CHECKING:
    import pyarrow as pa

    from athena.typed import TypedColumn

__all__ = ["DIALECT", "PostgresTarget", "classify", "conninfo_from_url", "escape_percent", "quote"]

logger = logging.getLogger(__name__)

STAGE_TABLE: Final = "qldb_restore_stage"
"""The per-connection TEMP table a batch is copied into (``pg_temp``: never clashes with a user table)."""

UPSERT, HISTORY, TOMBSTONE = 1, 2, 4
"""Bits of a staged row's ``mask``: one staged row can feed several statements."""

TRANSIENT_SQLSTATES: Final = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03"})
"""Serialization failure, deadlock, lock not available, admin/crash shutdown, cannot connect now.

Class 08 (connection exceptions) is transient as a whole; see `classify`.
"""

_STAGE_COLUMNS: Final = ", ".join(("tbl", "mask", "table_name", *HISTORY_COLUMNS))


def quote(name: str) -> str:
    """Quote an identifier for PostgreSQL (as ``psycopg.sql.Identifier`` does).

    >>> quote('Robert"); DROP TABLE x;--')
    '"Robert""); DROP TABLE x;--"'
    """
    return '"' + name.replace('"', '""') + '"'


def _hex_int32(expr: str, offset: int) -> str:
    return f"('x' || substr({expr}, {int(offset)}, 8))::bit(32)::bigint"


DIALECT: Final = SqlDialect(
    placeholder="%s",
    md5_int32=lambda expr, offset: _hex_int32(f"md5({expr})", offset),
    concat=lambda parts: "(" + " || ".join(parts) + ")",
    int_to_text=lambda expr: f"({expr})::text",
    int_div=lambda expr, width: f"(({expr}) / {int(width)})",
    md5_digest=lambda expr: f"md5({expr})",
    digest_int32=_hex_int32,
    no_merge="OFFSET 0",
    stored_int32="bigint",
)
"""The parity check's SQL: ``bit(32)::bigint`` reads 8 hex digits as an unsigned 32-bit number."""


def parity_index_ddl(table: str) -> str:
    """CREATE INDEX IF NOT EXISTS for parity's stored columns of `table` (`restore.parity_columns`)."""
    return f"CREATE INDEX IF NOT EXISTS {quote(parity_index_name(table))} ON {quote(table)} {PARITY_INDEX}"


def escape_percent(sql: str) -> str:
    """Double every ``%`` inside quotes, so psycopg's ``%s`` formatting leaves names and literals alone.

    Placeholders are never quoted; a quoted ``%`` (a table named ``percent%s``) would otherwise
    be read as one.

    >>> print(escape_percent('SELECT 1 FROM "percent%s" WHERE a = %s'))
    SELECT 1 FROM "percent%%s" WHERE a = %s
    """
    out: list[str] = []
    closing: str | None = None
    for ch in sql:
        if closing is None:
            if ch in "\"'":
                closing = ch
        elif ch == closing:
            closing = None  # a doubled quote closes and reopens: same result
        elif ch == "%":
            ch = "%%"
        out.append(ch)
    return "".join(out)


def conninfo_from_url(url: str) -> str:
    """The libpq connection URI of a target URL: ``postgres://`` and ``+driver`` suffixes accepted.

    >>> conninfo_from_url("postgresql+psycopg://u@h:5432/db?sslmode=require")
    'postgresql://u@h:5432/db?sslmode=require'
    """
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme not in {"postgresql", "postgres"}:
        raise UnsupportedTargetError(
            f"not a PostgreSQL URL: {redact_url(url)}; write postgresql://user@host/db"
        )
    return urlunsplit(parts._replace(scheme="postgresql"))


def _short(message: str) -> str:
    """The first line of a server message, cut before a quoted value (``...: "value"``)."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return re.sub(r':\s*".*$', "", first)


_CONCURRENT_DDL: Final = (
    psycopg.errors.UniqueViolation,
    psycopg.errors.DuplicateTable,
    psycopg.errors.DuplicateObject,
)
"""What CREATE ... IF NOT EXISTS raises when another connection creates the same table or index
at the same moment (its catalog row is inserted, not yet committed, when this one checks)."""


def classify(exc: psycopg.Error, where: str) -> TransientTargetError | TerminalTargetError:
    """Transient (retry after `reconnect`) or terminal, with the SQLSTATE and no data values.

    >>> classify(psycopg.errors.DeadlockDetected("deadlock detected"), "applying blocks 1-2")
    TransientTargetError('applying blocks 1-2: 40P01 deadlock detected')
    """
    sqlstate = exc.sqlstate or getattr(type(exc), "sqlstate", None) or ""
    primary = exc.diag.message_primary if exc.pgresult is not None else None
    reason = _short(primary or (str(exc) if sqlstate else type(exc).__name__))
    text = f"{sqlstate} {reason}".strip() if sqlstate else f"{type(exc).__name__}: {reason}"
    if (
        sqlstate in TRANSIENT_SQLSTATES
        or sqlstate.startswith("08")
        or (not sqlstate and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError))
    ):
        return TransientTargetError(text, where=where)
    return TerminalTargetError(text, where=where)


def _stage_rows(
    batch: RevisionBatch, names: Mapping[str, TableNames], *, history: bool
) -> tuple[list[tuple[Any, ...]], list[TableNames]]:
    """The batch's effects as staging rows, and the tables they touch (``tbl`` indexes them).

    A revision that is both a table's upsert and a history row (the usual case) is staged once,
    with both bits in its mask: the same object comes out of `batch_effects` for both.
    """
    rows: list[tuple[Any, ...]] = []
    tables: list[TableNames] = []
    for table, effects in batch_effects(batch.rows).items():
        tbl = len(tables)
        tables.append(names[table])
        masks: dict[int, tuple[RevisionRow, int]] = {}
        groups: list[tuple[tuple[RevisionRow, ...], int]] = [
            (effects.upserts, UPSERT),
            (effects.tombstones, TOMBSTONE),
        ]
        if history:
            groups.append((effects.history, HISTORY))
        for group, bit in groups:
            for r in group:
                seen = masks.get(id(r))
                masks[id(r)] = (r, bit | (seen[1] if seen else 0))
        for r, mask in masks.values():
            rows.append(
                (
                    tbl,
                    mask,
                    r.table_name,
                    r.doc_id,
                    r.version,
                    r.block_seq,
                    r.tx_id,
                    r.tx_time,
                    r.is_deleted,
                    r.is_redacted,
                    r.revision_hash,
                    r.data_hash,
                    r.data_json,
                    r.content_hash,
                )
            )
    return rows, tables


class PostgresTarget(Target):
    """A PostgreSQL database (schema: the connection's ``search_path``, e.g. ``?options=-csearch_path%3Ds``).

    Attributes:
        rows_copied: staging rows sent by COPY on this target (tests and the report).
    """

    capabilities: ClassVar[TargetCapabilities] = TargetCapabilities(
        engine="postgresql",
        identifiers=IdentifierRules(max_length=63, unit="bytes"),
        quote=quote,
        bulk_load="COPY",
        dialect=DIALECT,
        bulk_insert=True,
        bulk_index_rebuild=True,  # at 1M revisions: about 1 s to build after the load, 2 s less loading
    )

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._conninfo = conninfo_from_url(url)
        self.rows_copied = 0
        self._conn = self._connect()

    def _connect(self, *, reconnecting: bool = False) -> psycopg.Connection[tuple[Any, ...]]:
        """Connect and prepare the session (UTC, the staging table).

        A failure is terminal when the target is opened (a wrong URL should stop at once) and
        transient on `reconnect` (a server restarting is worth waiting for).
        """
        try:
            conn = psycopg.connect(self._conninfo, autocommit=False, connect_timeout=30)
        except psycopg.OperationalError as exc:
            kind = TransientTargetError if reconnecting else TerminalTargetError
            raise kind(
                f"cannot connect to {redact_url(self.url)} ({_short(str(exc))}); check that the server is "
                "running and the user, password and database in the URL",
                where="reconnecting" if reconnecting else "connecting",
            ) from None
        except psycopg.Error as exc:  # a malformed URL: the message may echo it, password included
            raise UnsupportedTargetError(
                f"cannot use {redact_url(self.url)} as a PostgreSQL URL ({type(exc).__name__}); "
                "write postgresql://user:password@host:5432/db"
            ) from None
        try:
            conn.execute("SET TIME ZONE 'UTC'")
            conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {quote(STAGE_TABLE)} (tbl integer NOT NULL, "
                "mask smallint NOT NULL, table_name text NOT NULL, doc_id text NOT NULL, "
                "version bigint NOT NULL, block_seq bigint NOT NULL, tx_id text NOT NULL, "
                "tx_time timestamp(3) NOT NULL, is_deleted boolean NOT NULL, is_redacted boolean NOT NULL, "
                "revision_hash text NOT NULL, data_hash text, data jsonb, content_hash text) "
                "ON COMMIT DELETE ROWS"
            )
            conn.commit()
        except psycopg.Error as exc:
            conn.close()
            raise classify(exc, "preparing the session") from None
        return conn

    def ddl(self, names: Sequence[TableNames], *, history: bool) -> list[str]:
        """CREATE TABLE IF NOT EXISTS for the current, history and bookkeeping tables."""
        statements = [
            f"CREATE TABLE IF NOT EXISTS {quote(CHECKPOINT_TABLE)} (restore_id text PRIMARY KEY, "
            "format_version integer NOT NULL, identity jsonb NOT NULL, last_block_seq bigint NOT NULL, "
            "completed boolean NOT NULL, updated_at timestamp(3) NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {quote(TOMBSTONE_TABLE)} (table_name text NOT NULL, "
            "doc_id text NOT NULL, version bigint NOT NULL, block_seq bigint NOT NULL, "
            "tx_time timestamp(3) NOT NULL, PRIMARY KEY (table_name, doc_id))",
        ]
        for n in names:
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {quote(n.current)} (doc_id text PRIMARY KEY, "
                "version bigint NOT NULL, block_seq bigint NOT NULL, tx_time timestamp(3) NOT NULL, "
                f"data jsonb, content_hash text{parity_column_ddl(DIALECT, history=False)})"
            )
            statements.append(parity_index_ddl(n.current))
            if history:
                statements.append(
                    f"CREATE TABLE IF NOT EXISTS {quote(n.history)} (doc_id text NOT NULL, "
                    "version bigint NOT NULL, block_seq bigint NOT NULL, tx_id text NOT NULL, "
                    "tx_time timestamp(3) NOT NULL, is_deleted boolean NOT NULL, is_redacted boolean NOT "
                    "NULL, "
                    "revision_hash text NOT NULL, data_hash text, data jsonb, content_hash text"
                    f"{parity_column_ddl(DIALECT, history=True)}, PRIMARY KEY (doc_id, version))"
                )
                statements.append(parity_index_ddl(n.history))
        return statements

    def ensure_schema(self, names: Sequence[TableNames], *, history: bool) -> None:
        """Create the missing tables in one transaction (PostgreSQL DDL is transactional).

        A table restored before the parity columns keeps its shape: its parity index is skipped
        (in a savepoint), and parity hashes it at query time (`restore.parity_columns`).
        """
        indexes = {parity_index_ddl(t) for n in names for t in (n.current, n.history)}
        try:
            for statement in self.ddl(names, history=history):
                if statement not in indexes:
                    self._conn.execute(statement)
                    continue
                try:
                    with self._conn.transaction():
                        self._conn.execute(statement)
                except psycopg.errors.UndefinedColumn:
                    logger.info("a table has no parity columns (restored by an older version): no index")
            self._conn.commit()
        except _CONCURRENT_DDL as exc:
            self._rollback()  # another worker created it first: again, and IF NOT EXISTS sees it
            raise TransientTargetError(f"{exc.sqlstate} {CONCURRENT_DDL}", where="creating tables") from None
        except psycopg.Error as exc:
            self._rollback()
            raise classify(exc, "creating tables") from None

    def read_checkpoint(self, restore_id: str) -> Checkpoint | None:
        """The saved checkpoint row, if the table and the row exist."""
        try:
            row = self._conn.execute(
                "SELECT restore_id, identity::text, last_block_seq, completed, format_version, updated_at "
                f"FROM {quote(CHECKPOINT_TABLE)} WHERE restore_id = %s",
                (restore_id,),
            ).fetchone()
            self._conn.commit()
        except psycopg.errors.UndefinedTable:
            self._rollback()
            return None
        except psycopg.Error as exc:
            self._rollback()
            raise classify(exc, "reading the checkpoint") from None
        if row is None:
            return None
        return Checkpoint(
            restore_id=row[0],
            identity=RunIdentity.from_json(row[1]),
            last_block_seq=row[2],
            completed=bool(row[3]),
            format_version=row[4],
            updated_at=row[5],
        )

    def apply(
        self,
        batch: RevisionBatch,
        names: Mapping[str, TableNames],
        checkpoint: Checkpoint,
        *,
        history: bool,
    ) -> None:
        """COPY the effects to staging, then set-based statements and the checkpoint: one transaction."""
        rows, tables = _stage_rows(batch, names, history=history)
        try:
            with self._conn.cursor() as cur:
                self._copy(cur, rows)
                for statement in self._statements(tables, history=history):
                    cur.execute(statement)
            self._write_checkpoint(checkpoint)
            self._conn.commit()
        except psycopg.Error as exc:
            self._rollback()
            raise classify(exc, batch.where) from None
        except UnicodeEncodeError:
            self._rollback()
            raise TerminalTargetError(
                "a value is not valid UTF-8 (a lone surrogate); check the archive", where=batch.where
            ) from None

    def is_empty(
        self, names: Sequence[TableNames], *, history: bool, shard: tuple[int, int] = (1, 1)
    ) -> bool:
        """Whether the tables and their tombstones hold no row (of `shard`'s documents only).

        A table not yet created holds none.
        """
        if not names:
            return True
        wanted = [*target_tables(names, history=history), TOMBSTONE_TABLE]
        try:
            found = self._conn.execute(
                "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relname = ANY(%s)",
                (wanted,),
            ).fetchall()
            existing = {str(r[0]) for r in found}
            query = render_is_empty(
                names,
                history=history,
                quote=quote,
                tombstone_filter="table_name = ANY(%s)",
                existing=existing,
                row_filter=shard_filter(DIALECT.md5_int32, "doc_id", shard),
            )
            empty = True  # none of them exists yet
            if query is not None:
                params = ([n.qldb for n in names],) if TOMBSTONE_TABLE in existing else ()
                row = self._conn.execute(escape_percent(query), params).fetchone()
                empty = row is not None and not row[0]
            self._conn.commit()
        except psycopg.Error as exc:
            self._rollback()
            raise classify(exc, "checking that the tables are empty") from None
        return empty

    def drop_parity_indexes(self, names: Sequence[TableNames], *, history: bool) -> None:
        """DROP INDEX IF EXISTS for each table's parity index, in one transaction."""
        tables = target_tables(names, history=history)
        try:
            for table in tables:
                self._conn.execute(f"DROP INDEX IF EXISTS {quote(parity_index_name(table))}")
            self._conn.commit()
        except psycopg.Error as exc:
            self._rollback()
            raise classify(exc, "dropping the parity indexes") from None

    def load_bulk(self, parts: Sequence[BulkRows], names: Mapping[str, TableNames]) -> None:
        """COPY each slice's rows straight into its tables (CSV), in one transaction."""
        where = parts[0].where if parts else "bulk-loading"
        try:
            with self._conn.cursor() as cur:
                for where, table, columns, rows in slice_loads(parts, names):  # noqa: B007 (where: named by an error)
                    self._copy_csv(cur, table, columns, rows)
            self._conn.commit()
        except psycopg.Error as exc:
            self._rollback()
            raise classify(exc, where) from None

    def _copy_csv(
        self, cur: psycopg.Cursor[tuple[Any, ...]], table: str, columns: Sequence[str], rows: pa.Table
    ) -> None:
        if not rows.num_rows:
            return
        with cur.copy(f"COPY {quote(table)} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(to_csv(rows, null=""))
        self.rows_copied += rows.num_rows

    def _copy(self, cur: psycopg.Cursor[tuple[Any, ...]], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with cur.copy(f"COPY {quote(STAGE_TABLE)} ({_STAGE_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        self.rows_copied += len(rows)
        if len(rows) >= 1000:  # a TEMP table has no statistics; without them joins guess badly
            cur.execute(f"ANALYZE {quote(STAGE_TABLE)}")

    def _statements(self, tables: list[TableNames], *, history: bool) -> list[str]:
        """The set-based statements of one batch, in order (no parameters: see the module docstring)."""
        stage, tomb = quote(STAGE_TABLE), quote(TOMBSTONE_TABLE)
        statements = [
            f"INSERT INTO {tomb} AS t (table_name, doc_id, version, block_seq, tx_time) "
            f"SELECT table_name, doc_id, version, block_seq, tx_time FROM {stage} WHERE mask & {TOMBSTONE} "
            "<> 0 "
            "ON CONFLICT (table_name, doc_id) DO UPDATE SET version = excluded.version, "
            "block_seq = excluded.block_seq, tx_time = excluded.tx_time WHERE excluded.version > t.version"
        ]
        for tbl, n in enumerate(tables):
            cur = quote(n.current)
            statements.append(
                f"DELETE FROM {cur} AS c USING {stage} AS s WHERE s.tbl = {tbl} AND s.mask & {TOMBSTONE} "
                "<> 0 "
                "AND c.doc_id = s.doc_id AND c.version < s.version"
            )
            statements.append(
                f"INSERT INTO {cur} AS c (doc_id, version, block_seq, tx_time, data, content_hash) "
                f"SELECT s.doc_id, s.version, s.block_seq, s.tx_time, s.data, s.content_hash FROM {stage} "
                "AS s "
                f"WHERE s.tbl = {tbl} AND s.mask & {UPSERT} <> 0 AND NOT EXISTS (SELECT 1 FROM {tomb} AS t "
                "WHERE t.table_name = s.table_name AND t.doc_id = s.doc_id AND t.version > s.version) "
                "ON CONFLICT (doc_id) DO UPDATE SET version = excluded.version, block_seq = "
                "excluded.block_seq, "
                "tx_time = excluded.tx_time, data = excluded.data, content_hash = excluded.content_hash "
                "WHERE excluded.version > c.version "
                "OR (excluded.version = c.version AND excluded.data IS NULL AND c.data IS NOT NULL)"
            )
            if history:
                statements.append(
                    f"INSERT INTO {quote(n.history)} AS h (doc_id, version, block_seq, tx_id, tx_time, "
                    "is_deleted, is_redacted, revision_hash, data_hash, data, content_hash) "
                    "SELECT doc_id, version, block_seq, tx_id, tx_time, is_deleted, is_redacted, "
                    "revision_hash, "
                    f"data_hash, data, content_hash FROM {stage} WHERE tbl = {tbl} AND mask & {HISTORY} <> 0 "
                    "ON CONFLICT (doc_id, version) DO UPDATE SET data = NULL, content_hash = NULL, "
                    "data_hash = excluded.data_hash, is_redacted = true "
                    "WHERE excluded.is_redacted AND NOT h.is_redacted"
                )
        return statements

    def _write_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._conn.execute(
            f"INSERT INTO {quote(CHECKPOINT_TABLE)} (restore_id, format_version, identity, last_block_seq, "
            "completed, updated_at) VALUES (%s, %s, %s::jsonb, %s, %s, %s) ON CONFLICT (restore_id) DO "
            "UPDATE SET "
            "format_version = excluded.format_version, identity = excluded.identity, "
            "last_block_seq = excluded.last_block_seq, completed = excluded.completed, "
            "updated_at = excluded.updated_at",
            (
                checkpoint.restore_id,
                checkpoint.format_version,
                checkpoint.identity.to_json(),
                checkpoint.last_block_seq,
                checkpoint.completed,
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
            ),
        )

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Write a checkpoint on its own (the end of a run with nothing left to apply)."""
        try:
            self._write_checkpoint(checkpoint)
            self._conn.commit()
        except psycopg.Error as exc:
            self._rollback()
            raise classify(exc, "writing the checkpoint") from None

    def _rollback(self) -> None:
        """Roll back; a broken connection has nothing to roll back (the server already did)."""
        try:
            self._conn.rollback()
        except psycopg.Error:
            logger.debug("rollback failed on %s; the connection is gone", redact_url(self.url))

    def _fetch(self, query: str, what: str) -> list[tuple[Any, ...]]:
        try:
            rows = self._conn.execute(query).fetchall()
            self._conn.commit()
        except psycopg.Error as exc:
            self._rollback()
            raise classify(exc, what) from None
        return rows

    def fetch_current(self, names: TableNames) -> Iterator[CurrentRow]:
        """Every current row, by doc_id (byte order, as Python sorts)."""
        rows = self._fetch(
            f"SELECT doc_id, version, block_seq, tx_time, data, content_hash FROM {quote(names.current)} "
            'ORDER BY doc_id COLLATE "C"',
            f"reading {names.current!r}",
        )
        for r in rows:
            yield CurrentRow(r[0], r[1], r[2], r[3], r[4], r[5])

    def fetch_history(self, names: TableNames) -> Iterator[HistoryRow]:
        """Every history row, by doc_id and version."""
        rows = self._fetch(
            "SELECT doc_id, version, block_seq, tx_id, tx_time, is_deleted, is_redacted, revision_hash, "
            f'data_hash, data, content_hash FROM {quote(names.history)} ORDER BY doc_id COLLATE "C", version',
            f"reading {names.history!r}",
        )
        for r in rows:
            yield HistoryRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10])

    def query(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """Run one read-only statement (``%s`` placeholders) in its own transaction; its rows."""
        try:
            rows = self._conn.execute(escape_percent(sql), tuple(params)).fetchall()
            self._conn.commit()
        except psycopg.Error as exc:
            self._rollback()
            raise classify(exc, "reading for the parity check") from None
        return rows

    def typed_column_ddl(self, names: TableNames, columns: Sequence[TypedColumn]) -> list[str]:
        """ALTER TABLE ... ADD COLUMN IF NOT EXISTS ... GENERATED ALWAYS AS (...) STORED, one per column."""
        return [render_typed_column("postgresql", names.current, c, quote=quote) for c in columns]

    def add_typed_columns(self, names: TableNames, columns: Sequence[TypedColumn]) -> list[str]:
        """Add the missing typed columns in one transaction; the names added."""
        try:
            existing = {
                str(r[0]).lower()
                for r in self._conn.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = %s",
                    (names.current,),
                ).fetchall()
            }
            missing = [c for c in columns if c.column.lower() not in existing]
            for statement in self.typed_column_ddl(names, missing):
                self._conn.execute(statement)
            self._conn.commit()
        except psycopg.Error as exc:
            self._rollback()
            raise classify(exc, f"adding typed columns to {names.current!r}") from None
        return [c.column for c in missing]

    def reconnect(self) -> None:
        """Close the connection (it may be broken) and open a new one with its staging table."""
        self.close()
        self._conn = self._connect(reconnecting=True)

    def close(self) -> None:
        """Close the connection."""
        try:
            self._conn.close()
        except psycopg.Error:
            logger.debug("closing a broken connection to %s", redact_url(self.url))

"""SQLite: the embedded default target (``sqlite:///relative/path.db``, ``sqlite:////abs/path.db``).

The standard library's sqlite3; batches go in with ``executemany`` inside one ``BEGIN
IMMEDIATE`` transaction, in WAL mode (a killed process loses nothing committed). JSON is TEXT
(SQLite's JSON functions read it); times are ISO text in UTC, which sorts as time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final
from urllib.parse import unquote, urlsplit

from restore.batch import RevisionBatch, RevisionRow, batch_effects
from restore.checkpoint import Checkpoint, RunIdentity
from restore.errors import TerminalTargetError, TransientTargetError, UnsupportedTargetError
from restore.identifiers import CHECKPOINT_TABLE, TOMBSTONE_TABLE, IdentifierRules, TableNames
from restore.parity_columns import PARITY_COLUMNS
from restore.targets.base import CurrentRow, HistoryRow, SqlDialect, Target, TargetCapabilities
from restore.typed_columns import render_typed_column

if TYPE_CHECKING:
    from athena.typed import TypedColumn

__all__ = ["SqliteTarget", "classify", "quote", "sqlite_path"]


def quote(name: str) -> str:
    """Quote an identifier for SQLite.

    >>> quote('we"ird')
    '"we""ird"'
    """
    return '"' + name.replace('"', '""') + '"'


def sqlite_path(url: str) -> Path:
    """The database file of a ``sqlite:///`` URL (three slashes: relative, four: absolute).

    >>> sqlite_path("sqlite:///restored.db")
    PosixPath('restored.db')
    >>> sqlite_path("sqlite:////tmp/restored.db")
    PosixPath('/tmp/restored.db')
    """
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or parts.netloc or not parts.path.startswith("/") or parts.path == "/":
        raise UnsupportedTargetError(
            f"not a SQLite URL: {url!r}; write sqlite:///relative/file.db or sqlite:////absolute/file.db"
        )
    return Path(unquote(parts.path[1:]))


def classify(exc: sqlite3.Error, where: str) -> TransientTargetError | TerminalTargetError:
    """A locked or busy database is worth retrying; anything else stops the restore."""
    message = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in message or "busy" in message):
        return TransientTargetError(message, where=where)
    return TerminalTargetError(f"{type(exc).__name__}: {message}", where=where)


def md5_int32(text: str | None, offset: int) -> int | None:
    """The parity hash, registered as the SQL function ``qldb_md5_int32`` (SQLite has no MD5).

    >>> md5_int32("abc", 1)
    2416005272
    """
    if text is None:
        return None
    return int(_md5(text).hex()[offset - 1 : offset + 7], 16)


def md5_int64(text: str | None) -> int | None:
    """The first 64 bits of MD5 as SQLite's signed integer (``qldb_md5_int64``): both halves in one call.

    ``(h >> 32) & 4294967295`` and ``h & 4294967295`` are then `md5_int32` at offsets 1 and 9.

    >>> h = md5_int64("abc")
    >>> ((h >> 32) & 4294967295, h & 4294967295) == (md5_int32("abc", 1), md5_int32("abc", 9))
    True
    """
    if text is None:
        return None
    return int.from_bytes(_md5(text)[:8], signed=True)


def _md5(text: str) -> bytes:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest()


def checksums(doc_id: str, row_key: str) -> tuple[int, int, int]:
    """Parity's three stored checksums of a row: MD5(doc_id)'s first 32 bits, its row key's two halves.

    The values the SQL computes (`md5_int32` at offsets 1 and 9), written by the restore because
    SQLite cannot compute them itself (see `_checksum_trigger`).

    >>> checksums("d", "d|1|h") == (md5_int32("d", 1), md5_int32("d|1|h", 1), md5_int32("d|1|h", 9))
    True
    """
    digest = _md5(row_key)
    return int.from_bytes(_md5(doc_id)[:4]), int.from_bytes(digest[:4]), int.from_bytes(digest[4:8])


_CHECKSUM_COLUMNS: Final = "".join(f", {c} INTEGER" for c in PARITY_COLUMNS)
_CHECKSUM_NAMES: Final = "".join(f", {c}" for c in PARITY_COLUMNS)
_CHECKSUM_UPDATES: Final = "".join(f"{c} = excluded.{c}, " for c in PARITY_COLUMNS)
_CHECKSUM_MARKERS: Final = ", ?" * len(PARITY_COLUMNS)
_CURRENT_KEY: Final = ("doc_id", "version", "content_hash")
_HISTORY_KEY: Final = ("doc_id", "version", "revision_hash", "content_hash")


def _current_checksums(r: RevisionRow) -> tuple[int, int, int]:
    """A current row's checksums; its key is `restore.parity_columns.current_row_key`'s."""
    return checksums(r.doc_id, f"{r.doc_id}|{r.version}|{r.content_hash or ''}")


def _history_checksums(r: RevisionRow) -> tuple[int, int, int]:
    """A history row's checksums; its key is `restore.parity_columns.history_row_key`'s."""
    return checksums(r.doc_id, f"{r.doc_id}|{r.version}|{r.revision_hash}|{r.content_hash or ''}")


def _checksum_trigger(table: str, key_columns: Sequence[str]) -> str:
    """A trigger that clears a row's written checksums when its key columns change without them.

    The restore writes new checksums with every change it makes; any other UPDATE of doc_id,
    version, content_hash (or revision_hash) leaves them as they were, and the trigger then sets
    them to NULL, so parity computes that row's hashes from its columns (``COALESCE``): a row
    changed behind the restore's back is still seen. Rows inserted by other programs have NULL
    checksums from the start. Named by a digest of the table's name (hostile names never enter
    a trigger name).
    """
    name = quote("qldb_parity_trigger_" + hashlib.sha256(table.encode("utf-8")).hexdigest()[:24])
    t = quote(table)
    unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in PARITY_COLUMNS)
    cleared = ", ".join(f"{c} = NULL" for c in PARITY_COLUMNS)
    return (
        f"CREATE TRIGGER IF NOT EXISTS {name} AFTER UPDATE OF {', '.join(key_columns)} ON {t} "
        f"WHEN {unchanged} BEGIN UPDATE {t} SET {cleared} WHERE rowid = NEW.rowid; END"
    )


def _digest_int32(digest: str, offset: int) -> str:
    return f"(({digest} >> 32) & 4294967295)" if int(offset) == 1 else f"({digest} & 4294967295)"


DIALECT = SqlDialect(
    placeholder="?",
    md5_int32=lambda expr, offset: f"qldb_md5_int32({expr}, {int(offset)})",
    concat=lambda parts: "(" + " || ".join(parts) + ")",
    int_to_text=lambda expr: f"CAST({expr} AS TEXT)",
    int_div=lambda expr, width: f"({expr} / {int(width)})",
    md5_digest=lambda expr: f"qldb_md5_int64({expr})",
    digest_int32=_digest_int32,
    no_merge="LIMIT -1",  # a LIMIT keeps SQLite from flattening the subquery into the aggregate
    written_checksums=True,
)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(sep=" ", timespec="milliseconds")


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


class SqliteTarget(Target):
    """A SQLite database file; created when missing."""

    capabilities: ClassVar[TargetCapabilities] = TargetCapabilities(
        engine="sqlite",
        identifiers=IdentifierRules(max_length=1024),
        quote=quote,
        bulk_load="executemany",
        dialect=DIALECT,
    )

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = sqlite_path(url)
        self._con = self._connect()
        self._checksums: dict[str, bool] = {}

    def _connect(self) -> sqlite3.Connection:
        if self.path.parent != Path() and not self.path.parent.is_dir():
            raise UnsupportedTargetError(f"no folder {str(self.path.parent)!r} for the SQLite database")
        # check_same_thread off: the parity check reads from a worker thread, one call at a time
        con = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        con.create_function("qldb_md5_int32", 2, md5_int32, deterministic=True)
        con.create_function("qldb_md5_int64", 1, md5_int64, deterministic=True)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        return con

    def ddl(self, names: Sequence[TableNames], *, history: bool) -> list[str]:
        """CREATE TABLE IF NOT EXISTS for the current, history and bookkeeping tables."""
        statements = [
            f"CREATE TABLE IF NOT EXISTS {quote(CHECKPOINT_TABLE)} (restore_id TEXT PRIMARY KEY, "
            "format_version INTEGER NOT NULL, identity TEXT NOT NULL, last_block_seq INTEGER NOT NULL, "
            "completed INTEGER NOT NULL, updated_at TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {quote(TOMBSTONE_TABLE)} (table_name TEXT NOT NULL, "
            "doc_id TEXT NOT NULL, version INTEGER NOT NULL, block_seq INTEGER NOT NULL, "
            "tx_time TEXT NOT NULL, PRIMARY KEY (table_name, doc_id))",
        ]
        for n in names:
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {quote(n.current)} (doc_id TEXT PRIMARY KEY, "
                "version INTEGER NOT NULL, block_seq INTEGER NOT NULL, tx_time TEXT NOT NULL, "
                f"data TEXT, content_hash TEXT{_CHECKSUM_COLUMNS})"
            )
            if history:
                statements.append(
                    f"CREATE TABLE IF NOT EXISTS {quote(n.history)} (doc_id TEXT NOT NULL, "
                    "version INTEGER NOT NULL, block_seq INTEGER NOT NULL, tx_id TEXT NOT NULL, "
                    "tx_time TEXT NOT NULL, is_deleted INTEGER NOT NULL, is_redacted INTEGER NOT NULL, "
                    "revision_hash TEXT NOT NULL, data_hash TEXT, data TEXT, content_hash TEXT"
                    f"{_CHECKSUM_COLUMNS}, PRIMARY KEY (doc_id, version))"
                )
        return statements

    def ensure_schema(self, names: Sequence[TableNames], *, history: bool) -> None:
        """Create the missing tables in one transaction."""
        try:
            self._con.execute("BEGIN IMMEDIATE")
            for statement in self.ddl(names, history=history):
                self._con.execute(statement)
            for n in names:
                for table, key in (
                    (n.current, _CURRENT_KEY),
                    *(((n.history, _HISTORY_KEY),) if history else ()),
                ):
                    if self._has_checksums(table):  # not a table an older version created
                        self._con.execute(_checksum_trigger(table, key))
            self._con.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise classify(exc, "creating tables") from None

    def _has_checksums(self, table: str) -> bool:
        """Whether `table` has the written checksum columns (a table of an older version has not)."""
        if table not in self._checksums:
            columns = {r[1] for r in self._con.execute(f"PRAGMA table_info({quote(table)})")}
            if not columns:  # no such table yet: ask again once ensure_schema has made it
                return False
            self._checksums[table] = set(PARITY_COLUMNS) <= columns
        return self._checksums[table]

    def read_checkpoint(self, restore_id: str) -> Checkpoint | None:
        """The saved checkpoint row, if the table and the row exist."""
        try:
            row = self._con.execute(
                f"SELECT restore_id, identity, last_block_seq, completed, format_version, updated_at "
                f"FROM {quote(CHECKPOINT_TABLE)} WHERE restore_id = ?",
                (restore_id,),
            ).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise classify(exc, "reading the checkpoint") from None
        if row is None:
            return None
        return Checkpoint(
            restore_id=row[0],
            identity=RunIdentity.from_json(row[1]),
            last_block_seq=row[2],
            completed=bool(row[3]),
            format_version=row[4],
            updated_at=_time(row[5]),
        )

    def apply(
        self,
        batch: RevisionBatch,
        names: Mapping[str, TableNames],
        checkpoint: Checkpoint,
        *,
        history: bool,
    ) -> None:
        """Tombstones, guarded upserts, deletes below tombstones, history, checkpoint: one transaction."""
        con = self._con
        tomb = quote(TOMBSTONE_TABLE)
        try:
            con.execute("BEGIN IMMEDIATE")
            for table, effects in batch_effects(batch.rows).items():
                n = names[table]
                cur = quote(n.current)
                con.executemany(
                    f"INSERT INTO {tomb} (table_name, doc_id, version, block_seq, tx_time) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (table_name, doc_id) DO UPDATE SET "
                    "block_seq = excluded.block_seq, tx_time = excluded.tx_time, version = excluded.version "
                    f"WHERE excluded.version > {tomb}.version",
                    [(table, r.doc_id, r.version, r.block_seq, _iso(r.tx_time)) for r in effects.tombstones],
                )
                con.executemany(
                    f"DELETE FROM {cur} WHERE doc_id = ? AND version < ?",
                    [(r.doc_id, r.version) for r in effects.tombstones],
                )
                sums = self._has_checksums(n.current)
                con.executemany(
                    f"INSERT INTO {cur} (doc_id, version, block_seq, tx_time, data, content_hash"
                    f"{_CHECKSUM_NAMES if sums else ''}) "
                    f"SELECT ?, ?, ?, ?, ?, ?{_CHECKSUM_MARKERS if sums else ''} "
                    f"WHERE NOT EXISTS (SELECT 1 FROM {tomb} "
                    "WHERE table_name = ? AND doc_id = ? AND version > ?) "
                    "ON CONFLICT (doc_id) DO UPDATE SET block_seq = excluded.block_seq, "
                    "tx_time = excluded.tx_time, data = excluded.data, content_hash = excluded.content_hash, "
                    f"{_CHECKSUM_UPDATES if sums else ''}"
                    f"version = excluded.version WHERE excluded.version > {cur}.version "
                    f"OR (excluded.version = {cur}.version AND excluded.data IS NULL "
                    f"AND {cur}.data IS NOT NULL)",
                    [
                        (
                            r.doc_id,
                            r.version,
                            r.block_seq,
                            _iso(r.tx_time),
                            r.data_json,
                            r.content_hash,
                            *(
                                checksums(r.doc_id, f"{r.doc_id}|{r.version}|{r.content_hash or ''}")
                                if sums
                                else ()
                            ),
                            table,
                            r.doc_id,
                            r.version,
                        )
                        for r in effects.upserts
                    ],
                )
                if history:
                    hist = quote(n.history)
                    hsums = self._has_checksums(n.history)
                    con.executemany(
                        f"INSERT INTO {hist} (doc_id, version, block_seq, tx_id, tx_time, is_deleted, "
                        "is_redacted, revision_hash, data_hash, data, content_hash"
                        f"{_CHECKSUM_NAMES if hsums else ''}) "
                        f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?{_CHECKSUM_MARKERS if hsums else ''}) "
                        "ON CONFLICT (doc_id, version) DO UPDATE SET "
                        "data = NULL, content_hash = NULL, data_hash = excluded.data_hash, is_redacted = 1 "
                        f"WHERE excluded.is_redacted = 1 AND {hist}.is_redacted = 0",
                        [
                            (
                                r.doc_id,
                                r.version,
                                r.block_seq,
                                r.tx_id,
                                _iso(r.tx_time),
                                int(r.is_deleted),
                                int(r.is_redacted),
                                r.revision_hash,
                                r.data_hash,
                                r.data_json,
                                r.content_hash,
                                *(_history_checksums(r) if hsums else ()),
                            )
                            for r in effects.history
                        ],
                    )
            self._write_checkpoint(checkpoint)
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise classify(exc, batch.where) from None

    def _write_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._con.execute(
            f"INSERT INTO {quote(CHECKPOINT_TABLE)} (restore_id, format_version, identity, last_block_seq, "
            "completed, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (restore_id) DO UPDATE SET "
            "format_version = excluded.format_version, identity = excluded.identity, "
            "last_block_seq = excluded.last_block_seq, completed = excluded.completed, "
            "updated_at = excluded.updated_at",
            (
                checkpoint.restore_id,
                checkpoint.format_version,
                checkpoint.identity.to_json(),
                checkpoint.last_block_seq,
                int(checkpoint.completed),
                _iso(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
            ),
        )

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Write a checkpoint on its own (the end of a run with nothing left to apply)."""
        try:
            self._con.execute("BEGIN IMMEDIATE")
            self._write_checkpoint(checkpoint)
            self._con.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise classify(exc, "writing the checkpoint") from None

    def _rollback(self) -> None:
        if self._con.in_transaction:
            self._con.execute("ROLLBACK")

    def fetch_current(self, names: TableNames) -> Iterator[CurrentRow]:
        """Every current row, by doc_id."""
        rows = self._con.execute(
            f"SELECT doc_id, version, block_seq, tx_time, data, content_hash FROM {quote(names.current)} "
            "ORDER BY doc_id"
        )
        for r in rows:
            yield CurrentRow(r[0], r[1], r[2], _time(r[3]), _json(r[4]), r[5])

    def fetch_history(self, names: TableNames) -> Iterator[HistoryRow]:
        """Every history row, by doc_id and version."""
        rows = self._con.execute(
            "SELECT doc_id, version, block_seq, tx_id, tx_time, is_deleted, is_redacted, revision_hash, "
            f"data_hash, data, content_hash FROM {quote(names.history)} ORDER BY doc_id, version"
        )
        for r in rows:
            yield HistoryRow(
                r[0], r[1], r[2], r[3], _time(r[4]), bool(r[5]), bool(r[6]), r[7], r[8], _json(r[9]), r[10]
            )

    def query(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """Run one read-only statement."""
        try:
            return self._con.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise classify(exc, "reading for the parity check") from None

    def typed_column_ddl(self, names: TableNames, columns: Sequence[TypedColumn]) -> list[str]:
        """ALTER TABLE ... ADD COLUMN ... GENERATED ALWAYS AS (...) VIRTUAL, one per column."""
        return [render_typed_column("sqlite", names.current, c, quote=quote) for c in columns]

    def add_typed_columns(self, names: TableNames, columns: Sequence[TypedColumn]) -> list[str]:
        """Add the missing typed columns in one transaction; the names added."""
        try:
            existing = {
                str(r[0]).lower()
                for r in self._con.execute("SELECT name FROM pragma_table_xinfo(?)", (names.current,))
            }
            missing = [c for c in columns if c.column.lower() not in existing]
            self._con.execute("BEGIN IMMEDIATE")
            for statement in self.typed_column_ddl(names, missing):
                self._con.execute(statement)
            self._con.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise classify(exc, f"adding typed columns to {names.current!r}") from None
        return [c.column for c in missing]

    def reconnect(self) -> None:
        """Close and reopen the database file."""
        self.close()
        self._con = self._connect()

    def close(self) -> None:
        """Close the connection."""
        self._con.close()


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)

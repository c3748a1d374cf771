"""MySQL and MariaDB: the ``mysql://`` (or ``mariadb://``) target, on PyMySQL; a batch is one LOAD DATA.

PyMySQL is pure Python: the target needs no MySQL client library on the machine (mysqlclient
needs ``libmysqlclient`` and a compiler), which matters for an on-call engineer restoring from
a laptop or a bare container. Its speed is fine here because a batch is few statements.

Each `apply` is one InnoDB transaction: the batch's effects (`restore.batch.batch_effects`) go
into a TEMPORARY staging table, by ``LOAD DATA LOCAL INFILE`` from a temporary file when the
server allows it (``local_infile`` ON, and the client flag, which this target sets), otherwise
by multi-row ``INSERT`` statements (PyMySQL's ``executemany`` batches them). Then a few
set-based statements: tombstones and the current rows by ``INSERT ... SELECT ... ON DUPLICATE
KEY UPDATE``, a multi-table ``DELETE`` for current rows below a tombstone, history, and the
checkpoint row.

Traps:

- ODKU has no ``WHERE``: the version guard is ``col = IF(guard, new, old)`` per column, and
  assignments run left to right, so the guard columns (``data``, then ``version``) are
  assigned last, or the later guards would read the new values. Restore tables keep one
  unique key (the primary key), or ODKU may update another row (see AWS-LIMITS.md).
- MariaDB names the inserted values ``VALUES(col)``; MySQL 8.0.20+ deprecates that, and an
  ``INSERT ... SELECT`` there names them through a derived table (``SELECT * FROM (...) AS
  new``, columns ``n_*``), an ``INSERT ... VALUES`` through a row alias (``AS new``). The
  server is detected at connect (``VERSION()`` contains ``MariaDB``) and both are rendered.
- ``LOAD DATA LOCAL`` turns bad values into warnings, not errors: the row count and
  ``@@warning_count`` are checked after it, and a mismatch is a terminal error.
- PyMySQL formats a statement with ``%`` when it has parameters: statements holding a table
  name never have parameters, so ``percent%s`` is a fine table name; `query` (the parity
  check's, which has parameters) doubles every ``%`` inside quotes first (`escape_percent`).
- The staging table is emptied with ``TRUNCATE`` at the start of a batch (``DELETE`` costs as
  much as the load); TRUNCATE may commit implicitly, harmless before the batch writes anything.
- History is clustered on ``(doc_id, version)`` and document ids are random, so every batch
  touches pages all over the table: once the table outgrows ``innodb_buffer_pool_size`` (128 MB
  by default) each batch reads it back from disk and throughput drops several-fold (measured:
  1M revisions take ~150 s with 128 MB). Give the buffer pool more than the history table, and
  use large batches.
- PyMySQL serves any local file the server asks for while ``local_infile`` is on: it is on
  only around our own LOAD DATA (`_serve_local_files`).
- Tables are ``utf8mb4`` with ``utf8mb4_bin``: document ids are case-sensitive, and binary
  order is the order Python sorts them in. Times are ``DATETIME(3)`` in UTC (no time zone
  conversion ever applies to DATETIME). On MariaDB, ``data`` is ``LONGTEXT CHECK
  (JSON_VALID(data))`` (what its ``JSON`` alias means); on MySQL the binary ``JSON`` type,
  which reorders keys (``content_hash`` is on the canonical form, so parity still holds).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

import pymysql
import pymysql.cursors

from journal.urls import redact_url
from restore.batch import RevisionBatch, RevisionRow, batch_effects
from restore.bulk import (
    CURRENT_COLUMNS,
    HISTORY_COLUMNS,
    TOMBSTONE_COLUMNS,
    BulkRows,
    render_is_empty,
    shard_filter,
    slice_loads,
    to_csv,
)
from restore.checkpoint import Checkpoint, RunIdentity
from restore.errors import TerminalTargetError, TransientTargetError, UnsupportedTargetError
from restore.identifiers import CHECKPOINT_TABLE, TOMBSTONE_TABLE, IdentifierRules, TableNames, target_tables
from restore.parity_columns import PARITY_INDEX, parity_column_ddl
from restore.targets.base import (
    CONCURRENT_DDL,
    CurrentRow,
    HistoryRow,
    SqlDialect,
    Target,
    TargetCapabilities,
)
from restore.typed_columns import TypedEngine, render_typed_column

if TYPE_CHECKING:
    import pyarrow as pa

    from athena.typed import TypedColumn

__all__ = [
    "DIALECT",
    "PARITY_INDEX_ROW_BYTES",
    "MysqlTarget",
    "ServerInfo",
    "classify",
    "connect_args_from_url",
    "escape_percent",
    "parity_indexes_fit",
    "quote",
    "render_apply_sql",
    "render_checkpoint_sql",
]

logger = logging.getLogger(__name__)

STAGE_TABLE: Final = "qldb_restore_stage"
"""The per-connection TEMPORARY table a batch is loaded into (it hides any table of that name)."""

UPSERT, HISTORY, TOMBSTONE = 1, 2, 4
"""Bits of a staged row's ``mask``: one staged row can feed several statements."""

TRANSIENT_CODES: Final = frozenset({1040, 1205, 1213, 1927, 2003, 2006, 2013, 2055, 4031})
"""Too many connections, lock wait timeout, deadlock, connection killed (MariaDB), can't connect,
server gone away, lost connection (twice), disconnected for inactivity (MySQL 8)."""

LOCAL_INFILE_REFUSED: Final = frozenset({1148, 2068, 3948, 4166})
"""The server or client refuses LOAD DATA LOCAL: fall back to multi-row INSERTs."""

STAGE_COLUMNS: Final = ("tbl", "mask", "table_name", *HISTORY_COLUMNS)

_KNOWN_WORDS: Final = frozenset(STAGE_COLUMNS) | {"PRIMARY", "restore_id", "identity", "last_block_seq"}

_URL_OPTIONS: Final = frozenset(
    {"connect_timeout", "local_infile", "ssl_ca", "ssl_cert", "ssl_key", "unix_socket"}
)


def quote(name: str) -> str:
    """Quote an identifier for MySQL: backticks, doubled inside.

    >>> quote("back`tick")
    '`back``tick`'
    """
    return "`" + name.replace("`", "``") + "`"


def _hex_int32(expr: str, offset: int) -> str:
    return f"CAST(CONV(SUBSTRING({expr}, {int(offset)}, 8), 16, 10) AS UNSIGNED)"


DIALECT: Final = SqlDialect(
    placeholder="%s",
    md5_int32=lambda expr, offset: _hex_int32(f"MD5({expr})", offset),
    concat=lambda parts: "CONCAT(" + ", ".join(parts) + ")",
    int_to_text=lambda expr: f"CAST({expr} AS CHAR)",
    int_div=lambda expr, width: f"(({expr}) DIV {int(width)})",
    md5_digest=lambda expr: f"MD5({expr})",
    digest_int32=_hex_int32,
    no_merge="LIMIT 18446744073709551615",  # a derived table with LIMIT is never merged
    stored_int32="INT UNSIGNED",
    stored_hash_text="VARCHAR(64) CHARACTER SET utf8mb4",
)
"""The parity check's SQL: MD5 of the utf8mb4 text (its UTF-8 bytes), 8 hex digits read unsigned."""


PARITY_INDEX_NAME: Final = "parity_checksums"
"""The parity index's name (MySQL names indexes per table)."""

_PARITY_INDEX: Final = f", INDEX {PARITY_INDEX_NAME} {PARITY_INDEX}"
"""Parity's index over its stored columns, named per table (`restore.parity_columns`)."""


PARITY_INDEX_ROW_BYTES: Final = 96
"""What one row adds to its table's parity index in InnoDB, about: 58 bytes packed (measured after
an index build over 1M revisions' history rows), and pages filled by inserts in random order (the
index is in MD5 order) are far from full."""


def parity_indexes_fit(rows: int, buffer_pool_bytes: int) -> bool:
    """Whether the parity indexes of a bulk load of `rows` rows fit in InnoDB's buffer pool.

    Rows arrive in document order, so each primary key grows at its end, but their parity index is
    in MD5 order: every row lands on a random page of it. While the indexes fit in the buffer pool
    keeping them up costs less than building them after the load (which runs on one core while
    nothing else does: at 1M revisions with history and a 128 MB pool, 19.5-21.1 s against
    21.3-21.7 s); once they outgrow it, every row reads and writes back a page, and building them
    after the load is faster (at 1M with a 32 MB pool: 20.8 s against 26.5 s).

    >>> parity_indexes_fit(1_250_000, 128 * 2**20), parity_indexes_fit(1_250_000, 32 * 2**20)
    (True, False)
    """
    return rows * PARITY_INDEX_ROW_BYTES <= buffer_pool_bytes


def escape_percent(sql: str) -> str:
    """Double every ``%`` inside quotes, so PyMySQL's ``%s`` formatting leaves names and literals alone.

    Placeholders are never quoted; a quoted ``%`` (a table named ``percent%s``) would otherwise
    be read as one. Backslash escapes inside string literals are skipped over.

    >>> print(escape_percent("SELECT 1 FROM `percent%s` WHERE a = %s AND b = '5%'"))
    SELECT 1 FROM `percent%%s` WHERE a = %s AND b = '5%%'
    """
    out: list[str] = []
    closing: str | None = None
    escaped = False
    for ch in sql:
        if closing is None:
            if ch in "`'\"":
                closing = ch
        elif escaped:
            escaped = False
        elif ch == "\\" and closing != "`":
            escaped = True
        elif ch == closing:
            closing = None  # a doubled quote closes and reopens: same result
        elif ch == "%":
            ch = "%%"
        out.append(ch)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What the connected server is, as far as the SQL is concerned.

    Attributes:
        version: ``VERSION()``.
        mariadb: a MariaDB server (``VALUES()`` in upserts, ``LONGTEXT`` JSON).
        row_alias: ODKU names new values by alias (MySQL 8.0.19+) rather than ``VALUES()``.
        local_infile: the server's ``local_infile`` is ON.
    """

    version: str
    mariadb: bool
    row_alias: bool
    local_infile: bool

    @classmethod
    def from_version(cls, version: str, *, local_infile: bool) -> ServerInfo:
        """Read the flavour from ``VERSION()``.

        >>> ServerInfo.from_version("8.0.36", local_infile=True).row_alias
        True
        >>> ServerInfo.from_version("10.11.6-MariaDB-0+deb12u1", local_infile=True).row_alias
        False
        """
        mariadb = "mariadb" in version.lower()
        numbers = tuple(int(n) for n in re.findall(r"\d+", version.split("-", 1)[0])[:3])
        return cls(version, mariadb, not mariadb and numbers >= (8, 0, 19), local_infile)


def connect_args_from_url(url: str) -> dict[str, Any]:
    """PyMySQL's connect arguments for ``mysql://user:password@host:port/db?options``.

    Options: ``connect_timeout``, ``local_infile`` (``0`` never tries LOAD DATA LOCAL),
    ``ssl_ca``, ``ssl_cert``, ``ssl_key``, ``unix_socket``.

    >>> args = connect_args_from_url("mariadb://app:s%40cret@db.internal/dmv?local_infile=0")
    >>> args["host"], args["port"], args["user"], args["password"], args["database"], args["local_infile"]
    ('db.internal', 3306, 'app', 's@cret', 'dmv', False)
    """
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0].lower()
    database = unquote(parts.path.lstrip("/"))
    if scheme not in {"mysql", "mariadb"} or not database or "/" in database:
        raise UnsupportedTargetError(
            f"not a MySQL URL: {redact_url(url)}; write mysql://user:password@host:3306/database"
        )
    options = dict(parse_qsl(parts.query))
    unknown = sorted(set(options) - _URL_OPTIONS)
    if unknown:
        raise UnsupportedTargetError(
            f"unknown option(s) {', '.join(unknown)} in {redact_url(url)}; this target reads "
            f"{', '.join(sorted(_URL_OPTIONS))}"
        )
    args: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username) if parts.username else "root",
        "password": unquote(parts.password) if parts.password else "",
        "database": database,
        "charset": "utf8mb4",
        "autocommit": False,
        "connect_timeout": int(options.get("connect_timeout", "30")),
        "local_infile": options.get("local_infile", "1").lower() not in {"0", "false", "off", "no"},
    }
    if "unix_socket" in options:
        args["unix_socket"] = options["unix_socket"]
    ssl = {
        key.removeprefix("ssl_"): options[key] for key in ("ssl_ca", "ssl_cert", "ssl_key") if key in options
    }
    if ssl:
        args["ssl"] = ssl
    return args


def _error_code(exc: BaseException) -> int | None:
    code = exc.args[0] if exc.args else None
    return code if isinstance(code, int) else None


def _short(message: str) -> str:
    """The server message without quoted values (``Duplicate entry '...'``); column names stay."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return re.sub(r"'([^']*)'", lambda m: m.group(0) if m.group(1) in _KNOWN_WORDS else "'...'", first)


_CONCURRENT_DDL: Final = frozenset({1050, 1061})
"""ER_TABLE_EXISTS_ERROR, ER_DUP_KEYNAME: what `ensure_schema` meets when another connection creates
the same table, or adds the same missing index, between its check and its statement."""


def classify(exc: pymysql.err.MySQLError, where: str) -> TransientTargetError | TerminalTargetError:
    """Transient (retry after `reconnect`) or terminal, with the error code and no data values.

    >>> classify(pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"), "x")
    TransientTargetError('x: MySQL error 1213: Deadlock found when trying to get lock')
    >>> classify(pymysql.err.IntegrityError(1062, "Duplicate entry 'Ann' for key 'PRIMARY'"), "x")
    TerminalTargetError("x: MySQL error 1062: Duplicate entry '...' for key 'PRIMARY'")
    """
    code = _error_code(exc)
    message = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else ""
    text = f"MySQL error {code}: {_short(message)}" if code is not None else type(exc).__name__
    if code in TRANSIENT_CODES or isinstance(exc, pymysql.err.InterfaceError):
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
                    int(r.is_deleted),
                    int(r.is_redacted),
                    r.revision_hash,
                    r.data_hash,
                    r.data_json,
                    r.content_hash,
                )
            )
    return rows, tables


_NEEDS_ESCAPE: Final = re.compile("[\\\\\t\n\r\0]")


def _infile_text(value: str | None) -> str:
    r"""One text field of the LOAD DATA file (``ESCAPED BY '\\'``): NULL is ``\N``.

    >>> _infile_text(None), _infile_text("plain"), _infile_text('a\tb\\c\nd\\N')
    ('\\N', 'plain', 'a\\tb\\\\c\\nd\\\\N')
    """
    if value is None:
        return "\\N"
    if not _NEEDS_ESCAPE.search(value):
        return value
    # backslash first, so the escapes added next stay single (str.translate is 10x slower)
    return (
        value.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\0", "\\0")
    )


def _infile_line(row: tuple[Any, ...]) -> str:
    """One staging row (`STAGE_COLUMNS`) as a line; the types are known, so only text is escaped."""
    tbl, mask, table_name, doc_id, version, block_seq, tx_id, tx_time, deleted, redacted, rh, dh, data, ch = (
        row
    )
    t = _infile_text
    return (
        f"{tbl}\t{mask}\t{t(table_name)}\t{t(doc_id)}\t{version}\t{block_seq}\t{t(tx_id)}\t"
        f"{tx_time.isoformat(' ', 'microseconds')}\t{deleted}\t{redacted}\t{t(rh)}\t{t(dh)}\t"
        f"{t(data)}\t{t(ch)}\n"
    )


def _write_infile(content: bytes | memoryview) -> str:
    """Write a LOAD DATA file to a new temporary file; its path."""
    fd, path = tempfile.mkstemp(prefix="qldb-restore-", suffix=".txt")
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    return path


STAGE_FORMAT: Final = "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'"
"""The staging rows' file: tab-separated, backslash escapes, ``\\N`` for NULL (`_infile_line`)."""

CSV_FORMAT: Final = (
    "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '\\n'"
)
"""A bulk load's file (`restore.bulk.to_csv`): every value quoted, quotes doubled, unquoted NULL."""


def _serve_local_files(conn: pymysql.connections.Connection[Any], *, allow: bool) -> None:
    """Let PyMySQL answer the server's requests for a local file only during our LOAD DATA.

    Trap: with ``local_infile`` PyMySQL sends whatever file the server names, whenever it asks;
    a hostile server could read the client's files. Its private ``_local_infile`` decides, so it
    is on only for our own statement (if a PyMySQL release renames it, LOAD DATA still works).
    """
    conn._local_infile = allow  # type: ignore[attr-defined]


def render_apply_sql(tables: Sequence[TableNames], *, history: bool, row_alias: bool) -> list[str]:
    """The set-based statements of one batch, in order, for MariaDB (``VALUES()``) or MySQL 8.

    No statement has parameters (see the module docstring); ``tbl`` and mask bits are integers.

    >>> names = [TableNames("Person", "Person", "Person_history")]
    >>> mysql8, mariadb = (render_apply_sql(names, history=True, row_alias=a) for a in (True, False))
    >>> len(mysql8), "VALUES(" in " ".join(mysql8), "VALUES(version)" in mariadb[0]
    (4, False, True)
    """
    stage, tomb = quote(STAGE_TABLE), quote(TOMBSTONE_TABLE)

    def new(column: str) -> str:
        return f"n_{column}" if row_alias else f"VALUES({column})"

    def source(columns: Sequence[str], where: str) -> str:
        picked = ", ".join(f"s.{c} AS n_{c}" if "." not in c else c for c in columns)
        return f"SELECT * FROM (SELECT {picked} FROM {stage} AS s WHERE {where}) AS new"

    def guarded(columns: Sequence[str], guard: str) -> str:
        return ", ".join(f"{c} = IF({guard}, {new(c)}, {c})" for c in columns)

    tomb_guard = f"{new('version')} > version"
    statements = [
        f"INSERT INTO {tomb} ({', '.join(TOMBSTONE_COLUMNS)}) "
        f"{source(TOMBSTONE_COLUMNS, f'(s.mask & {TOMBSTONE}) <> 0')} ON DUPLICATE KEY UPDATE "
        f"{guarded(('block_seq', 'tx_time'), tomb_guard)}, version = GREATEST(version, {new('version')})"
    ]
    newer = f"{new('version')} > version"
    redacts = f"({new('version')} = version AND {new('data')} IS NULL AND data IS NOT NULL)"
    current_guard = f"{newer} OR {redacts}"
    history_guard = f"{new('is_redacted')} = 1 AND is_redacted = 0"
    for tbl, n in enumerate(tables):
        cur = quote(n.current)
        statements.append(
            f"DELETE c FROM {cur} AS c JOIN {stage} AS s ON c.doc_id = s.doc_id "
            f"WHERE s.tbl = {tbl} AND (s.mask & {TOMBSTONE}) <> 0 AND c.version < s.version"
        )
        not_tombstoned = (
            f"s.tbl = {tbl} AND (s.mask & {UPSERT}) <> 0 AND NOT EXISTS (SELECT 1 FROM {tomb} AS t "
            "WHERE t.table_name = s.table_name AND t.doc_id = s.doc_id AND t.version > s.version)"
        )
        statements.append(
            f"INSERT INTO {cur} ({', '.join(CURRENT_COLUMNS)}) {source(CURRENT_COLUMNS, not_tombstoned)} "
            "ON DUPLICATE KEY UPDATE "
            f"{guarded(('block_seq', 'tx_time', 'content_hash', 'data'), current_guard)}, "
            f"version = GREATEST(version, {new('version')})"
        )
        if history:
            statements.append(
                f"INSERT INTO {quote(n.history)} ({', '.join(HISTORY_COLUMNS)}) "
                f"{source(HISTORY_COLUMNS, f's.tbl = {tbl} AND (s.mask & {HISTORY}) <> 0')} "
                f"ON DUPLICATE KEY UPDATE data = IF({history_guard}, NULL, data), "
                f"content_hash = IF({history_guard}, NULL, content_hash), "
                f"{guarded(('data_hash',), history_guard)}, "
                f"is_redacted = GREATEST(is_redacted, {new('is_redacted')})"
            )
    return statements


_CHECKPOINT_COLUMNS: Final = (
    "restore_id",
    "format_version",
    "identity",
    "last_block_seq",
    "completed",
    "updated_at",
)


def render_checkpoint_sql(*, row_alias: bool) -> str:
    """The checkpoint upsert (PyMySQL ``%s`` parameters), for MariaDB or MySQL 8's row alias.

    >>> render_checkpoint_sql(row_alias=True).split(" ON ")[0].endswith("AS new")
    True
    """
    values = ", ".join(["%s"] * len(_CHECKPOINT_COLUMNS))
    alias = " AS new" if row_alias else ""
    sets = ", ".join(f"{c} = new.{c}" if row_alias else f"{c} = VALUES({c})" for c in _CHECKPOINT_COLUMNS[1:])
    return (
        f"INSERT INTO {quote(CHECKPOINT_TABLE)} ({', '.join(_CHECKPOINT_COLUMNS)}) VALUES ({values}){alias} "
        f"ON DUPLICATE KEY UPDATE {sets}"
    )


_TABLE_OPTIONS: Final = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

_STAGE_DDL: Final = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {quote(STAGE_TABLE)} (tbl INT NOT NULL, mask TINYINT NOT NULL, "
    "table_name VARCHAR(255) NOT NULL, doc_id VARCHAR(255) NOT NULL, version BIGINT NOT NULL, "
    "block_seq BIGINT NOT NULL, tx_id VARCHAR(255) NOT NULL, tx_time DATETIME(3) NOT NULL, "
    "is_deleted TINYINT NOT NULL, is_redacted TINYINT NOT NULL, revision_hash VARCHAR(255) NOT NULL, "
    f"data_hash VARCHAR(255), data LONGTEXT, content_hash VARCHAR(255)) {_TABLE_OPTIONS}"
)


class MysqlTarget(Target):
    """A MySQL or MariaDB database (the URL's path), created tables InnoDB utf8mb4_bin.

    Attributes:
        server: what the server is (flavour, ``local_infile``).
        bulk_load: how the last batch reached the server: ``LOAD DATA LOCAL INFILE`` or ``executemany``.
    """

    capabilities: ClassVar[TargetCapabilities] = TargetCapabilities(
        engine="mysql",
        identifiers=IdentifierRules(max_length=64, bmp_only=True),
        quote=quote,
        bulk_load="LOAD DATA LOCAL INFILE",
        dialect=DIALECT,
        bulk_insert=True,
        bulk_index_rebuild=True,  # when they would outgrow the buffer pool (rebuilds_parity_indexes)
    )

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._args = connect_args_from_url(url)
        self._conn, self.server = self._connect()
        self._use_infile = self.server.local_infile and bool(self._args["local_infile"])
        self.bulk_load: Literal["LOAD DATA LOCAL INFILE", "executemany"] = (
            "LOAD DATA LOCAL INFILE" if self._use_infile else "executemany"
        )

    def _connect(
        self, *, reconnecting: bool = False
    ) -> tuple[pymysql.connections.Connection[pymysql.cursors.Cursor], ServerInfo]:
        """Connect and prepare the session (time zone, strict mode, the staging table).

        A failure is terminal when the target is opened (a wrong URL should stop at once) and as
        the driver's classification says on `reconnect` (a server restarting is worth waiting for).
        """
        try:
            conn = pymysql.connect(**self._args)
        except pymysql.err.MySQLError as exc:
            error = classify(exc, "connecting")
            message = (
                f"cannot connect to {redact_url(self.url)} ({error.reason}); check that the server is "
                "running and the user, password and database in the URL"
            )
            if reconnecting and isinstance(error, TransientTargetError):
                raise TransientTargetError(message, where="reconnecting") from None
            raise TerminalTargetError(message, where="connecting") from None
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SET SESSION time_zone = '+00:00', SESSION sql_mode = "
                    "'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
                )
                cur.execute("SELECT VERSION(), @@GLOBAL.local_infile")
                row = cur.fetchone()
                assert row is not None  # a SELECT without FROM returns one row
                cur.execute(_STAGE_DDL)
            conn.commit()
            _serve_local_files(conn, allow=False)
        except pymysql.err.MySQLError as exc:
            conn.close()
            raise classify(exc, "preparing the session") from None
        return conn, ServerInfo.from_version(str(row[0]), local_infile=bool(row[1]))

    def _table_ddl(self, name: str, columns: str) -> str:
        return f"CREATE TABLE IF NOT EXISTS {quote(name)} ({columns}) {_TABLE_OPTIONS}"

    def ddl(self, names: Sequence[TableNames], *, history: bool) -> list[str]:
        """CREATE TABLE IF NOT EXISTS for the current, history and bookkeeping tables."""
        json_type = "LONGTEXT CHECK (JSON_VALID(data))" if self.server.mariadb else "JSON"
        identity = (
            "LONGTEXT NOT NULL CHECK (JSON_VALID(identity))" if self.server.mariadb else "JSON NOT NULL"
        )
        statements = [
            self._table_ddl(
                CHECKPOINT_TABLE,
                "restore_id VARCHAR(191) NOT NULL PRIMARY KEY, format_version INT NOT NULL, identity "
                f"{identity}, "
                "last_block_seq BIGINT NOT NULL, completed BOOLEAN NOT NULL, updated_at DATETIME(3) NOT NULL",
            ),
            self._table_ddl(
                TOMBSTONE_TABLE,
                "table_name VARCHAR(128) NOT NULL, doc_id VARCHAR(128) NOT NULL, version BIGINT NOT NULL, "
                "block_seq BIGINT NOT NULL, tx_time DATETIME(3) NOT NULL, PRIMARY KEY (table_name, doc_id)",
            ),
        ]
        for n in names:
            statements.append(
                self._table_ddl(
                    n.current,
                    "doc_id VARCHAR(128) NOT NULL PRIMARY KEY, version BIGINT NOT NULL, block_seq BIGINT "
                    "NOT NULL, "
                    f"tx_time DATETIME(3) NOT NULL, data {json_type}, content_hash CHAR(64) CHARACTER SET "
                    f"ascii{parity_column_ddl(DIALECT, history=False)}{_PARITY_INDEX}",
                )
            )
            if history:
                statements.append(
                    self._table_ddl(
                        n.history,
                        "doc_id VARCHAR(128) NOT NULL, version BIGINT NOT NULL, block_seq BIGINT NOT NULL, "
                        "tx_id VARCHAR(128) NOT NULL, tx_time DATETIME(3) NOT NULL, is_deleted BOOLEAN NOT "
                        "NULL, "
                        "is_redacted BOOLEAN NOT NULL, revision_hash VARCHAR(128) NOT NULL, data_hash "
                        "VARCHAR(128), "
                        f"data {json_type}, content_hash CHAR(64) CHARACTER SET ascii"
                        f"{parity_column_ddl(DIALECT, history=True)}{_PARITY_INDEX}, "
                        "PRIMARY KEY (doc_id, version)",
                    )
                )
        return statements

    def ensure_schema(self, names: Sequence[TableNames], *, history: bool) -> None:
        """Create the missing tables (each DDL statement commits on its own in MySQL).

        A table with the parity columns but not their index (dropped by hand, or by a bulk load of
        an earlier version that did not finish) gets the index back; a table restored before the
        parity columns keeps its shape.
        """
        tables = target_tables(names, history=history)
        try:
            with self._conn.cursor() as cur:
                for statement in self.ddl(names, history=history):
                    cur.execute(statement)
                cur.execute(
                    "SELECT c.TABLE_NAME FROM information_schema.COLUMNS AS c "
                    "WHERE c.TABLE_SCHEMA = DATABASE() AND c.COLUMN_NAME = 'parity_doc_hash' "
                    "AND NOT EXISTS (SELECT 1 FROM information_schema.STATISTICS AS s "
                    "WHERE s.TABLE_SCHEMA = c.TABLE_SCHEMA AND s.TABLE_NAME = c.TABLE_NAME "
                    "AND s.INDEX_NAME = %s)",
                    (PARITY_INDEX_NAME,),
                )
                unindexed = {str(r[0]).lower() for r in cur.fetchall()}  # names equal but for case: refused
                for table in tables:
                    if table.lower() in unindexed:
                        index = f"{PARITY_INDEX_NAME} {PARITY_INDEX}"
                        cur.execute(f"ALTER TABLE {quote(table)} ADD INDEX {index}")
            self._conn.commit()
        except pymysql.err.MySQLError as exc:
            self._rollback()
            if _error_code(exc) in _CONCURRENT_DDL:  # another worker got there first: again, it sees it
                raise TransientTargetError(
                    f"{_error_code(exc)} {CONCURRENT_DDL}", where="creating tables"
                ) from None
            raise classify(exc, "creating tables") from None

    def read_checkpoint(self, restore_id: str) -> Checkpoint | None:
        """The saved checkpoint row, if the table and the row exist."""
        try:
            with self._conn.cursor() as cur:
                cur.execute(
                    "SELECT restore_id, identity, last_block_seq, completed, format_version, updated_at "
                    f"FROM {quote(CHECKPOINT_TABLE)} WHERE restore_id = %s",
                    (restore_id,),
                )
                row = cur.fetchone()
            self._conn.commit()
        except pymysql.err.MySQLError as exc:
            self._rollback()
            if _error_code(exc) == 1146:  # ER_NO_SUCH_TABLE
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
        """Load the effects into staging, then set-based statements and the checkpoint: one transaction."""
        rows, tables = _stage_rows(batch, names, history=history)
        try:
            with self._conn.cursor() as cur:
                # TRUNCATE, not DELETE: see the module docstring
                cur.execute(f"TRUNCATE TABLE {quote(STAGE_TABLE)}")
                self._load(cur, rows, batch.where)
                for statement in render_apply_sql(tables, history=history, row_alias=self.server.row_alias):
                    cur.execute(statement)
                self._write_checkpoint(cur, checkpoint)
            self._conn.commit()
        except pymysql.err.MySQLError as exc:
            self._rollback()
            raise classify(exc, batch.where) from None
        except UnicodeEncodeError:
            self._rollback()
            raise TerminalTargetError(
                "a value is not valid UTF-8 (a lone surrogate); check the archive", where=batch.where
            ) from None
        except OSError as exc:  # the LOAD DATA file: a full or read-only temporary folder
            self._rollback()
            raise TerminalTargetError(
                f"cannot write the LOAD DATA file in {tempfile.gettempdir()} ({exc.strerror}); free space "
                "there, set TMPDIR, or add ?local_infile=0 to the URL",
                where=batch.where,
            ) from None
        except TerminalTargetError:
            self._rollback()
            raise

    def is_empty(
        self, names: Sequence[TableNames], *, history: bool, shard: tuple[int, int] = (1, 1)
    ) -> bool:
        """Whether the tables and their tombstones hold no row (of `shard`'s documents only).

        A table not yet created holds none.
        """
        if not names:
            return True
        marks = ", ".join(["%s"] * len(names))
        try:
            with self._conn.cursor() as cur:
                cur.execute(
                    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
                )
                found = {str(r[0]).lower() for r in cur.fetchall()}  # as ensure_schema compares them
                wanted = [*target_tables(names, history=history), TOMBSTONE_TABLE]
                existing = {t for t in wanted if t.lower() in found}
                query = render_is_empty(
                    names,
                    history=history,
                    quote=quote,
                    tombstone_filter=f"table_name IN ({marks})",
                    existing=existing,
                    row_filter=shard_filter(DIALECT.md5_int32, "doc_id", shard),
                )
                empty = True  # none of them exists yet
                if query is not None:
                    params = [n.qldb for n in names] if TOMBSTONE_TABLE in existing else []
                    cur.execute(escape_percent(query), params)
                    row = cur.fetchone()
                    empty = row is not None and not row[0]
            self._conn.commit()
        except pymysql.err.MySQLError as exc:
            self._rollback()
            raise classify(exc, "checking that the tables are empty") from None
        return empty

    def rebuilds_parity_indexes(self, rows: int) -> bool:
        """Build the parity indexes after the load when they would outgrow InnoDB's buffer pool."""
        try:
            with self._conn.cursor() as cur:
                cur.execute("SELECT @@innodb_buffer_pool_size")
                pool = int(cur.fetchall()[0][0])
            self._conn.commit()
        except pymysql.err.MySQLError as exc:
            self._rollback()
            raise classify(exc, "reading the InnoDB buffer pool size") from None
        if parity_indexes_fit(rows, pool):
            return False
        logger.info(
            "the parity indexes of %d rows (about %d MiB) outgrow the %d MiB InnoDB buffer pool: "
            "building them after the load",
            rows,
            rows * PARITY_INDEX_ROW_BYTES // 2**20,
            pool // 2**20,
        )
        return True

    def drop_parity_indexes(self, names: Sequence[TableNames], *, history: bool) -> None:
        """ALTER TABLE ... DROP INDEX of each table's parity index, where it has one."""
        tables = target_tables(names, history=history)
        try:
            with self._conn.cursor() as cur:
                cur.execute(
                    "SELECT TABLE_NAME FROM information_schema.STATISTICS "
                    "WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME = %s",
                    (PARITY_INDEX_NAME,),
                )
                indexed = {str(r[0]).lower() for r in cur.fetchall()}  # as ensure_schema compares them
                for table in tables:
                    if table.lower() in indexed:
                        cur.execute(f"ALTER TABLE {quote(table)} DROP INDEX {PARITY_INDEX_NAME}")
            self._conn.commit()
        except pymysql.err.MySQLError as exc:
            self._rollback()
            raise classify(exc, "dropping the parity indexes") from None

    def load_bulk(self, parts: Sequence[BulkRows], names: Mapping[str, TableNames]) -> None:
        """Load each slice's rows straight into its tables (CSV), in one transaction."""
        where = parts[0].where if parts else "bulk-loading"
        try:
            with self._conn.cursor() as cur:
                for where, table, columns, rows in slice_loads(parts, names):
                    self._load_rows(cur, table, columns, rows, where)
            self._conn.commit()
        except pymysql.err.MySQLError as exc:
            self._rollback()
            raise classify(exc, where) from None
        except OSError as exc:
            self._rollback()
            raise TerminalTargetError(
                f"cannot write the LOAD DATA file in {tempfile.gettempdir()} ({exc.strerror}); free space "
                "there, set TMPDIR, or add ?local_infile=0 to the URL",
                where=where,
            ) from None
        except TerminalTargetError:
            self._rollback()
            raise

    def _load_rows(
        self, cur: pymysql.cursors.Cursor, table: str, columns: Sequence[str], rows: pa.Table, where: str
    ) -> None:
        """Insert Arrow rows into `table` (a bulk load): their CSV, or multi-row INSERTs."""
        self._load_into(
            cur,
            table,
            columns,
            count=rows.num_rows,
            file=lambda: to_csv(rows, null="NULL", booleans_as_integers=True),
            file_format=CSV_FORMAT,
            values=lambda: list(zip(*(rows.column(c).to_pylist() for c in columns), strict=True)),
            where=where,
        )

    def _load_into(
        self,
        cur: pymysql.cursors.Cursor,
        table: str,
        columns: Sequence[str],
        *,
        count: int,
        file: Callable[[], bytes | memoryview],
        file_format: str,
        values: Callable[[], Sequence[Sequence[Any]]],
        where: str,
    ) -> None:
        """LOAD DATA LOCAL INFILE of the `file` made (in `file_format`), or multi-row INSERTs of `values`.

        The INSERTs when the server or the URL refuses LOAD DATA LOCAL (then for the rest of the
        connection). Either way `table` may be a user's name: the statements escape ``%``.
        """
        if self._use_infile:
            path = _write_infile(file())
            _serve_local_files(self._conn, allow=True)
            try:
                loaded = cur.execute(
                    escape_percent(
                        f"LOAD DATA LOCAL INFILE %s INTO TABLE {quote(table)} CHARACTER SET utf8mb4 "
                        f"{file_format} ({', '.join(columns)})"
                    ),
                    (path,),
                )
            except pymysql.err.MySQLError as exc:
                if _error_code(exc) not in LOCAL_INFILE_REFUSED:
                    raise
                logger.info(
                    "%s refuses LOAD DATA LOCAL INFILE (error %s); loading with multi-row INSERTs",
                    redact_url(self.url),
                    _error_code(exc),
                )
                self._use_infile = False
            else:
                self._check_loaded(cur, loaded, count, where)
                return
            finally:
                _serve_local_files(self._conn, allow=False)
                os.unlink(path)
        marks = ", ".join(["%s"] * len(columns))
        cur.executemany(
            escape_percent(f"INSERT INTO {quote(table)} ({', '.join(columns)}) VALUES ({marks})"), values()
        )
        self.bulk_load = "executemany"

    def _check_loaded(self, cur: pymysql.cursors.Cursor, loaded: int, expected: int, where: str) -> None:
        """LOAD DATA turns bad values into warnings: any warning, or a row short, is a terminal error."""
        cur.execute("SELECT @@warning_count")
        warnings = cur.fetchone()
        if loaded != expected or (warnings is not None and warnings[0]):
            raise TerminalTargetError(
                f"LOAD DATA loaded {loaded} of {expected} rows with {warnings[0] if warnings else '?'} "
                "warning(s) (a value too long or invalid); retry with ?local_infile=0 to get the error",
                where=where,
            )
        self.bulk_load = "LOAD DATA LOCAL INFILE"

    def _load(self, cur: pymysql.cursors.Cursor, rows: list[tuple[Any, ...]], where: str) -> None:
        """Fill the staging table: LOAD DATA LOCAL INFILE, or multi-row INSERTs when it is refused."""
        if rows:
            self._load_into(
                cur,
                STAGE_TABLE,
                STAGE_COLUMNS,
                count=len(rows),
                file=lambda: "".join(map(_infile_line, rows)).encode("utf-8"),
                file_format=STAGE_FORMAT,
                values=lambda: rows,
                where=where,
            )

    def _write_checkpoint(self, cur: pymysql.cursors.Cursor, checkpoint: Checkpoint) -> None:
        cur.execute(
            render_checkpoint_sql(row_alias=self.server.row_alias),
            (
                checkpoint.restore_id,
                checkpoint.format_version,
                checkpoint.identity.to_json(),
                checkpoint.last_block_seq,
                int(checkpoint.completed),
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
            ),
        )

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Write a checkpoint on its own (the end of a run with nothing left to apply)."""
        try:
            with self._conn.cursor() as cur:
                self._write_checkpoint(cur, checkpoint)
            self._conn.commit()
        except pymysql.err.MySQLError as exc:
            self._rollback()
            raise classify(exc, "writing the checkpoint") from None

    def _rollback(self) -> None:
        """Roll back; a broken connection has nothing to roll back (the server already did)."""
        try:
            self._conn.rollback()
        except pymysql.err.MySQLError:
            logger.debug("rollback failed on %s; the connection is gone", redact_url(self.url))

    def _fetch(self, query: str, what: str) -> tuple[tuple[Any, ...], ...]:
        try:
            with self._conn.cursor() as cur:
                cur.execute(query)
                rows = cur.fetchall()
            self._conn.commit()
        except pymysql.err.MySQLError as exc:
            self._rollback()
            raise classify(exc, what) from None
        return rows

    def fetch_current(self, names: TableNames) -> Iterator[CurrentRow]:
        """Every current row, by doc_id (binary order, as Python sorts)."""
        rows = self._fetch(
            f"SELECT doc_id, version, block_seq, tx_time, data, content_hash FROM {quote(names.current)} "
            "ORDER BY doc_id",
            f"reading {names.current!r}",
        )
        for r in rows:
            yield CurrentRow(r[0], r[1], r[2], r[3], _json(r[4]), r[5])

    def fetch_history(self, names: TableNames) -> Iterator[HistoryRow]:
        """Every history row, by doc_id and version."""
        rows = self._fetch(
            "SELECT doc_id, version, block_seq, tx_id, tx_time, is_deleted, is_redacted, revision_hash, "
            f"data_hash, data, content_hash FROM {quote(names.history)} ORDER BY doc_id, version",
            f"reading {names.history!r}",
        )
        for r in rows:
            yield HistoryRow(
                r[0], r[1], r[2], r[3], r[4], bool(r[5]), bool(r[6]), r[7], r[8], _json(r[9]), r[10]
            )

    def query(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """Run one read-only statement (``%s`` placeholders) in its own transaction; its rows."""
        try:
            with self._conn.cursor() as cur:
                cur.execute(escape_percent(sql), tuple(params))
                rows = list(cur.fetchall())
            self._conn.commit()
        except pymysql.err.MySQLError as exc:
            self._rollback()
            raise classify(exc, "reading for the parity check") from None
        return rows

    def typed_column_ddl(self, names: TableNames, columns: Sequence[TypedColumn]) -> list[str]:
        """ALTER TABLE ... ADD COLUMN ... GENERATED ALWAYS AS (...) VIRTUAL, one per column."""
        engine: TypedEngine = "mariadb" if self.server.mariadb else "mysql"
        return [render_typed_column(engine, names.current, c, quote=quote) for c in columns]

    def add_typed_columns(self, names: TableNames, columns: Sequence[TypedColumn]) -> list[str]:
        """Add the missing typed columns (each ALTER TABLE commits on its own); the names added."""
        try:
            with self._conn.cursor() as cur:
                cur.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = DATABASE() AND table_name = %s",
                    (names.current,),
                )
                existing = {str(r[0]).lower() for r in cur.fetchall()}
                missing = [c for c in columns if c.column.lower() not in existing]
                for statement in self.typed_column_ddl(names, missing):
                    cur.execute(statement)
            self._conn.commit()
        except pymysql.err.MySQLError as exc:
            self._rollback()
            raise classify(exc, f"adding typed columns to {names.current!r}") from None
        return [c.column for c in missing]

    def reconnect(self) -> None:
        """Close the connection (it may be broken) and open a new one with its staging table."""
        self.close()
        self._conn, self.server = self._connect(reconnecting=True)

    def close(self) -> None:
        """Close the connection."""
        if self._conn.open:
            try:
                self._conn.close()
            except pymysql.err.MySQLError:
                logger.debug("closing a broken connection to %s", redact_url(self.url))


def _json(text: str | bytes | None) -> Any:
    return None if text is None else json.loads(text)

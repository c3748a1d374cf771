"""Ledger-grade PostgreSQL: the ``postgresql://...?mode=ledger`` target, verifiable like the journal.

Aurora PostgreSQL is what AWS pointed QLDB users to; this target keeps what made QLDB a ledger.
Beside the current tables (as `restore.targets.postgresql` writes them) it keeps, append-only:

- ``T_history`` for every QLDB table ``T``: every revision once, with its QLDB metadata (doc_id,
  version, block_seq, tx_id, tx_time), its revision hash and data hash, the JSON projection of its
  data and the revision's lossless Ion text (``revision_ion``), from which every hash recomputes;
- ``qldb_ledger_blocks``: every block of the journal (blocks without user revisions too), with
  its blockHash, entriesHash, previousBlockHash, entriesHashList, revision summaries and the
  lossless Ion of its transactionInfo and redactionInfo: the chain;
- ``qldb_ledger_tables``: which history table holds which QLDB table (what ``verify`` reads).

The database itself refuses UPDATE, DELETE and TRUNCATE on these tables: ``BEFORE`` triggers
calling ``qldb_ledger_refuse_change()`` raise SQLSTATE 42501. A table owner or superuser can
still disable a trigger, which is why ``qldb-archive verify postgresql://...`` recomputes every
revision hash and the chain from the rows (`restore.ledger_verify`): give applications a role with
SELECT and INSERT only, and keep the restore's role for restores.

Everything a batch writes (current rows, tombstones, history rows, blocks, checkpoint) commits in
one transaction, so a killed restore resumes exactly; re-applied rows are ignored (``ON CONFLICT
DO NOTHING``), never updated. History is always written in this mode, with or without --history.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from restore.batch import RevisionBatch, batch_effects
from restore.errors import IdentifierError, TerminalTargetError, UnsupportedTargetError
from restore.parity_columns import parity_column_ddl
from restore.targets.base import TargetCapabilities
from restore.targets.postgresql import DIALECT, PostgresTarget, _stage_rows, classify, parity_index_ddl, quote

if TYPE_CHECKING:
    from restore.checkpoint import Checkpoint
    from restore.identifiers import TableNames

__all__ = [
    "LEDGER_BLOCKS_TABLE",
    "LEDGER_TABLES_TABLE",
    "REFUSE_FUNCTION",
    "PostgresLedgerTarget",
    "is_ledger_url",
    "plain_url",
]

logger = logging.getLogger(__name__)

LEDGER_BLOCKS_TABLE: Final = "qldb_ledger_blocks"
LEDGER_TABLES_TABLE: Final = "qldb_ledger_tables"
REFUSE_FUNCTION: Final = "qldb_ledger_refuse_change"
LEDGER_STAGE_TABLE: Final = "qldb_ledger_stage"
REFUSED_SQLSTATE: Final = "42501"
"""insufficient_privilege: what an UPDATE, DELETE or TRUNCATE on a ledger table raises."""

_HISTORY_COLUMNS: Final = (
    "doc_id, version, block_seq, tx_id, tx_time, is_deleted, is_redacted, revision_hash, data_hash, data, "
    "content_hash, revision_ion"
)
_BLOCK_COLUMNS: Final = (
    "block_seq, strand_id, tx_id, block_timestamp, block_hash, entries_hash, previous_block_hash, "
    "entries_hash_list, revision_summaries_json, transaction_info_ion, redaction_info_ion"
)


def is_ledger_url(url: str) -> bool:
    """Whether a PostgreSQL URL asks for ledger mode (``mode=ledger``).

    Raises:
        UnsupportedTargetError: ``mode`` has another value.

    >>> is_ledger_url("postgresql://u@h/db?mode=ledger"), is_ledger_url("postgresql://u@h/db")
    (True, False)
    """
    modes = [v for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True) if k == "mode"]
    if not modes:
        return False
    if modes != ["ledger"]:
        raise UnsupportedTargetError(
            f"unknown PostgreSQL target mode {', '.join(modes)!r}: the only mode is mode=ledger"
        )
    return True


def plain_url(url: str) -> str:
    """The URL without its ``mode`` parameter (libpq refuses parameters it does not know).

    >>> plain_url("postgresql://u@h/db?mode=ledger&sslmode=require")
    'postgresql://u@h/db?sslmode=require'
    """
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "mode"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _append_only(table: str) -> list[str]:
    refuse = quote(REFUSE_FUNCTION)
    return [
        f"CREATE OR REPLACE TRIGGER qldb_ledger_append_only BEFORE UPDATE OR DELETE ON {quote(table)} "
        f"FOR EACH ROW EXECUTE FUNCTION {refuse}()",
        f"CREATE OR REPLACE TRIGGER qldb_ledger_no_truncate BEFORE TRUNCATE ON {quote(table)} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {refuse}()",
    ]


class PostgresLedgerTarget(PostgresTarget):
    """A PostgreSQL schema kept as a ledger (see the module docstring)."""

    capabilities: ClassVar[TargetCapabilities] = TargetCapabilities(
        engine="postgresql",
        identifiers=PostgresTarget.capabilities.identifiers,
        quote=quote,
        bulk_load="COPY",
        dialect=PostgresTarget.capabilities.dialect,
        revision_ion=True,
        blocks=True,
        whole_journal=True,
    )

    def __init__(self, url: str) -> None:
        super().__init__(plain_url(url))
        self.url = url

    def _connect(self, *, reconnecting: bool = False) -> psycopg.Connection[tuple[Any, ...]]:
        conn = super()._connect(reconnecting=reconnecting)
        try:
            conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {quote(LEDGER_STAGE_TABLE)} (tbl integer NOT NULL, "
                "doc_id text NOT NULL, version bigint NOT NULL, block_seq bigint NOT NULL, "
                "tx_id text NOT NULL, tx_time timestamp(3) NOT NULL, is_deleted boolean NOT NULL, "
                "is_redacted boolean NOT NULL, revision_hash text NOT NULL, data_hash text, data jsonb, "
                "content_hash text, revision_ion text NOT NULL) ON COMMIT DELETE ROWS"
            )
            conn.commit()
        except psycopg.Error as exc:
            conn.close()
            raise classify(exc, "preparing the session") from None
        return conn

    def ddl(self, names: Sequence[TableNames], *, history: bool) -> list[str]:
        """The current tables and bookkeeping (as PostgreSQL), the ledger tables and their triggers.

        Raises:
            IdentifierError: a QLDB table would take the name of a ledger table.
        """
        own = {LEDGER_BLOCKS_TABLE, LEDGER_TABLES_TABLE}
        for n in names:
            if {n.current.casefold(), n.history.casefold()} & own:
                raise IdentifierError(n.qldb, reason="the name is one of the ledger target's own tables")
        statements = super().ddl(names, history=False)
        statements += [
            f"CREATE OR REPLACE FUNCTION {quote(REFUSE_FUNCTION)}() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'qldb-archive ledger table %: % refused, the table is append-only', "
            f"TG_TABLE_NAME, TG_OP USING ERRCODE = '{REFUSED_SQLSTATE}'; END $$",
            f"CREATE TABLE IF NOT EXISTS {quote(LEDGER_TABLES_TABLE)} (table_name text PRIMARY KEY, "
            "current_table text NOT NULL, history_table text NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {quote(LEDGER_BLOCKS_TABLE)} (block_seq bigint PRIMARY KEY, "
            "strand_id text NOT NULL, tx_id text NOT NULL, block_timestamp timestamp(3) NOT NULL, "
            "block_hash text NOT NULL, entries_hash text NOT NULL, previous_block_hash text NOT NULL, "
            "entries_hash_list text[] NOT NULL, revision_summaries_json text, transaction_info_ion text, "
            "redaction_info_ion text)",
        ]
        statements += _append_only(LEDGER_TABLES_TABLE) + _append_only(LEDGER_BLOCKS_TABLE)
        for n in names:
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {quote(n.history)} (doc_id text NOT NULL, "
                "version bigint NOT NULL, block_seq bigint NOT NULL, tx_id text NOT NULL, "
                "tx_time timestamp(3) NOT NULL, is_deleted boolean NOT NULL, is_redacted boolean NOT NULL, "
                "revision_hash text NOT NULL, data_hash text, data jsonb, content_hash text, "
                f"revision_ion text NOT NULL{parity_column_ddl(DIALECT, history=True)}, "
                "PRIMARY KEY (doc_id, version))"
            )
            statements += [parity_index_ddl(n.history), *_append_only(n.history)]
        return statements

    def ensure_schema(self, names: Sequence[TableNames], *, history: bool) -> None:
        """Create what is missing, then register each QLDB table's history table.

        Raises:
            TerminalTargetError: the schema already maps a QLDB table to other tables (another
                --table-map): restore into an empty schema.
        """
        super().ensure_schema(names, history=history)
        try:
            for n in names:
                self._conn.execute(
                    f"INSERT INTO {quote(LEDGER_TABLES_TABLE)} (table_name, current_table, history_table) "
                    "VALUES (%s, %s, %s) ON CONFLICT (table_name) DO NOTHING",
                    (n.qldb, n.current, n.history),
                )
            registered = self._conn.execute(
                f"SELECT table_name, current_table, history_table FROM {quote(LEDGER_TABLES_TABLE)}"
            ).fetchall()
            self._conn.commit()
        except psycopg.Error as exc:
            self._rollback()
            raise classify(exc, "registering the ledger tables") from None
        wanted = {n.qldb: (n.current, n.history) for n in names}
        for qldb, current, history_table in registered:
            if qldb in wanted and wanted[qldb] != (current, history_table):
                raise TerminalTargetError(
                    f"QLDB table {qldb!r} is already kept in {current!r} and {history_table!r} here; restore "
                    "with the same --table-map, or into an empty schema",
                    where="registering the ledger tables",
                )

    def apply(
        self,
        batch: RevisionBatch,
        names: Mapping[str, TableNames],
        checkpoint: Checkpoint,
        *,
        history: bool,
    ) -> None:
        """Current rows and tombstones (as PostgreSQL), history rows, blocks, checkpoint: one transaction."""
        rows, tables = _stage_rows(batch, names, history=False)
        ledger_rows, ledger_tables = self._ledger_rows(batch, names)
        try:
            with self._conn.cursor() as cur:
                self._copy(cur, rows)
                for statement in self._statements(tables, history=False):
                    cur.execute(statement)
                if ledger_rows:
                    with cur.copy(
                        f"COPY {quote(LEDGER_STAGE_TABLE)} (tbl, {_HISTORY_COLUMNS}) FROM STDIN"
                    ) as copy:
                        for row in ledger_rows:
                            copy.write_row(row)
                for tbl, n in enumerate(ledger_tables):
                    cur.execute(
                        f"INSERT INTO {quote(n.history)} ({_HISTORY_COLUMNS}) SELECT {_HISTORY_COLUMNS} "
                        f"FROM {quote(LEDGER_STAGE_TABLE)} WHERE tbl = {tbl} "
                        "ON CONFLICT (doc_id, version) DO NOTHING"
                    )
                if batch.blocks:
                    cur.executemany(
                        f"INSERT INTO {quote(LEDGER_BLOCKS_TABLE)} ({_BLOCK_COLUMNS}) VALUES "
                        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (block_seq) DO NOTHING",
                        [
                            (
                                b.block_seq,
                                b.strand_id,
                                b.tx_id,
                                b.block_timestamp,
                                b.block_hash,
                                b.entries_hash,
                                b.previous_block_hash,
                                list(b.entries_hash_list),
                                b.revision_summaries_json,
                                b.transaction_info_ion,
                                b.redaction_info_ion,
                            )
                            for b in batch.blocks
                        ],
                    )
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

    @staticmethod
    def _ledger_rows(
        batch: RevisionBatch, names: Mapping[str, TableNames]
    ) -> tuple[list[tuple[Any, ...]], list[TableNames]]:
        """Every revision of the batch once (the redacted copy first), for the history tables.

        Raises:
            TerminalTargetError: a revision without its Ion text (the runner reads it for this target).
        """
        rows: list[tuple[Any, ...]] = []
        tables: list[TableNames] = []
        for table, effects in batch_effects(batch.rows).items():
            tbl = len(tables)
            tables.append(names[table])
            for r in effects.history:
                if r.revision_ion is None:
                    raise TerminalTargetError(
                        f"document {r.doc_id} version {r.version} (block {r.block_seq}) came without its "
                        "revision Ion",
                        where=batch.where,
                    )
                rows.append(
                    (
                        tbl,
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
                        r.revision_ion,
                    )
                )
        return rows, tables

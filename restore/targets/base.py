"""The target contract: what every database the restore writes to must do, and its capabilities.

A target owns one connection. `apply` is the whole write path: for one batch of whole blocks it
upserts tombstones, upserts current rows under the version guard, deletes current rows below a
tombstone, writes history rows and the checkpoint row, all in one transaction (see
`restore.batch` for why that converges). Errors leave as `TransientTargetError` (retry after
`reconnect`) or `TerminalTargetError` (stop), decided by the engine's classifier.

Tables (names from `restore.identifiers`, only ever through ``capabilities.quote``):

- current ``T``: doc_id (primary key), version, block_seq, tx_time, data (JSON), content_hash;
- history ``T_history`` (``--history``): primary key (doc_id, version), block_seq, tx_id,
  tx_time, is_deleted, is_redacted, revision_hash, data_hash, data, content_hash;
- on MySQL and PostgreSQL, both also have parity's generated checksum columns
  (`restore.parity_columns`), which no writer names;
- ``qldb_restore_tombstones``: (table_name, doc_id) primary key, version, block_seq, tx_time;
- ``qldb_restore_checkpoint``: restore_id primary key, format_version, identity (JSON),
  last_block_seq, completed, updated_at.

One unique key per table (the primary key): MySQL's upsert can pick the wrong row otherwise.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

if TYPE_CHECKING:
    from athena.typed import TypedColumn
    from restore.batch import RevisionBatch
    from restore.bulk import BulkRows
    from restore.checkpoint import Checkpoint
    from restore.identifiers import IdentifierRules, TableNames
    from restore.ledger_archive import ExpectedData
    from restore.ledger_hashes import DataHashReport

__all__ = ["CONCURRENT_DDL", "CurrentRow", "HistoryRow", "SqlDialect", "Target", "TargetCapabilities"]

CONCURRENT_DDL: Final = "another connection created the same table or index at the same time"
"""Why `Target.ensure_schema` failed transiently: workers of one split (or ``--shard``) that start
together create the same tables; run again, it finds them there."""


@dataclass(frozen=True, slots=True)
class SqlDialect:
    """The few SQL spellings the parity check needs, per engine (parameters never inlined).

    Attributes:
        placeholder: the driver's parameter marker (``?`` or ``%s``).
        md5_int32: SQL for the 32-bit integer read from 8 hex digits of MD5(expr), starting at a
            1-based offset: what ``from_base(substr(to_hex(md5(...)), offset, 8), 16)`` is in Athena.
        concat: SQL concatenating SQL expressions as text.
        int_to_text: SQL casting an integer expression to its decimal text.
        int_div: SQL dividing an integer expression by a positive integer constant, rounding down.
        md5_digest: SQL for MD5(expr) in a form `digest_int32` reads, so one MD5 of a row key
            gives both checksum halves (None: `md5_int32` is spelled twice).
        digest_int32: SQL for what `md5_int32` gives at an offset (1 or 9), from a `md5_digest`.
        no_merge: what ends a derived table's query so the engine computes its columns once
            instead of merging it into the outer query (which would compute MD5 twice).
        stored_int32: the column type of the STORED generated checksum columns the restore adds
            (`restore.parity_columns`); None: the engine gets none and parity hashes at query time.
        stored_hash_text: the text type a VIRTUAL column re-types content_hash to before the
            stored columns hash it (MariaDB refuses a charset conversion inside them: ascii to
            utf8mb4); None: they read content_hash itself.
        written_checksums: the engine cannot compute the checksums itself (SQLite has no MD5), so
            the restore writes them as plain columns and a trigger clears them when a row's key
            columns change without them: parity reads ``COALESCE(stored, computed)``.
    """

    placeholder: str
    md5_int32: Callable[[str, int], str]
    concat: Callable[[Sequence[str]], str]
    int_to_text: Callable[[str], str]
    int_div: Callable[[str, int], str]
    md5_digest: Callable[[str], str] | None = None
    digest_int32: Callable[[str, int], str] | None = None
    no_merge: str = ""
    stored_int32: str | None = None
    stored_hash_text: str | None = None
    written_checksums: bool = False


@dataclass(frozen=True, slots=True)
class TargetCapabilities:
    """What an engine accepts and how names enter its SQL.

    Attributes:
        engine: ``sqlite``, ``mysql`` or ``postgresql``.
        identifiers: the table-name rules.
        quote: the only way a table name enters SQL.
        bulk_load: how batches reach the server (for the report): ``executemany``, ``COPY``...
        dialect: the SQL spellings of the parity check.
        revision_ion: the target needs each revision's lossless Ion (`RevisionRow.revision_ion`).
        blocks: the target keeps the journal's blocks (`RevisionBatch.blocks`).
        whole_journal: the target holds the whole journal (a ledger): no ``--table``, no ``--shard``.
        data_hash_check: after a restore, the target compares each current document's data hash
            with the archive's (`Target.compare_data_hashes`).
        bulk_insert: a first restore into empty tables may load their final rows straight into
            them (`Target.is_empty`, `Target.load_bulk`; `restore.bulk`).
        bulk_index_rebuild: such a load can drop the parity indexes first and build them over the
            loaded rows at the end (`Target.drop_parity_indexes`); whether it does is
            `Target.rebuilds_parity_indexes`. False: they are always kept up while loading.
    """

    engine: str
    identifiers: IdentifierRules
    quote: Callable[[str], str]
    bulk_load: str
    dialect: SqlDialect
    revision_ion: bool = False
    blocks: bool = False
    whole_journal: bool = False
    data_hash_check: bool = False
    bulk_insert: bool = False
    bulk_index_rebuild: bool = False


@dataclass(frozen=True, slots=True)
class CurrentRow:
    """One row of a current table, read back (tests, parity).

    Attributes:
        doc_id: the document id.
        version: its version.
        block_seq: the block of that version.
        tx_time: its commit time, UTC (naive).
        data: the parsed JSON data; None when the version was redacted.
        content_hash: as stored.
    """

    doc_id: str
    version: int
    block_seq: int
    tx_time: dt.datetime
    data: Any
    content_hash: str | None


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One row of a history table, read back (tests, parity)."""

    doc_id: str
    version: int
    block_seq: int
    tx_id: str
    tx_time: dt.datetime
    is_deleted: bool
    is_redacted: bool
    revision_hash: str
    data_hash: str | None
    data: Any
    content_hash: str | None


class Target(ABC):
    """A database the restore writes to. Use as a context manager; `close` releases it."""

    capabilities: ClassVar[TargetCapabilities]

    def __init__(self, url: str) -> None:
        self.url = url

    @abstractmethod
    def ddl(self, names: Sequence[TableNames], *, history: bool) -> list[str]:
        """The CREATE TABLE statements (IF NOT EXISTS) for these tables, for ``--dry-run``."""

    @abstractmethod
    def ensure_schema(self, names: Sequence[TableNames], *, history: bool) -> None:
        """Create the tables that are missing (idempotent)."""

    @abstractmethod
    def read_checkpoint(self, restore_id: str) -> Checkpoint | None:
        """The saved checkpoint of this restore, or None (also when the table does not exist yet)."""

    @abstractmethod
    def apply(
        self,
        batch: RevisionBatch,
        names: Mapping[str, TableNames],
        checkpoint: Checkpoint,
        *,
        history: bool,
    ) -> None:
        """Apply one batch and write `checkpoint`, in one transaction; roll back on any error.

        Raises:
            TransientTargetError: worth retrying after `reconnect`.
            TerminalTargetError: stop; names the blocks (or document and version) at fault.
        """

    @abstractmethod
    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Write a checkpoint on its own, in its own transaction (a run with nothing left to apply)."""

    @abstractmethod
    def fetch_current(self, names: TableNames) -> Iterator[CurrentRow]:
        """Every row of a current table, by doc_id."""

    @abstractmethod
    def fetch_history(self, names: TableNames) -> Iterator[HistoryRow]:
        """Every row of a history table, by doc_id and version."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """Run one read-only statement (the parity check's) and return its rows.

        Raises:
            TargetError: classified as for `apply`; the connection is usable afterwards.
        """

    def typed_column_ddl(self, names: TableNames, columns: Sequence[TypedColumn]) -> list[str]:
        """The ALTER TABLE statements adding these typed (generated) columns (`restore.typed_columns`).

        Raises:
            UnsupportedTargetError: this target has no typed columns.
        """
        from restore.errors import UnsupportedTargetError

        raise UnsupportedTargetError(f"the {self.capabilities.engine} target has no typed columns (--typed)")

    def add_typed_columns(self, names: TableNames, columns: Sequence[TypedColumn]) -> list[str]:
        """Add the typed columns the current table lacks (idempotent); the names of those added.

        Raises:
            UnsupportedTargetError: this target has no typed columns.
            TargetError: classified as for `apply`.
        """
        from restore.errors import UnsupportedTargetError

        raise UnsupportedTargetError(f"the {self.capabilities.engine} target has no typed columns (--typed)")

    def is_empty(
        self, names: Sequence[TableNames], *, history: bool, shard: tuple[int, int] = (1, 1)
    ) -> bool:
        """Whether these tables (and their tombstones) hold no row: then `load_bulk` may fill them.

        With `shard` (i, n): no row of that shard's documents (`restore.plan.in_shard`), so the
        worker of one shard of a split may load its documents while others load theirs.

        Raises:
            UnsupportedTargetError: the target has no bulk load (``bulk_insert`` is False).
            TargetError: classified as for `apply`.
        """
        from restore.errors import UnsupportedTargetError

        raise UnsupportedTargetError(f"the {self.capabilities.engine} target has no bulk load")

    def rebuilds_parity_indexes(self, rows: int) -> bool:
        """Whether a bulk load of `rows` rows drops the parity indexes and builds them at the end.

        By default what ``bulk_index_rebuild`` says; a target may decide by the load's size.
        """
        return self.capabilities.bulk_index_rebuild

    def drop_parity_indexes(self, names: Sequence[TableNames], *, history: bool) -> None:
        """Drop the parity checksum indexes of these (empty) tables; `ensure_schema` adds them back.

        Where a bulk load fills empty tables faster without them and an index built over the loaded
        rows costs a fraction of one kept up row by row (`rebuilds_parity_indexes`).

        Raises:
            UnsupportedTargetError: the target does not rebuild them (``bulk_index_rebuild`` is False).
            TargetError: classified as for `apply`.
        """
        from restore.errors import UnsupportedTargetError

        raise UnsupportedTargetError(f"the {self.capabilities.engine} target has no bulk load")

    def load_bulk(self, parts: Sequence[BulkRows], names: Mapping[str, TableNames]) -> None:
        """Insert final rows into tables that held none of them, in one transaction.

        No guard, no upsert and no checkpoint (`restore.bulk`): only for tables `is_empty` found
        empty, after a checkpoint saying that no block is finished yet.

        Raises:
            UnsupportedTargetError: the target has no bulk load (``bulk_insert`` is False).
            TransientTargetError: worth retrying after `reconnect` (nothing was written).
            TerminalTargetError: stop; names the table and documents at fault.
        """
        from restore.errors import UnsupportedTargetError

        raise UnsupportedTargetError(f"the {self.capabilities.engine} target has no bulk load")

    def compare_data_hashes(
        self, names: Mapping[str, TableNames], expected: Iterable[ExpectedData]
    ) -> DataHashReport:
        """Compare every current document's data hash in the target with the archive's (ledger targets).

        Raises:
            UnsupportedTargetError: the target has no such check (``data_hash_check`` is False).
            TargetError: classified as for `apply`.
        """
        from restore.errors import UnsupportedTargetError

        raise UnsupportedTargetError(f"the {self.capabilities.engine} target has no data hash check")

    @abstractmethod
    def reconnect(self) -> None:
        """Drop the connection (it may be broken) and open a new one."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection."""

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

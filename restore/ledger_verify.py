"""Verify a ledger-grade PostgreSQL database: recompute its hashes and chain, compare it with the archive.

What `qldb-archive verify postgresql://...` runs on a schema the ``?mode=ledger`` restore wrote
(`restore.targets.postgresql_ledger`). The database is read in one read-only snapshot and rebuilt
into the journal model: each block row becomes a `journal.records.Block` (its summaries, entries
and transactionInfo), each history row's ``revision_ion`` a `journal.records.Revision`. Then:

1. `journal.verify.verify_items` runs every rule the archive's verification runs (revision hashes,
   transactionInfo and revisions roots in entriesHashList, entriesHash, blockHash, the chain, every
   revision matched to its block's summaries, the digest against saved ``get-digest`` outputs):
   the same code, not a second implementation.
2. Every column of a history row must say what its revision Ion says (metadata, hashes, flags,
   the JSON projection of the data, its content hash), each row must sit in the history table of
   the table its block names, and each current row must be its document's newest revision: so a
   byte changed anywhere in a history row, or in a current row, is found and named.
3. With an archive, every revision and block hash in the database must be the archive's, and the
   archive's must all be in the database (up to the database's last block).

Memory: like a stream archive's verification (every block's hashes until the end), plus one entry
per revision for the archive comparison and one per document for the current-row check.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from journal.errors import QldbArchiveError
from journal.progress import NULL_PROGRESS, ProgressReporter
from journal.urls import redact_url
from restore.errors import RestoreError
from restore.ledger_archive import BlockRow, block_row_to_journal

if TYPE_CHECKING:
    import psycopg

    from journal.proofs import LedgerDigest
    from journal.records import Block, Revision
    from journal.verify import VerificationReport

__all__ = [
    "LedgerCheck",
    "LedgerFinding",
    "LedgerVerificationReport",
    "is_database_url",
    "verify_ledger_database",
    "verify_target",
]

DATABASE_SCHEMES: Final = frozenset({"postgresql", "postgres"})


class LedgerCheck(StrEnum):
    """The checks beyond the journal's own rules."""

    ROWS = "rows"  # a row can be read (base64 hashes, Ion text, JSON)
    COLUMNS = "columns"  # a history row's columns say what its revision Ion says
    TABLE = "table"  # a history row sits in the table its block names
    CURRENT = "current"  # a current row is its document's newest revision
    ARCHIVE = "archive"  # the database holds exactly the archive's revisions and blocks


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerFinding:
    """Something in the database that is not what the journal says, and where."""

    check: LedgerCheck
    message: str
    table: str | None = None
    doc_id: str | None = None
    version: int | None = None
    block_seq: int | None = None

    def subject(self) -> str:
        """What the finding is about: 'Person/D version 3 (block 100)', 'block 100'..."""
        parts = []
        if self.doc_id is not None:
            who = f"{self.table}/{self.doc_id}" if self.table else f"document {self.doc_id}"
            parts.append(who + ("" if self.version is None else f" version {self.version}"))
        elif self.table is not None:
            parts.append(f"table {self.table}")
        if self.block_seq is not None:
            parts.append(f"(block {self.block_seq})" if parts else f"block {self.block_seq}")
        return " ".join(parts)

    def __str__(self) -> str:
        subject = self.subject()
        return f"failed {self.check.value}: {subject + ': ' if subject else ''}{self.message}"

    def to_json(self) -> dict[str, Any]:
        """The finding as JSON."""
        return {
            "check": self.check.value,
            "table": self.table,
            "doc_id": self.doc_id,
            "version": self.version,
            "block_seq": self.block_seq,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerVerificationReport:
    """The journal's verification of the rebuilt data, and the database's own findings.

    Attributes:
        database: the database URL (password hidden).
        journal: `journal.verify`'s report on the blocks and revisions rebuilt from the rows.
        tables: QLDB tables registered in the database.
        blocks: block rows read.
        revisions: history rows read.
        findings: the database's own findings (capped), in the order found.
        findings_total: how many there were.
        archive: the archive compared with, if any.
        archive_after: revisions the archive has after the database's last block (a later restore
            with --incremental would add them; not a failure).
    """

    database: str
    journal: VerificationReport
    tables: int
    blocks: int
    revisions: int
    findings: tuple[LedgerFinding, ...]
    findings_total: int
    archive: str | None = None
    archive_after: int = 0

    @property
    def ok(self) -> bool:
        """True when the journal verified and the database has no finding."""
        return self.journal.ok and self.findings_total == 0

    def to_json(self) -> dict[str, Any]:
        """The report as JSON (what `qldb-archive verify postgresql://... --json` prints)."""
        return {
            "ok": self.ok,
            "database": self.database,
            "tables": self.tables,
            "blocks": self.blocks,
            "revisions": self.revisions,
            "archive": self.archive,
            "archive_revisions_after_database": self.archive_after,
            "database_findings": [f.to_json() for f in self.findings],
            "database_findings_total": self.findings_total,
            "journal": self.journal.to_json(),
        }

    def summary_lines(self) -> list[str]:
        """The report for people: the database's findings, then the journal's report."""
        head = "VERIFIED" if self.ok else "FAILED"
        counts = f"{self.tables} tables, {self.blocks:,} blocks, {self.revisions:,} revisions"
        compared = f"; compared with the archive {self.archive}" if self.archive else ""
        lines = [f"{head}: {self.database}: {counts}{compared}"]
        if self.archive_after:
            lines.append(
                f"  the archive has {self.archive_after:,} revisions after the database's last block "
                "(catch up with restore --incremental)"
            )
        if self.findings:
            lines.append("database findings:")
            lines += [f"  {f}" for f in self.findings]
            if self.findings_total > len(self.findings):
                hidden = self.findings_total - len(self.findings)
                lines.append(f"  ... and {hidden:,} more (--json lists them)")
        lines.append("journal rebuilt from the database:")
        lines += [f"  {line}" for line in self.journal.summary_lines()]
        return lines


class _Findings:
    def __init__(self, cap: int) -> None:
        self.cap, self.total, self.items = cap, 0, list[LedgerFinding]()

    def add(self, finding: LedgerFinding) -> None:
        self.total += 1
        if len(self.items) < self.cap:
            self.items.append(finding)


def is_database_url(text: str) -> bool:
    """Whether a `verify` argument names a database rather than a file.

    >>> is_database_url("postgresql://u@h/db"), is_database_url("./archive")
    (True, False)
    """
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.split("+", 1)[0].lower() in DATABASE_SCHEMES


def _ms(when: dt.datetime) -> dt.datetime:
    naive = when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when
    return naive.replace(microsecond=naive.microsecond // 1000 * 1000)


def _block_from_row(row: tuple[Any, ...]) -> Block:
    """A ``qldb_ledger_blocks`` row as the journal model (`block_row_to_journal`)."""
    seq, strand, tx_id, stamp, block_hash, entries_hash, previous, entries, summaries_json = row[:9]
    return block_row_to_journal(
        BlockRow(
            block_seq=seq,
            strand_id=strand,
            tx_id=tx_id,
            block_timestamp=stamp,
            block_hash=block_hash,
            entries_hash=entries_hash,
            previous_block_hash=previous or "",
            entries_hash_list=tuple(entries or ()),
            statements_json=None,
            revision_summaries_json=summaries_json,
            transaction_info_ion=row[9],
            redaction_info_ion=row[10],
        )
    )


def _column_mismatches(row: tuple[Any, ...], rev: Revision) -> list[str]:
    """The columns of a history row that disagree with its revision Ion (names only: no data)."""
    from firehose_transform.normalise import ion_to_json_text
    from journal.records import RevisionKind
    from restore.content import content_hash

    doc_id, version, block_seq, tx_id, tx_time, is_deleted, is_redacted = row[:7]
    rev_hash, data_hash, data, chash = row[7:11]
    data_json = None if rev.data is None else ion_to_json_text(rev.data)
    expected = {
        "doc_id": rev.doc_id,
        "version": rev.version,
        "block_seq": rev.block_seq,
        "tx_id": rev.tx_id,
        "tx_time": _ms(rev.tx_time),
        "is_deleted": rev.kind is RevisionKind.DELETED,
        "is_redacted": rev.kind is RevisionKind.REDACTED,
        "revision_hash": base64.b64encode(rev.revision_hash).decode(),
        "data_hash": None if rev.data_hash is None else base64.b64encode(rev.data_hash).decode(),
        "data": None if data_json is None else json.loads(data_json),
        "content_hash": content_hash(data_json),
    }
    got = {
        "doc_id": doc_id,
        "version": version,
        "block_seq": block_seq,
        "tx_id": tx_id,
        "tx_time": tx_time,
        "is_deleted": is_deleted,
        "is_redacted": is_redacted,
        "revision_hash": rev_hash,
        "data_hash": data_hash,
        "data": data,
        "content_hash": chash,
    }
    return [name for name, value in expected.items() if got[name] != value]


@dataclass(slots=True)
class _Newest:
    """A document's newest history row, for the current-row check."""

    version: int = -1
    block_seq: int = -1
    tx_time: dt.datetime | None = None
    deleted: bool = False
    data: Any = None
    content_hash: str | None = None


@dataclass(slots=True)
class _Read:
    """What the database holds, reduced to what the checks need."""

    blocks: list[Block] = field(default_factory=list)
    revisions: list[Revision] = field(default_factory=list)
    hashes: dict[tuple[str, int], tuple[str, int, str]] = field(default_factory=dict)
    block_hashes: dict[int, str] = field(default_factory=dict)


def _read_blocks(conn: psycopg.Connection[tuple[Any, ...]], found: _Findings, read: _Read) -> dict[str, str]:
    """Every block row, as blocks; returns ``"seq doc_id" -> QLDB table`` from transactionInfo."""
    from restore.targets.postgresql import quote
    from restore.targets.postgresql_ledger import LEDGER_BLOCKS_TABLE

    doc_tables: dict[str, str] = {}
    with conn.cursor(name="qldb_ledger_blocks") as cur:
        cur.execute(
            "SELECT block_seq, strand_id, tx_id, block_timestamp, block_hash, entries_hash, "
            "previous_block_hash, entries_hash_list, revision_summaries_json, transaction_info_ion, "
            "redaction_info_ion "
            f"FROM {quote(LEDGER_BLOCKS_TABLE)} ORDER BY block_seq"
        )
        for row in cur:
            read.block_hashes[row[0]] = row[4]
            try:
                block = _block_from_row(row)
            except (QldbArchiveError, ValueError, KeyError, TypeError, binascii.Error) as exc:
                found.add(
                    LedgerFinding(
                        check=LedgerCheck.ROWS,
                        block_seq=row[0],
                        message=f"the block row cannot be read ({type(exc).__name__}); it was changed",
                    )
                )
                continue
            read.blocks.append(block)
            for doc_id, (table, _) in block.document_tables().items():
                doc_tables[f"{block.block_seq} {doc_id}"] = table
    return doc_tables


def _read_history(
    conn: psycopg.Connection[tuple[Any, ...]],
    qldb: str,
    history_table: str,
    doc_tables: dict[str, str],
    found: _Findings,
    read: _Read,
) -> dict[str, _Newest]:
    """Every history row of one table, as revisions; returns each document's newest row."""
    from amazon.ion import simpleion

    from journal.records import revision_from_ion
    from restore.targets.postgresql import quote

    newest: dict[str, _Newest] = {}
    with conn.cursor(name="qldb_ledger_history") as cur:
        cur.execute(
            "SELECT doc_id, version, block_seq, tx_id, tx_time, is_deleted, is_redacted, revision_hash, "
            f"data_hash, data, content_hash, revision_ion FROM {quote(history_table)} "
            'ORDER BY doc_id COLLATE "C", version'
        )
        for row in cur:
            doc_id, version, block_seq = row[0], row[1], row[2]

            def finding(check: LedgerCheck, message: str, _r: tuple[Any, ...] = row) -> LedgerFinding:
                return LedgerFinding(
                    check=check, table=qldb, doc_id=_r[0], version=_r[1], block_seq=_r[2], message=message
                )

            read.hashes[(doc_id, version)] = (qldb, block_seq, row[7])
            seen = newest.setdefault(doc_id, _Newest())
            if version > seen.version:
                seen.version, seen.block_seq, seen.tx_time = version, block_seq, row[4]
                seen.deleted, seen.data, seen.content_hash = bool(row[5]), row[9], row[10]
            try:
                rev = revision_from_ion(simpleion.loads(row[11]), table_name=qldb)
            except (QldbArchiveError, ValueError, TypeError) as exc:
                why = f"its revision_ion cannot be read ({type(exc).__name__})"
                found.add(finding(LedgerCheck.ROWS, why))
                continue
            read.revisions.append(rev)
            bad = _column_mismatches(row, rev)
            if bad:
                found.add(
                    finding(
                        LedgerCheck.COLUMNS,
                        f"column(s) {', '.join(bad)} differ from what its revision_ion says; the row was "
                        "changed",
                    )
                )
            named = doc_tables.get(f"{rev.block_seq} {rev.doc_id}")
            if named is not None and named != qldb:
                found.add(finding(LedgerCheck.TABLE, f"its block says the document is in table {named!r}"))
    return newest


def _check_current(
    conn: psycopg.Connection[tuple[Any, ...]],
    qldb: str,
    current_table: str,
    newest: dict[str, _Newest],
    found: _Findings,
) -> None:
    from restore.targets.postgresql import quote

    def add(doc_id: str, version: int, block_seq: int, message: str) -> None:
        found.add(
            LedgerFinding(
                check=LedgerCheck.CURRENT,
                table=qldb,
                doc_id=doc_id,
                version=version,
                block_seq=block_seq,
                message=message,
            )
        )

    live = {d for d, n in newest.items() if not n.deleted}
    with conn.cursor(name="qldb_ledger_current") as cur:
        cur.execute(
            f"SELECT doc_id, version, block_seq, tx_time, data, content_hash FROM {quote(current_table)} "
            'ORDER BY doc_id COLLATE "C"'
        )
        for doc_id, version, block_seq, tx_time, data, chash in cur:
            n = newest.get(doc_id)
            if n is None or n.deleted:
                why = "no history" if n is None else f"its history ends with a delete at version {n.version}"
                add(doc_id, version, block_seq, f"a current row, but {why}")
                continue
            live.discard(doc_id)
            if (version, block_seq, tx_time, data, chash) != (
                n.version,
                n.block_seq,
                n.tx_time,
                n.data,
                n.content_hash,
            ):
                add(
                    doc_id,
                    version,
                    block_seq,
                    f"the current row is not the newest history row (version {n.version}, "
                    f"block {n.block_seq})",
                )
    for doc_id in sorted(live):
        n = newest[doc_id]
        add(doc_id, n.version, n.block_seq, "the document is live in history but has no current row")


def _compare_archive(archive: str, endpoint_url: str | None, read: _Read, found: _Findings) -> int:
    """Compare revision and block hashes with the archive's; the archive's revisions after the database."""
    from athena.local import LOCAL_DATABASE, LocalEngine

    last = max(read.block_hashes, default=-1)
    after = 0
    with LocalEngine.open(archive, endpoint_url=endpoint_url) as engine:
        revisions = engine.query(
            "SELECT table_name, doc_id, version, block_seq, revision_hash, conflict "
            f"FROM {LOCAL_DATABASE}.history"
        ).to_pylist()
        blocks = engine.query(
            f"SELECT block_seq, MIN(block_hash) AS low, MAX(block_hash) AS high FROM {LOCAL_DATABASE}.blocks "
            "GROUP BY block_seq"
        ).to_pylist()
    remaining = dict(read.hashes)
    for r in revisions:
        key = (r["doc_id"], r["version"])
        if r["block_seq"] > last:
            after += 1
            continue

        def finding(message: str, _r: dict[str, Any] = r) -> LedgerFinding:
            return LedgerFinding(
                check=LedgerCheck.ARCHIVE,
                table=_r["table_name"],
                doc_id=_r["doc_id"],
                version=_r["version"],
                block_seq=_r["block_seq"],
                message=message,
            )

        if r["conflict"]:
            found.add(finding("the archive itself holds conflicting copies of this revision"))
        got = remaining.pop(key, None)
        if got is None:
            found.add(finding("the archive has this revision; the database does not"))
        elif got != (r["table_name"], r["block_seq"], r["revision_hash"]):
            found.add(
                finding(
                    f"the database has it as {got[0]}/block {got[1]} with hash {got[2]}; the archive's hash "
                    f"is {r['revision_hash']}"
                )
            )
    for (doc_id, version), (table, block_seq, _) in sorted(remaining.items()):
        found.add(
            LedgerFinding(
                check=LedgerCheck.ARCHIVE,
                table=table,
                doc_id=doc_id,
                version=version,
                block_seq=block_seq,
                message="the database has this revision; the archive does not",
            )
        )
    archive_blocks = {b["block_seq"]: (b["low"], b["high"]) for b in blocks if b["block_seq"] <= last}
    for seq in sorted(set(archive_blocks) | set(read.block_hashes)):
        low, high = archive_blocks.get(seq, (None, None))
        mine = read.block_hashes.get(seq)
        if low != high:
            message = "the archive itself holds two different copies of this block"
        elif mine is None:
            message = "the archive has this block; the database does not"
        elif low is None:
            message = "the database has this block; the archive does not"
        elif mine != low:
            message = f"blockHash {mine} in the database, {low} in the archive"
        else:
            continue
        found.add(LedgerFinding(check=LedgerCheck.ARCHIVE, block_seq=seq, message=message))
    return after


def verify_ledger_database(
    url: str,
    *,
    archive: str | None = None,
    digests: Sequence[LedgerDigest] = (),
    endpoint_url: str | None = None,
    progress: ProgressReporter = NULL_PROGRESS,
    max_findings: int = 20,
) -> LedgerVerificationReport:
    """Verify a ledger-mode PostgreSQL database (see the module docstring).

    Args:
        url: the database, as given to the restore (``?mode=ledger`` may stay on it).
        archive: compare with this archive (a folder or ``s3://bucket/prefix``).
        digests: saved ``get-digest`` outputs to check the recomputed digest against.
        endpoint_url: the S3 endpoint of the archive, None for AWS.
        progress: receives one task per step.
        max_findings: how many findings each part of the report lists (the rest are counted).

    Raises:
        RestoreError: the database cannot be reached, or holds no ledger-mode restore.
    """
    import psycopg

    from journal.verify import verify_items
    from restore.targets.postgresql import conninfo_from_url, quote
    from restore.targets.postgresql_ledger import LEDGER_TABLES_TABLE, plain_url

    found = _Findings(max_findings)
    read = _Read()
    shown = redact_url(url)
    try:
        conn = psycopg.connect(conninfo_from_url(plain_url(url)), autocommit=False, connect_timeout=30)
    except psycopg.Error as exc:
        raise RestoreError(
            f"cannot connect to {shown} ({type(exc).__name__}); check the URL and that the server runs"
        ) from None
    try:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute("SET TIME ZONE 'UTC'")
        try:
            tables = conn.execute(
                f"SELECT table_name, current_table, history_table FROM {quote(LEDGER_TABLES_TABLE)} "
                "ORDER BY table_name"
            ).fetchall()
        except psycopg.errors.UndefinedTable:
            raise RestoreError(
                f"{shown} holds no ledger-mode restore (no {LEDGER_TABLES_TABLE} table): restore into it "
                "with a postgresql://...?mode=ledger URL first"
            ) from None
        progress.start("verify blocks", total=None, unit="blocks")
        doc_tables = _read_blocks(conn, found, read)
        progress.finish()
        progress.start("verify revisions", total=None, unit="tables")
        for qldb, current_table, history_table in tables:
            newest = _read_history(conn, qldb, history_table, doc_tables, found, read)
            _check_current(conn, qldb, current_table, newest, found)
            progress.advance()
        progress.finish()
        conn.rollback()
    except psycopg.Error as exc:
        raise RestoreError(
            f"reading {shown}: {exc.sqlstate or type(exc).__name__}; is it a ledger-mode restore?"
        ) from None
    finally:
        conn.close()
    after = 0
    if archive is not None:
        after = _compare_archive(archive, endpoint_url, read, found)

    def items() -> Iterator[Block | Revision]:
        yield from read.blocks
        yield from read.revisions

    journal = verify_items(items(), digests=digests, name=shown, max_findings=max_findings)
    return LedgerVerificationReport(
        database=shown,
        journal=journal,
        tables=len(tables),
        blocks=len(read.block_hashes),
        revisions=len(read.hashes),
        findings=tuple(found.items),
        findings_total=found.total,
        archive=None if archive is None else redact_url(str(archive)),
        archive_after=after,
    )


def verify_target(
    url: str,
    *,
    archive: str | None,
    digest_paths: Sequence[Path],
    endpoint_url: str | None = None,
    progress: ProgressReporter = NULL_PROGRESS,
) -> LedgerVerificationReport:
    """`verify_ledger_database` with saved ``get-digest`` files read from `digest_paths` (the CLI's call).

    Raises:
        RestoreError: as `verify_ledger_database`.
        JournalError: a digest file cannot be read.
    """
    from journal.proofs import read_digest_files

    return verify_ledger_database(
        url,
        archive=archive,
        digests=read_digest_files(digest_paths),
        endpoint_url=endpoint_url,
        progress=progress,
    )

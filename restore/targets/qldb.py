"""QLDB: the ``qldb://LEDGER?region=...`` target, a replay into a new ledger through pyqldb.

Two processes, because two Ion libraries. The archive path needs amazon-ion 0.15 with its C
extension; pyqldb 3.2.4 pins ``amazon.ion<=0.9.3`` (pure Python, 20-60x slower) and needs a
botocore that still has the retired ``qldb-session`` model. So pyqldb lives in its own virtualenv
(``make qldb-env``: the ``qldb`` extra of pyproject.toml, never installed beside the project), and
this module has two halves:

- `QldbTarget`, in the restore's process: the runner plans, reads the archive and hands it batches
  as to any target; it sends them, one JSON line per request, to
- the worker (`serve_worker`), this same module run by the qldb environment's Python with the
  repository on its path. It imports only the standard library, pyqldb and amazon.ion (the
  ``restore`` and ``journal`` modules it reads, errors and the target contract, import nothing
  else), and answers one JSON line per request on its stdout. Ion values cross the pipe as Ion
  binary, base64: exact types both ways.

What the replay does (in the worker, inside ``driver.execute_lambda``, so OCC conflicts retry
through the driver and re-read what they decided on):

- tables and indexes are created as the archive's statements created them: ``CREATE TABLE`` and
  ``CREATE INDEX`` statements of each block's transactionInfo are parsed (never replayed as text:
  a name is re-quoted) and applied at their block, before its revisions; every restored table
  also gets an index on ``_source_id``. Bookkeeping tables: ``qldb_restore_checkpoint`` and
  ``qldb_restore_tombstones``.
- revisions are replayed in block order, in transactions holding as many consecutive revisions
  as QLDB's quotas allow (40 documents and 4 MB per transaction; never two versions of one
  document, so each source version is one revision of the new ledger); statement texts are never
  replayed (they lack their parameter values). Version 0 is ``INSERT INTO T VALUE ?`` with the
  data plus ``_source_id`` (the source document id, indexed) and ``_source_version``; a later
  version is an ``UPDATE ... SET`` of every field with ``REMOVE`` of the fields that are gone, so
  the document is exactly the revision's data; a deletion is ``DELETE`` plus a tombstone
  document. A redacted revision's data is not in the archive: it is replayed as a revision holding
  only the restore's two fields, so the new ledger's versions are the source's.
- every revision is guarded by what the new ledger holds: a version at or below the document's
  ``_source_version``, or of a tombstoned document, is skipped (re-runs are idempotent); a version
  that does not follow (no document, or versions missing in between) stops the restore, naming
  the document, version and block.
- afterwards `compare_data_hashes` reads every current document back, drops the two restore
  fields, and compares the Ion hash of the rest with the archive's data hash (`journal.ion_hash`).

QLDB reached end of support on 2025-07-31: this target cannot be tested against the service; its
tests run the real pyqldb driver against a local test double of the QLDB session API
(``tests/qldb_double``).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, Final, NoReturn
from urllib.parse import parse_qsl, unquote, urlsplit

from journal.urls import redact_url
from restore.checkpoint import Checkpoint, RunIdentity
from restore.errors import TerminalTargetError, TransientTargetError, UnsupportedTargetError
from restore.identifiers import CHECKPOINT_TABLE, TOMBSTONE_TABLE, IdentifierRules, TableNames, table_names
from restore.targets.base import CurrentRow, HistoryRow, SqlDialect, Target, TargetCapabilities

if TYPE_CHECKING:
    from restore.batch import RevisionBatch, RevisionRow
    from restore.ledger_archive import BlockRow, ExpectedData
    from restore.ledger_hashes import DataHashReport

__all__ = [
    "MAX_DOCUMENTS_PER_TRANSACTION",
    "MAX_TRANSACTION_BYTES",
    "SOURCE_ID",
    "SOURCE_VERSION",
    "QldbTarget",
    "QldbUrl",
    "parse_ddl",
    "parse_qldb_url",
    "quote",
    "serve_worker",
]

logger = logging.getLogger(__name__)

SOURCE_ID: Final = "_source_id"
"""The field holding the source document id in every replayed document (indexed)."""
SOURCE_VERSION: Final = "_source_version"
"""The field holding the source version a replayed revision carries (the version guard)."""
MAX_DOCUMENTS_PER_TRANSACTION: Final = 40
LEDGER_IDENTIFIERS: Final = IdentifierRules(max_length=128)
"""QLDB table names: at most 128 characters."""
"""QLDB quota: documents written per transaction (https://docs.aws.amazon.com/qldb/latest/developerguide/limits.html)."""
MAX_TRANSACTION_BYTES: Final = 4_000_000
"""QLDB quota: 4 MB of documents per transaction; measured here in Ion binary bytes, with a margin."""
_BYTE_BUDGET: Final = MAX_TRANSACTION_BYTES - 200_000
ENV_NAME: Final = ".venv-qldb"
"""The qldb environment's folder in the repository (``make qldb-env`` builds it)."""
INSTALL_HINT: Final = (
    "build the qldb environment with `make qldb-env` (it installs the `qldb` extra of pyproject.toml, "
    "pip install 'qldb-archive[qldb]', into its own virtualenv: its pins cannot share one with the "
    "archive path's amazon-ion 0.15), or name its Python with ?python=/path/to/bin/python"
)

_IDENT = r'(?:"(?:[^"]|"")*"|`[^`]*`|[A-Za-z_][A-Za-z0-9_$]*)'
_CREATE_TABLE = re.compile(
    rf"^\s*CREATE\s+TABLE\s+(?P<t>{_IDENT})(?:\s+WITH\s*\(.*\))?\s*;?\s*$", re.I | re.S
)
_CREATE_INDEX = re.compile(
    rf"^\s*CREATE\s+INDEX\s+ON\s+(?P<t>{_IDENT})\s*\(\s*(?P<f>{_IDENT})\s*\)\s*;?\s*$", re.I | re.S
)


def quote(name: str) -> str:
    """Quote an identifier for PartiQL (double quotes, a quote inside doubled).

    >>> quote('Robert"); DROP TABLE x;--')
    '"Robert""); DROP TABLE x;--"'
    """
    return '"' + name.replace('"', '""') + '"'


def _unquote(token: str) -> str:
    if token.startswith('"'):
        return token[1:-1].replace('""', '"')
    if token.startswith("`"):
        return token[1:-1]
    return token


def parse_ddl(statement: str) -> tuple[str, str, str | None] | None:
    """A CREATE TABLE or CREATE INDEX statement as ``("table", T, None)`` or ``("index", T, field)``.

    Anything else (DML, DROP, UNDROP, statements with a nested index path) is None: only tables
    and indexes are created from statements; documents come from revisions.

    >>> parse_ddl("CREATE TABLE Person"), parse_ddl('CREATE INDEX ON "Person" (GovId)')
    (('table', 'Person', None), ('index', 'Person', 'GovId'))
    >>> parse_ddl("INSERT INTO Person ?") is None
    True
    """
    m = _CREATE_TABLE.match(statement)
    if m:
        return ("table", _unquote(m["t"]), None)
    m = _CREATE_INDEX.match(statement)
    if m:
        return ("index", _unquote(m["t"]), _unquote(m["f"]))
    return None


@dataclass(frozen=True, slots=True)
class QldbUrl:
    """A ``qldb://`` target URL, parsed.

    Attributes:
        ledger: the new ledger's name (it must exist: QLDB ledgers are created in the console or by
            CloudFormation, not by a session).
        region: the AWS region.
        endpoint_url: the session endpoint, None for AWS's (tests give the double's).
        python: the qldb environment's Python.
    """

    ledger: str
    region: str | None
    endpoint_url: str | None
    python: Path


def parse_qldb_url(url: str, *, root: Path | None = None) -> QldbUrl:
    """Read ``qldb://LEDGER?region=R[&endpoint_url=U][&python=P]``.

    Without ``python``, the qldb environment is ``.venv-qldb`` beside the `restore` package (a
    checkout or an editable install).

    Raises:
        UnsupportedTargetError: not a qldb:// URL, or no ledger name.

    >>> u = parse_qldb_url("qldb://dmv?region=us-east-1", root=Path("/repo"))
    >>> u.ledger, u.region, str(u.python)
    ('dmv', 'us-east-1', '/repo/.venv-qldb/bin/python')
    """
    parts = urlsplit(url)
    if parts.scheme != "qldb" or not parts.netloc:
        raise UnsupportedTargetError(
            f"not a QLDB URL: {redact_url(url)}; write qldb://LEDGER?region=us-east-1"
        )
    query = dict(parse_qsl(parts.query))
    base = root if root is not None else Path(__file__).resolve().parents[2]
    python = Path(query["python"]) if "python" in query else base / ENV_NAME / "bin" / "python"
    return QldbUrl(unquote(parts.netloc), query.get("region"), query.get("endpoint_url"), python)


def _no_sql(*_: object) -> NoReturn:
    raise UnsupportedTargetError(
        "a QLDB ledger has no SQL for the parity check; the restore's data-hash check compares every "
        "current document with the archive instead"
    )


_DIALECT: Final = SqlDialect(
    placeholder="?", md5_int32=_no_sql, concat=_no_sql, int_to_text=_no_sql, int_div=_no_sql
)

_BOOTSTRAP: Final = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from restore.targets.qldb import serve_worker; raise SystemExit(serve_worker())"
)


class QldbTarget(Target):
    """A new QLDB ledger, written by the worker in the qldb environment (see the module docstring).

    Attributes:
        transactions: QLDB transactions committed by this target (tests and the report).
        skipped: revisions the new ledger already held (a re-run).
    """

    capabilities: ClassVar[TargetCapabilities] = TargetCapabilities(
        engine="qldb",
        identifiers=LEDGER_IDENTIFIERS,
        quote=quote,
        bulk_load="pyqldb execute_lambda, up to 40 documents per transaction",
        dialect=_DIALECT,
        revision_ion=True,
        blocks=True,
        whole_journal=True,
        data_hash_check=True,
    )

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._config = parse_qldb_url(url)
        self.transactions = 0
        self.skipped = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._start(where="connecting")

    # ---- the worker process -------------------------------------------------------------------

    def _start(self, *, where: str) -> None:
        python = self._config.python
        if not python.exists():
            raise UnsupportedTargetError(
                f"the QLDB target runs pyqldb in its own environment: no {python}; {INSTALL_HINT}"
            )
        root = str(Path(__file__).resolve().parents[2])
        self._proc = subprocess.Popen(  # our own interpreter and module, no shell
            [str(python), "-I", "-c", _BOOTSTRAP, root],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=os.environ.copy(),
        )
        self._call(
            {
                "op": "open",
                "ledger": self._config.ledger,
                "region": self._config.region,
                "endpoint_url": self._config.endpoint_url,
            },
            where=where,
        )

    def _call(self, request: dict[str, Any], *, where: str) -> dict[str, Any]:
        """Send one request and read its answer; worker errors become target errors."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise TransientTargetError("the QLDB worker is not running", where=where)
        try:
            proc.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except OSError:
            line = b""
        if not line:
            code = proc.poll()
            raise TransientTargetError(f"the QLDB worker exited (code {code})", where=where)
        answer: dict[str, Any] = json.loads(line)
        if answer.get("ok"):
            return answer
        kind, reason = answer.get("kind"), str(answer.get("reason"))
        at = str(answer.get("where") or where)
        if kind == "unusable":
            raise UnsupportedTargetError(f"{reason}; {INSTALL_HINT}")
        if kind == "transient":
            raise TransientTargetError(reason, where=at)
        raise TerminalTargetError(reason, where=at)

    def reconnect(self) -> None:
        """Stop the worker (it may be stuck) and start a new one."""
        self.close()
        self._start(where="reconnecting")

    def close(self) -> None:
        """Ask the worker to end its sessions and exit; kill it if it does not."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.write(b'{"op": "close"}\n')
                proc.stdin.close()
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    # ---- schema ---------------------------------------------------------------------------------

    @staticmethod
    def _tables(names: Sequence[TableNames]) -> list[dict[str, Any]]:
        own = [
            {"name": CHECKPOINT_TABLE, "indexes": ["restore_id"]},
            {"name": TOMBSTONE_TABLE, "indexes": ["source_id"]},
        ]
        return own + [{"name": n.current, "indexes": [SOURCE_ID]} for n in names]

    def ddl(self, names: Sequence[TableNames], *, history: bool) -> list[str]:
        """The PartiQL the restore runs first (more CREATE INDEX follow from the archive's statements)."""
        out = []
        for t in self._tables(names):
            out.append(f"CREATE TABLE {quote(t['name'])}")
            out += [f"CREATE INDEX ON {quote(t['name'])} ({quote(f)})" for f in t["indexes"]]
        return out

    def ensure_schema(self, names: Sequence[TableNames], *, history: bool) -> None:
        """Create the tables and indexes the ledger lacks (each DDL statement in its own transaction)."""
        self._call({"op": "ensure", "tables": self._tables(names)}, where="creating tables")

    # ---- checkpoints ----------------------------------------------------------------------------

    def read_checkpoint(self, restore_id: str) -> Checkpoint | None:
        """The checkpoint document of this restore, if the table and the document exist."""
        doc = self._call({"op": "read_checkpoint", "restore_id": restore_id}, where="reading the checkpoint")
        saved = doc.get("checkpoint")
        if saved is None:
            return None
        return Checkpoint(
            restore_id=saved["restore_id"],
            identity=RunIdentity.from_json(saved["identity"]),
            last_block_seq=int(saved["last_block_seq"]),
            completed=bool(saved["completed"]),
            format_version=int(saved["format_version"]),
        )

    @staticmethod
    def _checkpoint_doc(checkpoint: Checkpoint) -> dict[str, Any]:
        return {
            "restore_id": checkpoint.restore_id,
            "format_version": checkpoint.format_version,
            "identity": checkpoint.identity.to_json(),
            "last_block_seq": checkpoint.last_block_seq,
            "completed": checkpoint.completed,
        }

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Write the checkpoint document in its own transaction."""
        self._call(
            {"op": "apply", "steps": [], "checkpoint": self._checkpoint_doc(checkpoint)},
            where="writing the checkpoint",
        )

    # ---- the replay -----------------------------------------------------------------------------

    def apply(
        self,
        batch: RevisionBatch,
        names: Mapping[str, TableNames],
        checkpoint: Checkpoint,
        *,
        history: bool,
    ) -> None:
        """Replay the batch's blocks (their DDL, then their revisions) and write the checkpoint.

        The checkpoint rides in the batch's last QLDB transaction; a run killed before it leaves
        some of the batch applied, and the version guard makes re-applying those a no-op.
        """
        steps = list(replay_steps(batch, names))
        answer = self._call(
            {"op": "apply", "steps": steps, "checkpoint": self._checkpoint_doc(checkpoint)}, where=batch.where
        )
        self.transactions += int(answer.get("transactions", 0))
        self.skipped += int(answer.get("skipped", 0))

    def compare_data_hashes(
        self, names: Mapping[str, TableNames], expected: Iterable[ExpectedData]
    ) -> DataHashReport:
        """Read every current document back and compare its data's Ion hash with the archive's."""
        from amazon.ion import simpleion

        from journal.ion_hash import ion_hash
        from restore.ledger_hashes import compare_data_hash_maps

        by_target = {n.current: qldb for qldb, n in names.items()}
        answer = self._call(
            {"op": "current", "tables": sorted(by_target)}, where="reading the new ledger back"
        )
        actual: dict[tuple[str, str], bytes] = {}
        for doc in answer["documents"]:
            value = simpleion.loads(base64.b64decode(doc["ion"]))
            actual[(by_target[doc["table"]], doc["id"])] = ion_hash(value)
        return compare_data_hash_maps(expected, actual)

    def fetch_current(self, names: TableNames) -> Iterator[CurrentRow]:
        """Not for a ledger: read it with PartiQL; the data-hash check compares it with the archive."""
        raise UnsupportedTargetError("the QLDB target is not read back row by row; see compare_data_hashes")

    def fetch_history(self, names: TableNames) -> Iterator[HistoryRow]:
        """Not for a ledger: its history is QLDB's own (``history()``)."""
        raise UnsupportedTargetError("the QLDB target keeps history in the ledger itself: query history(T)")

    def query(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """Not for a ledger (no SQL): see `compare_data_hashes`."""
        _no_sql()


def _data_ion(row: RevisionRow) -> bytes | None:
    """The revision's data as Ion binary, from its lossless Ion text (None when deleted or redacted)."""
    from amazon.ion import simpleion

    from journal.records import revision_from_ion

    if row.revision_ion is None:
        raise TerminalTargetError(
            f"document {row.doc_id} version {row.version} came without its revision Ion",
            where=f"block {row.block_seq}",
        )
    rev = revision_from_ion(simpleion.loads(row.revision_ion))
    return None if rev.data is None else simpleion.dumps(rev.data, binary=True)


def _ddl_steps(block: BlockRow, names: Mapping[str, TableNames]) -> Iterator[dict[str, Any]]:
    for entry in json.loads(block.statements_json or "[]"):
        parsed = parse_ddl(str(entry.get("statement", ""))) if isinstance(entry, dict) else None
        if parsed is None:
            continue
        kind, table, field = parsed
        # a table no revision ever wrote (created, left empty) is created too, its name checked as
        # the others' are; the restore stops naming it when the ledger could not hold it
        target = (
            names[table].current
            if table in names
            else table_names([table], LEDGER_IDENTIFIERS)[table].current
        )
        yield {"ddl": kind, "table": target, "field": field, "block": block.block_seq}


def replay_steps(batch: RevisionBatch, names: Mapping[str, TableNames]) -> Iterator[dict[str, Any]]:
    """The worker's steps for a batch: per block in order, its DDL, then its revisions."""
    by_block: dict[int, list[RevisionRow]] = {}
    for row in batch.rows:
        by_block.setdefault(row.block_seq, []).append(row)
    blocks = {b.block_seq: b for b in batch.blocks}
    for seq in sorted(set(blocks) | set(by_block)):
        if seq in blocks:
            yield from _ddl_steps(blocks[seq], names)
        for row in by_block.get(seq, ()):
            data = None if row.is_deleted or row.is_redacted else _data_ion(row)
            yield {
                "table": names[row.table_name].current,
                "id": row.doc_id,
                "version": row.version,
                "block": seq,
                "kind": "deleted" if row.is_deleted else "redacted" if row.is_redacted else "live",
                "ion": None if data is None else base64.b64encode(data).decode("ascii"),
            }


# ==== the worker: runs in the qldb environment (pyqldb, amazon.ion <= 0.9.3) =====================


class _Refused(Exception):  # noqa: N818 - the worker's own control flow, never leaves this module
    """A revision the new ledger cannot take (a gap, a field clash): stops the restore."""

    def __init__(self, reason: str, where: str) -> None:
        super().__init__(reason)
        self.reason, self.where = reason, where


def pack_transactions(steps: Sequence[dict[str, Any]], *, reserved: int = 1) -> list[list[dict[str, Any]]]:
    """Group revision steps, in order, into as few QLDB transactions as the quotas allow.

    A transaction writes at most `MAX_DOCUMENTS_PER_TRANSACTION` documents (a deletion writes
    two: the document and its tombstone; `reserved` are kept for the checkpoint) and about
    `MAX_TRANSACTION_BYTES`; a document never appears twice in one transaction, so each source
    version stays one revision of the new ledger. Consecutive source blocks share a transaction
    (fewer round trips); their order is kept.

    >>> steps = [{"block": i // 10, "id": f"d{i}", "kind": "live", "ion": ""} for i in range(45)]
    >>> [len(t) for t in pack_transactions(steps)]
    [39, 6]
    >>> [len(t) for t in pack_transactions([{"block": 1, "id": "a", "kind": "live"}] * 2)]
    [1, 1]
    """
    groups: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    docs = size = 0
    ids: set[tuple[str, str]] = set()
    for step in steps:
        cost = 2 if step["kind"] == "deleted" else 1
        nbytes = len(step.get("ion") or "") * 3 // 4
        key = (step.get("table", ""), step["id"])
        if current and (
            docs + cost > MAX_DOCUMENTS_PER_TRANSACTION - reserved
            or size + nbytes > _BYTE_BUDGET
            or key in ids
        ):
            groups.append(current)
            current, docs, size, ids = [], 0, 0, set()
        current.append(step)
        docs, size = docs + cost, size + nbytes
        ids.add(key)
    if current:
        groups.append(current)
    return groups


def update_statements(table: str, fields: Sequence[str], gone: Sequence[str]) -> list[str]:
    """The statements that set a document to exactly new data: one SET of all fields, a REMOVE per gone one.

    >>> update_statements("T", ["a", "_source_version"], ["b"])
    ['UPDATE "T" AS d SET d."a" = ?, d."_source_version" = ? WHERE d."_source_id" = ?', \
'UPDATE "T" AS d REMOVE d."b" WHERE d."_source_id" = ?']
    """
    where = f" WHERE d.{quote(SOURCE_ID)} = ?"
    sets = ", ".join(f"d.{quote(f)} = ?" for f in fields)
    out = [f"UPDATE {quote(table)} AS d SET {sets}{where}"]
    out += [f"UPDATE {quote(table)} AS d REMOVE d.{quote(g)}{where}" for g in gone]
    return out


def decide(version: int, held: int | None, tombstone: int | None, where: str) -> str:
    """What to do with a source version given what the new ledger holds: skip, insert or change.

    Args:
        version: the source version to apply.
        held: the ``_source_version`` of the document in the new ledger, None when it has none.
        tombstone: the version that deleted the document in the new ledger, if it was deleted.
        where: names the revision in errors.

    Raises:
        _Refused: the version does not follow what the ledger holds (a gap).

    >>> decide(0, None, None, "d v0"), decide(3, 3, None, "d v3"), decide(4, 3, None, "d v4")
    ('insert', 'skip', 'change')
    """
    if tombstone is not None:
        if version > tombstone:
            raise _Refused(f"the new ledger deleted this document at version {tombstone}", where)
        return "skip"
    if held is None:
        if version == 0:
            return "insert"
        raise _Refused(
            f"the new ledger has no earlier version of this document (versions 0-{version - 1} are "
            "missing): restore the earlier blocks first",
            where,
        )
    if version <= held:
        return "skip"
    if version == held + 1:
        return "change"
    missing = f"version {held + 1} is" if version == held + 2 else f"versions {held + 1}-{version - 1} are"
    raise _Refused(f"the new ledger holds version {held} of this document: {missing} missing", where)


class _Worker:
    """The pyqldb side: one driver, and the requests of `QldbTarget`."""

    def __init__(self) -> None:
        self.driver: Any = None

    def open(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            from botocore.exceptions import UnknownServiceError
            from pyqldb.config.retry_config import RetryConfig
            from pyqldb.driver.qldb_driver import QldbDriver
        except ImportError as exc:
            return {
                "ok": False,
                "kind": "unusable",
                "reason": f"{sys.executable} cannot import {exc.name} (pyqldb and its pins)",
            }
        try:
            self.driver = QldbDriver(
                request["ledger"],
                region_name=request.get("region"),
                endpoint_url=request.get("endpoint_url"),
                retry_config=RetryConfig(retry_limit=6),
            )
        except UnknownServiceError:
            import botocore

            return {
                "ok": False,
                "kind": "unusable",
                "reason": f"botocore {botocore.__version__} has no qldb-session model "
                "(botocore-a-la-carte-qldb-session supplies it)",
            }
        return {"ok": True}

    def close(self) -> None:
        if self.driver is not None:
            self.driver.close()

    # -- helpers inside a transaction ---------------------------------------------------------------

    @staticmethod
    def _one(txn: Any, statement: str, *params: Any) -> Any:
        return next(iter(txn.execute_statement(statement, *params)), None)

    def tables(self) -> dict[str, set[str]]:
        def read(txn: Any) -> dict[str, set[str]]:
            out: dict[str, set[str]] = {}
            for t in txn.execute_statement("SELECT * FROM information_schema.user_tables"):
                if str(t.get("status")) == "ACTIVE":
                    exprs = {str(i.get("expr", "")) for i in t.get("indexes") or ()}
                    out[str(t["name"])] = {_unquote(e.strip("[]")) for e in exprs}
            return out

        result: dict[str, set[str]] = self.driver.execute_lambda(read)
        return result

    def ensure(self, tables: Sequence[dict[str, Any]]) -> int:
        """Create what is missing; one DDL statement per transaction. Returns how many ran."""
        have = self.tables()
        ran = 0
        for t in tables:
            name = t["name"]
            if name not in have:
                self.driver.execute_lambda(
                    lambda txn, n=name: txn.execute_statement(f"CREATE TABLE {quote(n)}")
                )
                have[name] = set()
                ran += 1
            for field in t.get("indexes", ()):
                if field not in have[name]:
                    self.driver.execute_lambda(
                        lambda txn, n=name, f=field: txn.execute_statement(
                            f"CREATE INDEX ON {quote(n)} ({quote(f)})"
                        )
                    )
                    have[name].add(field)
                    ran += 1
        return ran

    def _replay(self, txn: Any, step: dict[str, Any], counts: dict[str, int]) -> None:
        from amazon.ion import simpleion
        from amazon.ion.simple_types import IonPyDict

        table, doc_id, version, kind = step["table"], step["id"], int(step["version"]), step["kind"]
        where = f"document {doc_id} version {version} (block {step['block']})"
        doc = self._one(txn, f"SELECT * FROM {quote(table)} AS d WHERE d.{quote(SOURCE_ID)} = ?", doc_id)
        held = None if doc is None else int(doc[SOURCE_VERSION])
        tombstone = None
        if doc is None:
            for t in txn.execute_statement(
                f"SELECT * FROM {quote(TOMBSTONE_TABLE)} AS t WHERE t.source_id = ?", doc_id
            ):
                if str(t["table_name"]) == table:
                    tombstone = int(t["version"])
        action = decide(version, held, tombstone, where)
        if action == "skip":
            counts["skipped"] += 1
            return
        counts["written"] += 1
        if kind == "deleted":
            txn.execute_statement(f"DELETE FROM {quote(table)} AS d WHERE d.{quote(SOURCE_ID)} = ?", doc_id)
            txn.execute_statement(
                f"INSERT INTO {quote(TOMBSTONE_TABLE)} VALUE ?",
                {"table_name": table, "source_id": doc_id, "version": version},
            )
            return
        data = IonPyDict() if step["ion"] is None else simpleion.loads(base64.b64decode(step["ion"]))
        if getattr(data, "ion_type", None) is None or not isinstance(data, IonPyDict):
            raise _Refused("its data is not a struct", where)
        clash = [f for f in (SOURCE_ID, SOURCE_VERSION) if f in data]
        if clash:
            raise _Refused(
                f"its data has a field {clash[0]}, which the replay uses for the source document; "
                "it cannot be replayed as it is",
                where,
            )
        if action == "insert":
            data[SOURCE_ID] = doc_id
            data[SOURCE_VERSION] = version
            # pyqldb hashes parameters with ionhash, which needs Ion values all the way down
            txn.execute_statement(
                f"INSERT INTO {quote(table)} VALUE ?", simpleion.loads(simpleion.dumps(data))
            )
            return
        names = [str(k) for k in data]
        if any(len(data.get_all_values(n)) > 1 for n in names):
            raise _Refused("its data repeats a field name, which an UPDATE cannot set", where)
        gone = [
            str(k)
            for k in dict.fromkeys(doc.keys())
            if k not in data and k not in (SOURCE_ID, SOURCE_VERSION)
        ]
        fields = [*names, SOURCE_VERSION]
        params = [*(data[n] for n in names), version, doc_id]
        statements = update_statements(table, fields, gone)
        txn.execute_statement(statements[0], *params)
        for statement in statements[1:]:
            txn.execute_statement(statement, doc_id)

    def _write_checkpoint(self, txn: Any, checkpoint: dict[str, Any]) -> None:
        table = quote(CHECKPOINT_TABLE)
        found = self._one(txn, f"SELECT * FROM {table} AS c WHERE c.restore_id = ?", checkpoint["restore_id"])
        if found is None:
            txn.execute_statement(f"INSERT INTO {table} VALUE ?", checkpoint)
            return
        fields = [k for k in checkpoint if k != "restore_id"]
        sets = ", ".join(f"c.{quote(k)} = ?" for k in fields)
        txn.execute_statement(
            f"UPDATE {table} AS c SET {sets} WHERE c.restore_id = ?",
            *(checkpoint[k] for k in fields),
            checkpoint["restore_id"],
        )

    def apply(self, steps: Sequence[dict[str, Any]], checkpoint: dict[str, Any] | None) -> dict[str, Any]:
        counts = {"transactions": 0, "written": 0, "skipped": 0}
        revisions: list[dict[str, Any]] = []
        groups: list[list[dict[str, Any]]] = []
        for step in steps:  # DDL runs at its place in block order, each statement its own transaction
            if "ddl" in step:
                groups += pack_transactions(revisions)
                revisions = []
                groups.append([step])
            else:
                revisions.append(step)
        groups += pack_transactions(revisions)
        if checkpoint is not None and (not groups or "ddl" in groups[-1][0]):
            groups.append([])
        for i, group in enumerate(groups):
            last = i == len(groups) - 1
            if group and "ddl" in group[0]:
                step = group[0]
                self.ensure([{"name": step["table"], "indexes": [step["field"]] if step["field"] else []}])
                continue

            def work(txn: Any, g: list[dict[str, Any]] = group, last: bool = last) -> dict[str, int]:
                tx_counts = {"written": 0, "skipped": 0}
                for step in g:
                    self._replay(txn, step, tx_counts)
                if last and checkpoint is not None:
                    self._write_checkpoint(txn, checkpoint)
                return tx_counts

            done = self.driver.execute_lambda(work)
            counts["transactions"] += 1
            counts["written"] += done["written"]
            counts["skipped"] += done["skipped"]
        return {"ok": True, **counts}

    def read_checkpoint(self, restore_id: str) -> dict[str, Any]:
        if CHECKPOINT_TABLE not in self.tables():
            return {"ok": True, "checkpoint": None}
        found = self.driver.execute_lambda(
            lambda txn: self._one(
                txn, f"SELECT * FROM {quote(CHECKPOINT_TABLE)} AS c WHERE c.restore_id = ?", restore_id
            )
        )
        if found is None:
            return {"ok": True, "checkpoint": None}
        return {"ok": True, "checkpoint": {k: _plain(v) for k, v in found.items()}}

    def current(self, tables: Sequence[str]) -> dict[str, Any]:
        from amazon.ion import simpleion

        documents = []
        for table in tables:
            rows = self.driver.execute_lambda(
                lambda txn, t=table: list(txn.execute_statement(f"SELECT * FROM {quote(t)}"))
            )
            for row in rows:
                source_id = str(row[SOURCE_ID])
                del row[SOURCE_ID]
                del row[SOURCE_VERSION]
                ion = base64.b64encode(simpleion.dumps(row, binary=True)).decode("ascii")
                documents.append({"table": table, "id": source_id, "ion": ion})
        return {"ok": True, "documents": documents}


def _plain(value: Any) -> Any:
    """An Ion scalar of the checkpoint document as JSON: ints (bools are ints) and text."""
    return int(value) if isinstance(value, int) else str(value)


_TRANSIENT_CODES: Final = frozenset(
    {
        "OccConflictException",
        "CapacityExceededException",
        "RateExceededException",
        "InvalidSessionException",
        "ThrottlingException",
        "InternalFailure",
        "ServiceUnavailable",
    }
)


def _error(exc: BaseException) -> dict[str, Any]:
    """A worker error as an answer: the error code and message, never a parameter value."""
    if isinstance(exc, _Refused):
        return {"ok": False, "kind": "terminal", "reason": exc.reason, "where": exc.where}
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        code = str(response.get("Error", {}).get("Code", ""))
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = str(response.get("Error", {}).get("Message", ""))[:300]
        kind = "transient" if code in _TRANSIENT_CODES or status >= 500 else "terminal"
        return {"ok": False, "kind": kind, "reason": f"{code}: {message}"}
    name = type(exc).__name__
    transient = name.endswith(("ConnectionError", "Timeout", "TimeoutError", "ConnectTimeoutError"))
    return {"ok": False, "kind": "transient" if transient else "terminal", "reason": name}


def _handle(worker: _Worker, request: dict[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    if op == "open":
        return worker.open(request)
    if op == "ensure":
        return {"ok": True, "ran": worker.ensure(request["tables"])}
    if op == "apply":
        return worker.apply(request["steps"], request.get("checkpoint"))
    if op == "read_checkpoint":
        return worker.read_checkpoint(request["restore_id"])
    if op == "current":
        return worker.current(request["tables"])
    return {"ok": False, "kind": "terminal", "reason": f"unknown request {op!r}"}


def serve_worker(stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None) -> int:
    """The worker's loop: one JSON request per line in, one JSON answer per line out, until close.

    Nothing else may reach the answer stream, so Python's own stdout is pointed at stderr.
    """
    requests = stdin if stdin is not None else sys.stdin.buffer
    answers = stdout if stdout is not None else sys.stdout.buffer
    if stdout is None:
        sys.stdout = sys.stderr
    for name in ("pyqldb", "botocore", "urllib3"):  # their debug logs carry parameters: document data
        logging.getLogger(name).setLevel(logging.WARNING)
    worker = _Worker()
    try:
        for line in requests:
            request = json.loads(line)
            if request.get("op") == "close":
                break
            try:
                answer = _handle(worker, request)
            except Exception as exc:  # every failure goes back as an answer; the loop goes on
                answer = _error(exc)
            answers.write(json.dumps(answer).encode("utf-8") + b"\n")
            answers.flush()
    finally:
        worker.close()
    return 0

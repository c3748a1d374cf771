"""The double's HTTP server: the QLDB Session JSON protocol (``QLDBSession.SendCommand``).

Every request is ``POST /`` with ``X-Amz-Target: QLDBSession.SendCommand`` and a JSON body holding
a ``SessionToken`` and one command; Ion values travel as ``{"IonBinary": base64}``. Errors are
AWS JSON errors (``{"__type": "OccConflictException", "message": ...}``, HTTP 400). The
CommitDigest check is QLDB's: the digest starts as ``H(transactionId)``, and each statement folds
in ``dot(H(statement), H(parameter)...)`` with `journal.merkle.dot`; ``H`` is the reference
``ionhash`` (pyqldb's own dependency, installed in the qldb environment).

Test-only endpoints: ``GET /double/state`` (every table, index, current document and revision,
Ion as base64 binary) and ``POST /double/faults`` (``{"occ_conflicts": n}``: the next n commits
fail with OccConflictException; ``{"fail_commits_after": n}``: commits after the next n fail with
BadRequestException, until reset with null).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import ionhash  # noqa: F401 - adds ion_hash() to amazon.ion's values
from amazon.ion import simpleion

from journal.merkle import dot
from tests.qldb_double.ledger import DoubleError, Ledger, Transaction, new_id
from tests.qldb_double.partiql import Unsupported, parse

__all__ = ["QldbDouble", "start_double"]

PAGE_SIZE = 50


def _hash(value: Any) -> bytes:
    digest: bytes = value.ion_hash("SHA256")
    return digest


def _text_hash(text: str) -> bytes:
    return _hash(simpleion.loads(simpleion.dumps(text)))


def commit_digest(tx: Transaction) -> bytes:
    """QLDB's commit digest of a transaction's statements and parameters."""
    digest = _text_hash(tx.tx_id)
    for statement, params in tx.statements:
        h = _text_hash(statement)
        for p in params:
            h = dot(h, _hash(p))
        digest = dot(digest, h)
    return digest


@dataclass(slots=True)
class _Session:
    ledger: Ledger
    tx: Transaction | None = None
    pages: dict[str, list[Any]] = field(default_factory=dict)


class QldbDouble:
    """The double's state: ledgers by name, sessions by token, faults; one lock for everything."""

    def __init__(self, ledgers: tuple[str, ...] = ("restored",)) -> None:
        self.ledgers = {name: Ledger(name) for name in ledgers}
        self.sessions: dict[str, _Session] = {}
        self.lock = threading.Lock()
        self.occ_conflicts = 0
        self.fail_commits_after: int | None = None
        self.commits = 0
        self.requests = 0

    # ---- commands --------------------------------------------------------------------------------

    def send_command(self, body: dict[str, Any]) -> dict[str, Any]:
        """One SendCommand; raises DoubleError for an AWS error."""
        with self.lock:
            self.requests += 1
            if "StartSession" in body:
                name = body["StartSession"].get("LedgerName")
                if name not in self.ledgers:
                    raise DoubleError("BadRequestException", f"Ledger {name!r} does not exist")
                token = new_id() + new_id()
                self.sessions[token] = _Session(self.ledgers[name])
                return {"StartSession": {"SessionToken": token}}
            session = self.sessions.get(body.get("SessionToken", ""))
            if session is None:
                raise DoubleError("InvalidSessionException", "Invalid session token")
            if "EndSession" in body:
                del self.sessions[body["SessionToken"]]
                return {"EndSession": {}}
            if "StartTransaction" in body:
                if session.tx is not None:
                    raise DoubleError("BadRequestException", "a transaction is already open on this session")
                session.tx = Transaction(new_id(), session.ledger.block)
                return {"StartTransaction": {"TransactionId": session.tx.tx_id}}
            if "AbortTransaction" in body:
                session.tx, session.pages = None, {}
                return {"AbortTransaction": {}}
            tx = session.tx
            for command in ("ExecuteStatement", "FetchPage", "CommitTransaction"):
                if command in body and (tx is None or body[command].get("TransactionId") != tx.tx_id):
                    raise DoubleError("InvalidSessionException", f"{command}: no such open transaction")
            assert tx is not None
            if "ExecuteStatement" in body:
                return {"ExecuteStatement": self._execute(session, tx, body["ExecuteStatement"])}
            if "FetchPage" in body:
                return {
                    "FetchPage": {"Page": self._page(session, body["FetchPage"].get("NextPageToken", ""))}
                }
            if "CommitTransaction" in body:
                return {"CommitTransaction": self._commit(session, tx, body["CommitTransaction"])}
            raise DoubleError("BadRequestException", f"unknown command in {sorted(body)}")

    def _execute(self, session: _Session, tx: Transaction, command: dict[str, Any]) -> dict[str, Any]:
        text = command["Statement"]
        params = [simpleion.loads(base64.b64decode(p["IonBinary"])) for p in command.get("Parameters", [])]
        tx.statements.append((text, params))
        try:
            statement = parse(text)
        except Unsupported as exc:
            raise DoubleError("BadRequestException", str(exc)) from None
        values = session.ledger.execute(tx, statement, params)
        return {"FirstPage": self._first_page(session, values)}

    @staticmethod
    def _paged(session: _Session, encoded: list[dict[str, str]]) -> dict[str, Any]:
        """One page of values; the rest waits behind a NextPageToken."""
        page: dict[str, Any] = {"Values": encoded[:PAGE_SIZE]}
        if len(encoded) > PAGE_SIZE:
            token = new_id()
            session.pages[token] = encoded[PAGE_SIZE:]
            page["NextPageToken"] = token
        return page

    def _first_page(self, session: _Session, values: list[Any]) -> dict[str, Any]:
        return self._paged(
            session, [{"IonBinary": base64.b64encode(simpleion.dumps(v)).decode()} for v in values]
        )

    def _page(self, session: _Session, token: str) -> dict[str, Any]:
        rest = session.pages.pop(token, None)
        if rest is None:
            raise DoubleError("BadRequestException", "no such page")
        return self._paged(session, rest)

    def _commit(self, session: _Session, tx: Transaction, command: dict[str, Any]) -> dict[str, Any]:
        session.tx, session.pages = None, {}  # a failed commit ends the transaction too, as QLDB's do
        digest = commit_digest(tx)
        if base64.b64decode(command.get("CommitDigest", "")) != digest:
            raise DoubleError(
                "BadRequestException", "CommitDigest does not match the transaction's statements"
            )
        if self.occ_conflicts > 0:
            self.occ_conflicts -= 1
            raise DoubleError("OccConflictException", f"Transaction {tx.tx_id}: OCC conflict (injected)")
        if self.fail_commits_after is not None:
            if self.fail_commits_after <= 0:
                raise DoubleError("BadRequestException", "commit refused (injected)")
            self.fail_commits_after -= 1
        session.ledger.commit(tx)
        self.commits += 1
        return {"TransactionId": tx.tx_id, "CommitDigest": base64.b64encode(digest).decode()}

    # ---- test endpoints --------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Every ledger's tables, indexes, documents and revisions (Ion as base64 binary)."""

        def ion(v: Any) -> str | None:
            return None if v is None else base64.b64encode(simpleion.dumps(v)).decode()

        with self.lock:
            return {
                "commits": self.commits,
                "requests": self.requests,
                "ledgers": {
                    name: {
                        "blocks": ledger.block + 1,
                        "unindexed_lookups": ledger.unindexed_lookups,
                        "tables": {
                            t.name: {
                                "indexes": list(t.indexes),
                                "revisions": {
                                    d: [
                                        {"version": r.version, "block": r.block_seq, "data": ion(r.data)}
                                        for r in revs
                                    ]
                                    for d, revs in t.revisions.items()
                                },
                            }
                            for t in ledger.tables.values()
                        },
                    }
                    for name, ledger in self.ledgers.items()
                },
            }

    def set_faults(self, faults: dict[str, Any]) -> None:
        """Inject commit failures (see the module docstring)."""
        with self.lock:
            if "occ_conflicts" in faults:
                self.occ_conflicts = int(faults["occ_conflicts"])
            if "fail_commits_after" in faults:
                value = faults["fail_commits_after"]
                self.fail_commits_after = None if value is None else int(value)


def _handler(double: QldbDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as AWS endpoints

        def setup(self) -> None:
            super().setup()
            # headers and body go out in two writes: without this, Nagle and delayed ACKs add 40 ms each
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: requests carry document data."""

        def _send(self, status: int, doc: dict[str, Any]) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/double/state":
                self._send(200, double.state())
            else:
                self._send(404, {"__type": "NotFound", "message": self.path})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            if self.path == "/double/faults":
                double.set_faults(body)
                self._send(200, {})
                return
            if self.headers.get("X-Amz-Target") != "QLDBSession.SendCommand":
                self._send(400, {"__type": "UnknownOperationException", "message": "not SendCommand"})
                return
            try:
                self._send(200, double.send_command(body))
            except DoubleError as exc:
                self._send(exc.status, {"__type": exc.code, "message": exc.message})

    return Handler


@contextmanager
def start_double(ledgers: tuple[str, ...] = ("restored",)) -> Iterator[tuple[QldbDouble, str]]:
    """Serve a double on 127.0.0.1 (a free port) in a thread; yields it and its URL."""
    double = QldbDouble(ledgers)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(double))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield double, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

"""PostgreSQL target, beyond the shared contract: COPY, awkward data, real errors, reconnecting.

The contract suite (`test_restore_targets.py`) proves the semantics on every engine; this one
proves what only PostgreSQL has: the bulk path, jsonb's limits, the SQLSTATE classifier on
errors the server really raises, and a connection killed by the server.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import closing

import psycopg
import pytest

from restore.batch import RevisionBatch, RevisionRow
from restore.checkpoint import Checkpoint
from restore.content import content_hash
from restore.errors import TerminalTargetError, TransientTargetError
from restore.identifiers import TableNames, table_names
from restore.targets.postgresql import PostgresTarget, classify, quote
from restore.targets.sqlite import md5_int32
from tests.integration.conftest import POSTGRESQL_URL
from tests.integration.test_restore_targets import IDENTITY, rev

AWKWARD: dict[str, object] = {
    "tab": "a\tb",
    "newline": "line1\nline2\r\n",
    "backslash": "C:\\path\\N",
    "null_marker": "\\N",
    "quotes": 'it\'s "quoted" `back`',
    "unicode": "Zürich Straße 東京",
    "emoji": "🚗💨",
    "empty": "",
    "big_decimal": "123456789012345678901234567890.123456789",
    "nested": [{"k": "v\tw"}, None, True, 1.5],
}


def raw_rev(doc_id: str, data: dict[str, object], *, block_seq: int = 1) -> RevisionRow:
    """A revision whose JSON keeps non-ASCII characters as they are (``rev`` escapes them)."""
    data_json = json.dumps(data, ensure_ascii=False)
    return dataclasses.replace(
        rev(doc_id, 0, block_seq, data), data_json=data_json, content_hash=content_hash(data_json)
    )


@pytest.fixture
def target(postgresql_url: str) -> Iterator[PostgresTarget]:
    with closing(PostgresTarget(postgresql_url)) as t:
        yield t


def _ready(target: PostgresTarget, *, history: bool = True) -> dict[str, TableNames]:
    names = table_names(["Person"], target.capabilities.identifiers)
    target.ensure_schema(list(names.values()), history=history)
    return names


def _apply(target: PostgresTarget, names: dict[str, TableNames], rows: tuple[RevisionRow, ...]) -> None:
    last = max(r.block_seq for r in rows)
    checkpoint = Checkpoint(restore_id="restore", identity=IDENTITY, last_block_seq=last, completed=False)
    target.apply(RevisionBatch(rows, min(r.block_seq for r in rows), last), names, checkpoint, history=True)


def test_a_5000_revision_batch_goes_in_by_copy(target: PostgresTarget) -> None:
    # GIVEN 2,500 documents with two versions each, the second of every tenth one a deletion
    names = _ready(target)
    rows = tuple(
        rev(
            f"D{i:05d}",
            v,
            1 + v,
            None if (v and i % 10 == 0) else {"i": i, "v": v},
            deleted=bool(v and i % 10 == 0),
        )
        for i in range(2500)
        for v in (0, 1)
    )
    # WHEN they are applied as one batch
    _apply(target, names, rows)
    # THEN one staged row per revision went through COPY, and the tables hold the outcome
    assert target.rows_copied == 5000
    current = list(target.fetch_current(names["Person"]))
    assert len(current) == 2250
    assert all(c.version == 1 and c.data == {"i": int(c.doc_id[1:]), "v": 1} for c in current)
    assert sum(1 for _ in target.fetch_history(names["Person"])) == 5000


def test_awkward_data_round_trips(target: PostgresTarget) -> None:
    names = _ready(target)
    row = raw_rev("weird\tid\n'\"\\", AWKWARD)
    _apply(target, names, (row,))
    [current] = target.fetch_current(names["Person"])
    assert (current.doc_id, current.data, current.content_hash) == (row.doc_id, AWKWARD, row.content_hash)
    assert current.tx_time == row.tx_time
    assert current.tx_time.tzinfo is None
    [history] = target.fetch_history(names["Person"])
    assert history.data == AWKWARD


def test_a_nul_character_is_a_terminal_error_without_the_data(target: PostgresTarget) -> None:
    # jsonb cannot hold U+0000; the error names the blocks and never echoes the document
    names = _ready(target)
    with pytest.raises(TerminalTargetError, match="blocks 7-7") as caught:
        _apply(target, names, (rev("A", 0, 7, {"secret": "s3cr3t\u0000value"}),))
    assert "s3cr3t" not in str(caught.value)
    assert caught.value.reason.startswith("22")  # a data exception SQLSTATE
    assert list(target.fetch_current(names["Person"])) == []


def test_a_lock_timeout_is_transient_and_the_retry_works(postgresql_url: str) -> None:
    # GIVEN a target whose session gives up on a lock after 300 ms, and a row locked by another session
    with closing(PostgresTarget(postgresql_url + "%20-clock_timeout%3D300")) as target:
        names = _ready(target)
        _apply(target, names, (rev("A", 0, 1, {"n": 0}),))
        with psycopg.connect(postgresql_url) as other:
            other.execute(f"SELECT * FROM {quote('Person')} WHERE doc_id = 'A' FOR UPDATE")
            # WHEN the target updates that row THEN the lock timeout is transient
            with pytest.raises(TransientTargetError, match="55P03"):
                _apply(target, names, (rev("A", 1, 2, {"n": 1}),))
            other.rollback()
        # AND once the lock is gone, the retry lands
        target.reconnect()
        _apply(target, names, (rev("A", 1, 2, {"n": 1}),))
        assert [(c.doc_id, c.version) for c in target.fetch_current(names["Person"])] == [("A", 1)]


def test_a_table_created_at_the_same_moment_elsewhere_is_transient(postgresql_url: str) -> None:
    # GIVEN another session creating the same table, its transaction still open
    with closing(PostgresTarget(postgresql_url)) as target, psycopg.connect(postgresql_url) as other:
        names = table_names(["Person"], target.capabilities.identifiers)
        other.execute(target.ddl(list(names.values()), history=False)[0])
        failed: list[BaseException] = []

        def ensure() -> None:
            try:
                target.ensure_schema(list(names.values()), history=False)
            except BaseException as exc:
                failed.append(exc)

        # WHEN this target creates its tables meanwhile (it waits on the other's catalog row)
        thread = threading.Thread(target=ensure)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive()
        other.commit()
        thread.join(timeout=30)
        # THEN it fails as transient, saying why, and the retry finds the table and goes on
        assert len(failed) == 1
        assert isinstance(failed[0], TransientTargetError)
        assert "created the same table" in str(failed[0])
        target.ensure_schema(list(names.values()), history=False)
        assert target.is_empty(list(names.values()), history=False)


def test_a_real_deadlock_is_transient(postgresql_url: str) -> None:
    # GIVEN two targets that each lock one document, then want the other's
    with closing(PostgresTarget(postgresql_url)) as first, closing(PostgresTarget(postgresql_url)) as second:
        names = _ready(first)
        _apply(first, names, (rev("A", 0, 1, {}), rev("B", 0, 1, {})))
        lock = f"SELECT 1 FROM {quote('Person')} WHERE doc_id = %s FOR UPDATE"
        first._conn.execute(lock, ("A",))
        second._conn.execute(lock, ("B",))
        errors: list[TransientTargetError] = []

        def take(target: PostgresTarget, doc_id: str) -> None:
            try:
                # the apply joins the open transaction: it waits for the other side's row
                _apply(target, names, (rev(doc_id, 1, 2, {"n": 1}),))
            except TransientTargetError as exc:
                errors.append(exc)

        # WHEN both wait for each other
        threads = [threading.Thread(target=take, args=a) for a in ((first, "B"), (second, "A"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        # THEN PostgreSQL kills one of them with 40P01, which is transient
        assert [e.reason[:5] for e in errors] == ["40P01"]


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (psycopg.errors.SerializationFailure, True),
        (psycopg.errors.DeadlockDetected, True),
        (psycopg.errors.LockNotAvailable, True),
        (psycopg.errors.AdminShutdown, True),
        (psycopg.errors.CannotConnectNow, True),
        (psycopg.errors.ConnectionFailure, True),
        (psycopg.OperationalError, True),
        (psycopg.errors.UniqueViolation, False),
        (psycopg.errors.UndefinedTable, False),
        (psycopg.errors.InvalidTextRepresentation, False),
    ],
)
def test_classifier_maps_sqlstates(error: type[psycopg.Error], transient: bool) -> None:
    result = classify(error('invalid input syntax for type json: "secret value"'), "applying blocks 3-4")
    assert isinstance(result, TransientTargetError if transient else TerminalTargetError)
    assert str(result).startswith("applying blocks 3-4: ")
    assert "secret" not in str(result)


def test_a_killed_connection_is_transient_and_reconnect_recovers(target: PostgresTarget) -> None:
    # GIVEN a target with one batch applied
    names = _ready(target)
    _apply(target, names, (rev("A", 0, 1, {"n": 0}),))
    # WHEN the server terminates its session
    with psycopg.connect(POSTGRESQL_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (target._conn.info.backend_pid,))
    # THEN the next batch fails as transient, and after reconnect it lands
    with pytest.raises(TransientTargetError, match="blocks 2-2"):
        _apply(target, names, (rev("A", 1, 2, {"n": 1}),))
    target.reconnect()
    _apply(target, names, (rev("A", 1, 2, {"n": 1}),))
    assert [(c.version, c.data) for c in target.fetch_current(names["Person"])] == [(1, {"n": 1})]
    saved = target.read_checkpoint("restore")
    assert saved is not None
    assert saved.last_block_seq == 2


def test_an_unreachable_server_is_terminal_and_hides_the_password() -> None:
    with pytest.raises(TerminalTargetError, match="cannot connect") as caught:
        PostgresTarget("postgresql://postgres:hunter2@127.0.0.1:1/test?connect_timeout=2")
    assert "hunter2" not in str(caught.value)
    assert "postgres:***@127.0.0.1:1" in str(caught.value)


def test_times_stay_utc_whatever_the_session_time_zone(postgresql_url: str) -> None:
    with closing(PostgresTarget(postgresql_url + "%20-ctimezone%3DAsia/Tokyo")) as target:
        names = _ready(target)
        row = rev("A", 0, 1, {"n": 0})
        _apply(target, names, (row,))
        [current] = target.fetch_current(names["Person"])
        assert current.tx_time == row.tx_time == dt.datetime(2024, 5, 1, 12, 0, 1, 123000)
        saved = target.read_checkpoint("restore")
        assert saved is not None
        assert saved.updated_at is not None
        assert abs(saved.updated_at - dt.datetime.now(dt.UTC).replace(tzinfo=None)) < dt.timedelta(minutes=5)


def test_ddl_uses_native_types(target: PostgresTarget) -> None:
    names = _ready(target)
    types = dict(
        target._conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = %s AND table_schema = current_schema()",
            (names["Person"].current,),
        ).fetchall()
    )
    target._conn.rollback()
    assert types == {
        "doc_id": "text",
        "version": "bigint",
        "block_seq": "bigint",
        "tx_time": "timestamp without time zone",
        "data": "jsonb",
        "content_hash": "text",
        # parity's stored checksums (restore.parity_columns), generated by the database
        "parity_doc_hash": "bigint",
        "parity_h1": "bigint",
        "parity_h2": "bigint",
    }


def test_query_runs_the_parity_dialect_on_a_hostile_name(target: PostgresTarget) -> None:
    # GIVEN a table whose name holds a "%s", and a document id beyond ASCII
    names = table_names(["percent%s"], target.capabilities.identifiers)
    target.ensure_schema(list(names.values()), history=False)
    doc_id = "Zürich🚗"
    checkpoint = Checkpoint(restore_id="restore", identity=IDENTITY, last_block_seq=1, completed=False)
    target.apply(
        RevisionBatch((rev(doc_id, 0, 1, {}, table="percent%s"),), 1, 1), names, checkpoint, history=False
    )
    d = target.capabilities.dialect
    key = d.concat(["doc_id", "'|'", d.int_to_text("version")])
    sql = (
        f"SELECT {d.md5_int32(key, 1)}, {d.int_div(d.md5_int32(key, 9), 1000)} "
        f"FROM {target.capabilities.quote('percent%s')} WHERE version >= {d.placeholder}"
    )
    # WHEN the parity check's SQL runs, with and without parameters
    [with_params] = target.query(sql, [0])
    [without] = target.query(sql[: sql.rindex(d.placeholder)] + "0", [])
    # THEN it hashes the UTF-8 text as SQLite's Python function does
    expected = (md5_int32(f"{doc_id}|0", 1), (md5_int32(f"{doc_id}|0", 9) or 0) // 1000)
    assert tuple(int(v) for v in with_params) == expected
    assert tuple(int(v) for v in without) == expected

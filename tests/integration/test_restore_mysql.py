"""MySQL/MariaDB target, beyond the shared contract: LOAD DATA and its fallback, real errors, SQL text.

The contract suite (`test_restore_targets.py`) proves the semantics on every engine; this one
proves what only this target has: the LOAD DATA LOCAL INFILE path (escaping included) and the
multi-row INSERT fallback giving the same state, the error-code classifier on errors the server
really raises, a connection killed by the server, and the MySQL 8 rendering of the upserts
(rendered as text here; MariaDB also runs its INSERT ... SELECT form, which is checked too).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Iterator
from contextlib import closing
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pymysql
import pytest

import restore.targets.mysql as mysql_target
from restore.batch import RevisionBatch, RevisionRow
from restore.checkpoint import Checkpoint
from restore.content import content_hash
from restore.errors import TerminalTargetError, TransientTargetError
from restore.identifiers import TableNames, table_names
from restore.targets.mysql import (
    MysqlTarget,
    ServerInfo,
    classify,
    connect_args_from_url,
    quote,
    render_apply_sql,
    render_checkpoint_sql,
)
from restore.targets.sqlite import md5_int32
from tests.integration.test_restore_targets import ALL, EXPECTED_CURRENT, IDENTITY, rev

if TYPE_CHECKING:
    from restore.targets.base import CurrentRow, HistoryRow

AWKWARD: dict[str, object] = {
    "tab": "a\tb",
    "newline": "line1\nline2\r\n",
    "backslash": "C:\\path\\N",
    "null_marker": "\\N",
    "nul": "before\u0000after",
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
def target(mysql_url: str) -> Iterator[MysqlTarget]:
    with closing(MysqlTarget(mysql_url)) as t:
        yield t


def _admin(url: str) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
    args = connect_args_from_url(url)
    return pymysql.connect(
        host=args["host"], port=args["port"], user=args["user"], password=args["password"], autocommit=True
    )


def _ready(target: MysqlTarget, *, history: bool = True) -> dict[str, TableNames]:
    names = table_names(["Person"], target.capabilities.identifiers)
    target.ensure_schema(list(names.values()), history=history)
    return names


def _apply(target: MysqlTarget, names: dict[str, TableNames], rows: tuple[RevisionRow, ...]) -> None:
    last = max(r.block_seq for r in rows)
    checkpoint = Checkpoint(restore_id="restore", identity=IDENTITY, last_block_seq=last, completed=False)
    target.apply(RevisionBatch(rows, min(r.block_seq for r in rows), last), names, checkpoint, history=True)


def _state(target: MysqlTarget, names: dict[str, TableNames]) -> tuple[list[CurrentRow], list[HistoryRow]]:
    return list(target.fetch_current(names["Person"])), list(target.fetch_history(names["Person"]))


def _com_load(target: MysqlTarget) -> int:
    with target._conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Com_load'")
        row = cur.fetchone()
    assert row is not None
    return int(row[1])


def _connection_id(target: MysqlTarget) -> int:
    with target._conn.cursor() as cur:
        cur.execute("SELECT CONNECTION_ID()")
        row = cur.fetchone()
    target._conn.commit()
    assert row is not None
    return int(row[0])


def _big_batch() -> tuple[RevisionRow, ...]:
    """2,500 documents with two versions each; the second of every tenth one is a deletion."""
    return tuple(
        rev(
            f"D{i:05d}",
            v,
            1 + v,
            None if (v and i % 10 == 0) else {"i": i, "v": v, "t": "x\ty"},
            deleted=bool(v and i % 10 == 0),
        )
        for i in range(2500)
        for v in (0, 1)
    )


def test_a_5000_revision_batch_goes_in_by_load_data(target: MysqlTarget) -> None:
    # GIVEN a server with local_infile ON (the test server's setting)
    assert target.server.local_infile, "the test server should allow LOAD DATA LOCAL INFILE"
    names = _ready(target)
    before = _com_load(target)
    # WHEN a 5,000-revision batch is applied
    _apply(target, names, _big_batch())
    # THEN exactly one LOAD DATA statement ran in the session, and the tables hold the outcome
    assert _com_load(target) == before + 1
    assert target.bulk_load == "LOAD DATA LOCAL INFILE"
    current, history = _state(target, names)
    assert len(current) == 2250
    assert len(history) == 5000
    assert all(c.version == 1 and c.data == {"i": int(c.doc_id[1:]), "v": 1, "t": "x\ty"} for c in current)


def test_the_insert_fallback_gives_the_same_state(mysql_url: str) -> None:
    # GIVEN the same batches applied by LOAD DATA, then (tables dropped) by multi-row INSERTs
    rows = (*_big_batch(), raw_rev("Q", AWKWARD, block_seq=3))
    states = []
    for url in (mysql_url, mysql_url + "?local_infile=0"):
        with closing(MysqlTarget(url)) as target:
            names = _ready(target)
            before = _com_load(target)
            _apply(target, names, rows[:3000])
            _apply(target, names, rows[2000:])
            states.append(_state(target, names))
            assert target.bulk_load == (
                "executemany" if "local_infile=0" in url else "LOAD DATA LOCAL INFILE"
            )
            assert _com_load(target) == before + (0 if "local_infile=0" in url else 2)
            with target._conn.cursor() as cur:
                for table in (
                    "Person",
                    "Person_history",
                    "qldb_restore_tombstones",
                    "qldb_restore_checkpoint",
                ):
                    cur.execute(f"DROP TABLE {quote(table)}")
    # THEN both paths build the same tables
    assert states[0] == states[1]
    assert len(states[0][0]) == 2251


def test_a_server_refusal_of_load_data_falls_back(mysql_url: str) -> None:
    # GIVEN a client without the LOCAL INFILE flag that still tries LOAD DATA (as against a server
    # whose setting changed after connecting)
    with closing(MysqlTarget(mysql_url + "?local_infile=0")) as target:
        names = _ready(target)
        target._use_infile = True
        # WHEN a batch is applied THEN the refusal is caught, the batch goes in by INSERTs
        for row in reversed(ALL):
            _apply(target, names, (row,))
        assert target.bulk_load == "executemany"
        assert not target._use_infile
        assert [
            (c.doc_id, c.version, c.block_seq, c.tx_time, c.data, c.content_hash)
            for c in _state(target, names)[0]
        ] == EXPECTED_CURRENT


@pytest.mark.parametrize("options", ["", "?local_infile=0"])
def test_awkward_data_round_trips(mysql_url: str, options: str) -> None:
    with closing(MysqlTarget(mysql_url + options)) as target:
        names = _ready(target)
        row = raw_rev("weird\tid\n'\"\\N", AWKWARD)
        _apply(target, names, (row,))
        [current], [history] = _state(target, names)
        assert (current.doc_id, current.data, current.content_hash) == (row.doc_id, AWKWARD, row.content_hash)
        assert current.tx_time == row.tx_time
        assert current.tx_time.tzinfo is None
        assert (history.data, history.revision_hash) == (AWKWARD, row.revision_hash)


@pytest.mark.parametrize("options", ["", "?local_infile=0"])
def test_a_value_too_long_is_terminal_and_applies_nothing(mysql_url: str, options: str) -> None:
    # LOAD DATA LOCAL only warns about a truncated value; the target turns that into an error
    with closing(MysqlTarget(mysql_url + options)) as target:
        names = _ready(target)
        with pytest.raises(TerminalTargetError, match="blocks 1-1"):
            _apply(target, names, (rev("A", 0, 1, {"n": 0}), rev("L" * 300, 0, 1, {"n": 1})))
        assert _state(target, names) == ([], [])
        assert target.read_checkpoint("restore") is None


def test_a_lock_wait_timeout_is_transient_and_the_retry_works(target: MysqlTarget, mysql_url: str) -> None:
    # GIVEN a row locked by another session, and a target that waits at most one second
    names = _ready(target)
    _apply(target, names, (rev("A", 0, 1, {"n": 0}),))
    with target._conn.cursor() as cur:
        cur.execute("SET SESSION innodb_lock_wait_timeout = 1")
    other = _admin(mysql_url)
    try:
        with other.cursor() as cur:
            cur.execute(f"USE {quote(urlsplit(mysql_url).path[1:])}")
            cur.execute("BEGIN")
            cur.execute(f"SELECT * FROM {quote('Person')} WHERE doc_id = 'A' FOR UPDATE")
            # WHEN the target updates that row THEN the timeout (1205) is transient
            with pytest.raises(TransientTargetError, match="1205"):
                _apply(target, names, (rev("A", 1, 2, {"n": 1}),))
            cur.execute("ROLLBACK")
    finally:
        other.close()
    # AND once the lock is gone, the retry lands and the staging table holds no leftovers
    _apply(target, names, (rev("A", 1, 2, {"n": 1}),))
    assert [(c.doc_id, c.version) for c in target.fetch_current(names["Person"])] == [("A", 1)]


def test_a_killed_connection_is_transient_and_reconnect_recovers(target: MysqlTarget, mysql_url: str) -> None:
    # GIVEN a target with one batch applied
    names = _ready(target)
    _apply(target, names, (rev("A", 0, 1, {"n": 0}),))
    # WHEN the server kills its connection
    admin = _admin(mysql_url)
    try:
        with admin.cursor() as cur:
            cur.execute("KILL CONNECTION %s", (_connection_id(target),))
    finally:
        admin.close()
    # THEN the next batch fails as transient, and after reconnect it lands
    with pytest.raises(TransientTargetError, match="blocks 2-2"):
        _apply(target, names, (rev("A", 1, 2, {"n": 1}),))
    target.reconnect()
    _apply(target, names, (rev("A", 1, 2, {"n": 1}),))
    assert [(c.version, c.data) for c in target.fetch_current(names["Person"])] == [(1, {"n": 1})]
    saved = target.read_checkpoint("restore")
    assert saved is not None
    assert saved.last_block_seq == 2


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (pymysql.err.OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction"), True),
        (pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"), True),
        (pymysql.err.OperationalError(2006, "MySQL server has gone away"), True),
        (pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"), True),
        (pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '10.0.0.1'"), True),
        (pymysql.err.OperationalError(1040, "Too many connections"), True),
        (pymysql.err.InterfaceError(0, ""), True),
        (pymysql.err.IntegrityError(1062, "Duplicate entry 'secret' for key 'PRIMARY'"), False),
        (pymysql.err.DataError(1406, "Data too long for column 'doc_id' at row 1"), False),
        (
            pymysql.err.OperationalError(1366, "Incorrect string value: '\\xF0secret' for column 'data'"),
            False,
        ),
        (pymysql.err.ProgrammingError(1146, "Table 'db.Vehicle' doesn't exist"), False),
    ],
)
def test_classifier_maps_error_codes(error: pymysql.err.MySQLError, transient: bool) -> None:
    result = classify(error, "applying blocks 3-4")
    assert isinstance(result, TransientTargetError if transient else TerminalTargetError)
    assert "secret" not in str(result)
    assert str(result).startswith("applying blocks 3-4: ")
    if error.args[0]:
        assert f"MySQL error {error.args[0]}" in str(result)
    if error.args[0] == 1406:
        assert "'doc_id'" in str(result)  # column names stay: they say what to fix


def test_an_unreachable_server_is_terminal_and_hides_the_password() -> None:
    with pytest.raises(TerminalTargetError, match="cannot connect") as caught:
        MysqlTarget("mysql://root:hunter2@127.0.0.1:1/test?connect_timeout=2")
    assert "hunter2" not in str(caught.value)
    assert "root:***@127.0.0.1:1" in str(caught.value)


def test_urls_are_parsed_and_unknown_options_refused() -> None:
    args = connect_args_from_url("mysql://u:p%2Fw@db:3307/dmv?connect_timeout=5&ssl_ca=/ca.pem")
    assert (args["host"], args["port"], args["password"], args["database"]) == ("db", 3307, "p/w", "dmv")
    assert args["ssl"] == {"ca": "/ca.pem"}
    assert args["local_infile"] is True
    assert args["charset"] == "utf8mb4"
    with pytest.raises(Exception, match="unknown option"):
        connect_args_from_url("mysql://u:secret@db/dmv?password=secret2")


@pytest.mark.parametrize(
    ("version", "mariadb", "row_alias"),
    [
        ("10.11.19-MariaDB-0+deb12u1", True, False),
        ("5.5.5-10.6.12-MariaDB", True, False),
        ("8.0.36", False, True),
        ("8.0.19-log", False, True),
        ("8.0.18", False, False),
        ("5.7.44", False, False),
        ("8.4.3", False, True),
    ],
)
def test_server_flavour_from_version(version: str, mariadb: bool, row_alias: bool) -> None:
    info = ServerInfo.from_version(version, local_infile=True)
    assert (info.mariadb, info.row_alias) == (mariadb, row_alias)


def _assignments(statement: str) -> list[str]:
    """The columns an ODKU clause assigns, in order."""
    clause = statement.split("ON DUPLICATE KEY UPDATE ", 1)[1]
    return re.findall(r"(?:^|, )(\w+) = ", clause)


@pytest.mark.parametrize("row_alias", [True, False])
def test_upserts_assign_the_guard_columns_last(row_alias: bool) -> None:
    names = [TableNames("Person", "Person", "Person_history"), TableNames("x`y", "x`y", "x`y_history")]
    tomb, delete, current, history, *rest = render_apply_sql(names, history=True, row_alias=row_alias)
    assert len(rest) == 3  # the second table: delete, current, history
    assert _assignments(tomb) == ["block_seq", "tx_time", "version"]
    assert _assignments(current) == ["block_seq", "tx_time", "content_hash", "data", "version"]
    assert _assignments(history) == ["data", "content_hash", "data_hash", "is_redacted"]
    assert delete.startswith("DELETE c FROM `Person` AS c JOIN `qldb_restore_stage`")
    assert "`x``y`" in rest[1]
    assert "WHERE s.tbl = 1 " in rest[1]
    everything = " ".join([tomb, delete, current, history, *rest])
    assert ("VALUES(" in everything) is not row_alias
    assert "AS new ON DUPLICATE KEY UPDATE" in current
    assert "%" not in everything


def test_mysql8_checkpoint_uses_the_row_alias() -> None:
    mysql8 = render_checkpoint_sql(row_alias=True)
    assert "VALUES(" not in mysql8
    assert ") AS new ON DUPLICATE KEY UPDATE format_version = new.format_version" in mysql8
    assert mysql8.endswith("updated_at = new.updated_at")
    assert "last_block_seq = VALUES(last_block_seq)" in render_checkpoint_sql(row_alias=False)


def test_the_mysql8_upserts_converge_on_mariadb_too(
    target: MysqlTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MariaDB runs the derived-table form as well: the MySQL 8 statements' semantics are checked here
    monkeypatch.setattr(mysql_target, "render_apply_sql", functools.partial(render_apply_sql, row_alias=True))
    names = _ready(target)
    for row in reversed(ALL):
        _apply(target, names, (row,))
    _apply(target, names, ALL + ALL)
    redacted = rev("A", 1, 3, None, redacted=True)
    _apply(target, names, (redacted,))
    _apply(target, names, (ALL[1],))  # a late unredacted copy changes nothing
    current, history = _state(target, names)
    assert [(c.doc_id, c.version, c.data) for c in current] == [
        ("A", 1, None),
        ("C", 0, EXPECTED_CURRENT[1][4]),
    ]
    assert [(h.doc_id, h.version, h.is_redacted, h.data_hash) for h in history if h.doc_id == "A"] == [
        ("A", 0, False, None),
        ("A", 1, True, "dh-A-1"),
    ]


def test_tables_are_innodb_utf8mb4_bin_with_one_unique_key(target: MysqlTarget) -> None:
    _ready(target)
    with target._conn.cursor() as cur:
        cur.execute(
            "SELECT table_name, engine, table_collation FROM information_schema.tables "
            "WHERE table_schema = DATABASE()"
        )
        tables = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
        cur.execute(
            "SELECT table_name, COUNT(DISTINCT index_name) FROM information_schema.statistics "
            "WHERE table_schema = DATABASE() AND non_unique = 0 GROUP BY table_name"
        )
        unique_keys = dict(cur.fetchall())
    target._conn.commit()
    assert set(tables.values()) == {("InnoDB", "utf8mb4_bin")}
    assert unique_keys == {name: 1 for name in tables}


def test_query_runs_the_parity_dialect_on_a_hostile_name(target: MysqlTarget) -> None:
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


def test_local_files_are_served_only_for_our_own_load_data(target: MysqlTarget) -> None:
    # GIVEN a connection with the LOCAL INFILE capability (our bulk path uses it)
    _ready(target)
    # WHEN the server asks for a local file outside our LOAD DATA (as a hostile server could)
    with target._conn.cursor() as cur, pytest.raises(RuntimeError, match="local_infile"):
        cur.execute("LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE `qldb_restore_stage`")
    # THEN PyMySQL refused to send it; a new connection still loads batches by LOAD DATA
    target.reconnect()
    names = _ready(target)
    _apply(target, names, (rev("A", 0, 1, {"n": 0}),))
    assert target.bulk_load == "LOAD DATA LOCAL INFILE"
    assert [c.doc_id for c in target.fetch_current(names["Person"])] == ["A"]

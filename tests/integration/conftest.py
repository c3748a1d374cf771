"""Integration fixtures: an S3 server (moto, over HTTP), a bucket per test, and real databases.

Databases: the running MariaDB and PostgreSQL (URLs from `QLDB_ARCHIVE_TEST_MYSQL_URL` and
`QLDB_ARCHIVE_TEST_POSTGRESQL_URL`), with a database (MariaDB) or schema (PostgreSQL) per test,
dropped after it; SQLite in the test's temporary folder. Under CI (`CI=true`) a server that cannot
be reached fails the test; elsewhere the test is skipped with one line saying how to point it at
a server.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from journal.urls import redact_url

MYSQL_URL = os.environ.get("QLDB_ARCHIVE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
POSTGRESQL_URL = os.environ.get(
    "QLDB_ARCHIVE_TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session")
def s3_endpoint_url() -> Iterator[str]:
    """The URL of a moto S3 server on 127.0.0.1 (a free port), for the whole session.

    Tests reach it over HTTP, as pyarrow, boto3 and awswrangler would reach AWS.

    `QLDB_ARCHIVE_TEST_S3_ENDPOINT_URL` points the tests at another server (MinIO...) instead.
    """
    external = os.environ.get("QLDB_ARCHIVE_TEST_S3_ENDPOINT_URL")
    if external:
        yield external
        return
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        message = f"moto[server] is not installed ({exc}); pip install -e '.[dev]'"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message + " or set QLDB_ARCHIVE_TEST_S3_ENDPOINT_URL")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials: nothing can reach a real AWS account."""
    for name, value in DUMMY_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def s3_bucket(s3_endpoint_url: str, aws_credentials: None) -> Iterator[str]:
    """A fresh bucket for one test, emptied and deleted after it."""
    import boto3

    name = f"qldb-archive-test-{uuid.uuid4().hex[:12]}"
    client: Any = boto3.client("s3", endpoint_url=s3_endpoint_url, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    yield name
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=name, Key=obj["Key"])
    client.delete_bucket(Bucket=name)


def _no_server(what: str, url: str, exc: BaseException, variable: str) -> None:
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    message = (
        f"no {what} at {redact_url(url)} ({type(exc).__name__}: {first_line}); start it or set {variable}"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    """A SQLite database file in the test's own folder."""
    return f"sqlite:///{tmp_path}/restore.db"


@pytest.fixture
def new_postgresql_url() -> Iterator[Callable[[], str]]:
    """Make fresh schemas in the running PostgreSQL, each first on its URL's search path; dropped after."""
    import psycopg
    from psycopg import sql

    try:
        conn = psycopg.connect(POSTGRESQL_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        _no_server("PostgreSQL", POSTGRESQL_URL, exc, "QLDB_ARCHIVE_TEST_POSTGRESQL_URL")
        raise AssertionError("unreachable") from exc
    schemas: list[str] = []

    def make() -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        schemas.append(schema)
        separator = "&" if "?" in POSTGRESQL_URL else "?"
        return f"{POSTGRESQL_URL}{separator}options=-csearch_path%3D{schema}"

    with conn:
        yield make
        for schema in schemas:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def postgresql_url(new_postgresql_url: Callable[[], str]) -> str:
    """A fresh schema in the running PostgreSQL, first on the search path of the URL given."""
    return new_postgresql_url()


@pytest.fixture
def new_mysql_url() -> Iterator[Callable[[], str]]:
    """Make fresh databases in the running MariaDB (or MySQL); all dropped after the test."""
    import pymysql

    parts = urlsplit(MYSQL_URL)
    try:
        conn = pymysql.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
            connect_timeout=5,
            autocommit=True,
        )
    except pymysql.err.OperationalError as exc:
        _no_server("MariaDB/MySQL", MYSQL_URL, exc, "QLDB_ARCHIVE_TEST_MYSQL_URL")
        raise AssertionError("unreachable") from exc
    databases: list[str] = []

    def make() -> str:
        database = f"t_{uuid.uuid4().hex[:12]}"
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        databases.append(database)
        return urlunsplit(parts._replace(path=f"/{database}"))

    try:
        yield make
        with conn.cursor() as cur:
            for database in databases:
                cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
    finally:
        conn.close()


@pytest.fixture
def mysql_url(new_mysql_url: Callable[[], str]) -> str:
    """A fresh database in the running MariaDB (or MySQL), dropped after the test."""
    return new_mysql_url()


@pytest.fixture
def new_sqlite_url(tmp_path: Path) -> Callable[[], str]:
    """Make fresh SQLite database files in the test's own folder."""
    counter = iter(range(1_000_000))
    return lambda: f"sqlite:///{tmp_path}/restore-{next(counter)}.db"


@pytest.fixture(params=["sqlite", "mysql", "postgresql"])
def new_target_url(request: pytest.FixtureRequest) -> Callable[[], str]:
    """For each restore target in turn, a maker of fresh, empty databases of that engine."""
    make: Callable[[], str] = request.getfixturevalue(f"new_{request.param}_url")
    return make


@pytest.fixture(params=["sqlite", "mysql", "postgresql"])
def target_url(request: pytest.FixtureRequest) -> str:
    """Each restore target in turn: one suite for every implementation."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@dataclass(frozen=True, slots=True)
class SimulatedArchive:
    """A simulated ledger's Parquet archive and its ground truth (truth/*.jsonl)."""

    sim: Path
    archive: Path

    def truth(self, name: str) -> list[dict[str, Any]]:
        lines = (self.sim / "truth" / f"{name}.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]


def archive_simulation(root: Path, *, revisions: int, seed: int) -> SimulatedArchive:
    """Simulate a ledger (duplicates, reordering, deletes, redactions) and archive it under `root`."""
    from firehose_transform.local_firehose import events_from_path, run_local_firehose
    from journal.simulate import SimulationConfig, write_simulation

    config = SimulationConfig(revisions=revisions, seed=seed, duplicate_rate=0.08, out_of_order_window=32)
    write_simulation(root / "sim", config, outputs=frozenset({"firehose", "truth"}))
    run_local_firehose(events_from_path(root / "sim"), str(root / "archive"))
    return SimulatedArchive(root / "sim", root / "archive")


@pytest.fixture(scope="session")
def simulated_archive(tmp_path_factory: pytest.TempPathFactory) -> SimulatedArchive:
    """1,500 revisions with duplicates, out-of-order delivery, deletes and redactions, archived."""
    return archive_simulation(tmp_path_factory.mktemp("restore"), revisions=1500, seed=11)

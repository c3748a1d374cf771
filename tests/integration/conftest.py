"""Integration fixtures: an S3 server (moto, in this process, over HTTP) and a bucket per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

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

"""Fixtures for the Firehose transform: real records, real event shapes, a simulated ledger."""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from amazon.ion import simpleion

from firehose_transform import handler as fh_handler
from journal.simulate import SimulationConfig, SimulationSummary, write_simulation

EVENTS = Path(__file__).resolve().parents[2] / "events"
DMV = "amazon-qldb-streams-dmv-sample-lambda-python"
KINESIS_ARN = "arn:aws:kinesis:us-east-1:466800022684:stream/qldb-vehicle-registration"


@dataclass(frozen=True, slots=True)
class RealRecords:
    """The real QLDB stream records of testdata/qldb-real, as bytes."""

    block_summary_text: bytes
    revision_text: bytes
    wallet_text: bytes
    kpl_aggregates: tuple[bytes, ...]

    @property
    def block_summary(self) -> bytes:
        """BLOCK_SUMMARY in Ion binary, as QLDB streams deliver it."""
        return to_binary(self.block_summary_text)

    @property
    def revision(self) -> bytes:
        """REVISION_DETAILS in Ion binary."""
        return to_binary(self.revision_text)


def to_binary(text: bytes) -> bytes:
    return bytes(simpleion.dumps(simpleion.loads(text), binary=True))


@pytest.fixture(scope="session")
def real(qldb_real: Path) -> RealRecords:
    kpl = tuple(
        base64.b64decode(json.loads(p.read_text())["kinesis"]["data"])
        for p in sorted((qldb_real / "kinesis-aggregation").glob("*.json"))
    )
    return RealRecords(
        block_summary_text=(qldb_real / DMV / "block_summary_record.ion").read_bytes(),
        revision_text=(qldb_real / DMV / "revision_details_record.reconstructed.ion").read_bytes(),
        wallet_text=(qldb_real / "qldb-wallet" / "revision_details_user1_v0.ion").read_bytes(),
        kpl_aggregates=kpl,
    )


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    """A fresh copy of a tests/events file (tests may mutate it)."""

    def load(name: str) -> dict[str, Any]:
        return copy.deepcopy(json.loads((EVENTS / name).read_text()))

    return load


EventFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def make_event() -> EventFactory:
    """`make_event(datas, kinesis=True)`: a Firehose event around raw bytes or base64 strings."""
    return build_event


def build_event(datas: list[bytes | str], *, kinesis: bool = True) -> dict[str, Any]:
    """A Firehose event around raw record bytes (or ready base64 strings)."""
    records: list[dict[str, Any]] = []
    for i, d in enumerate(datas):
        rec: dict[str, Any] = {
            "recordId": f"4960220222355739195499295278121071895416104429973143{i:04d}",
            "approximateArrivalTimestamp": 1576048851397 + i,
            "data": d if isinstance(d, str) else base64.b64encode(d).decode(),
        }
        if kinesis:
            rec["kinesisRecordMetadata"] = {
                "shardId": "shardId-000000000000",
                "partitionKey": f"pk{i}",
                "approximateArrivalTimestamp": 1576048851397 + i,
                "sequenceNumber": f"4960220222355739195499295278121071895416104429973143{i:04d}",
                "subsequenceNumber": 0,
            }
        records.append(rec)
    event: dict[str, Any] = {
        "invocationId": "00000000-0000-4000-8000-000000000000",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:466800022684:deliverystream/qldb-archive",
        "region": "us-east-1",
        "records": records,
    }
    if kinesis:
        event["sourceKinesisStreamArn"] = KINESIS_ARN
    return event


def rows_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON rows of one Ok result."""
    assert result["result"] == "Ok", result["result"]
    return [json.loads(line) for line in base64.b64decode(result["data"]).decode().splitlines()]


@pytest.fixture
def ok_rows() -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    """`ok_rows(result)`: the JSON rows of one Ok result."""
    return rows_of


@dataclass(frozen=True, slots=True)
class LambdaContextStub:
    """What Powertools' `inject_lambda_context` reads from a Lambda context."""

    function_name: str = "qldb-archive-transform"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:466800022684:function:qldb-archive-transform"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "5b2f6c1e-0000-4000-8000-000000000001"
    log_group_name: str = "/aws/lambda/qldb-archive-transform"
    log_stream_name: str = "2019/12/11/[$LATEST]0"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@pytest.fixture
def lambda_context() -> LambdaContextStub:
    return LambdaContextStub()


@dataclass(frozen=True, slots=True)
class Simulated:
    """A simulated DMV ledger's Firehose events and ground truth."""

    out: Path
    summary: SimulationSummary

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted((self.out / "firehose").glob("event-*.json"))]

    def history(self) -> list[dict[str, Any]]:
        lines = (self.out / "truth" / "history.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]


def simulate(tmp: Path, **config: Any) -> Simulated:
    summary = write_simulation(tmp, SimulationConfig(**config), outputs=frozenset({"firehose", "truth"}))
    return Simulated(tmp, summary)


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    """600 revisions through a Kinesis source (Firehose de-aggregates KPL), with duplicates."""
    return simulate(tmp_path_factory.mktemp("sim"), revisions=600, seed=11)


@pytest.fixture(scope="session")
def simulated_direct_put(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    """The same kind of ledger through direct PUT: records are still KPL aggregates."""
    return simulate(tmp_path_factory.mktemp("sim_dp"), revisions=300, seed=12, firehose_mode="direct_put")


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """`log_lines()`: the handler's JSON log lines so far (its Powertools stream, redirected)."""
    stream = io.StringIO()
    handler = fh_handler.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    old = handler.setStream(stream)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        handler.setStream(old)

"""The QLDB target's worker through the real pyqldb driver, against the local QLDB session double.

Run by the qldb environment's Python (`make qldb-test`). Expected ledger contents are written
out by hand here and read back from the double's own state, never from the worker.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from amazon.ion import simpleion
from amazon.ion.equivalence import ion_equals

from restore.targets.qldb import SOURCE_ID, SOURCE_VERSION, serve_worker
from tests.qldb_double.server import QldbDouble, start_double

HOSTILE = 'Robert"); DROP TABLE "Person";--'
OWN_TABLES = [
    {"name": "qldb_restore_checkpoint", "indexes": ["restore_id"]},
    {"name": "qldb_restore_tombstones", "indexes": ["source_id"]},
]


def ion(text: str) -> str:
    return base64.b64encode(simpleion.dumps(simpleion.loads(text))).decode()


def rev(
    table: str, doc_id: str, version: int, block: int, data: str | None, kind: str = "live"
) -> dict[str, Any]:
    return {
        "table": table,
        "id": doc_id,
        "version": version,
        "block": block,
        "kind": kind,
        "ion": None if data is None else ion(data),
    }


class Worker:
    """The worker's protocol, in this process: each call is one request line and its answer."""

    def __init__(self, url: str) -> None:
        self.url = url

    def run(self, *requests: dict[str, Any]) -> list[dict[str, Any]]:
        opening = {"op": "open", "ledger": "restored", "region": "us-east-1", "endpoint_url": self.url}
        lines = b"".join(json.dumps(r).encode() + b"\n" for r in (opening, *requests))
        out = io.BytesIO()
        assert serve_worker(io.BytesIO(lines), out) == 0
        answers = [json.loads(line) for line in out.getvalue().splitlines()]
        assert answers[0] == {"ok": True}
        return answers[1:]

    def apply(self, steps: list[dict[str, Any]], checkpoint: dict[str, Any] | None = None) -> dict[str, Any]:
        (answer,) = self.run({"op": "apply", "steps": steps, "checkpoint": checkpoint})
        return answer


@pytest.fixture
def ledger() -> Iterator[tuple[QldbDouble, Worker]]:
    with start_double() as (double, url):
        worker = Worker(url)
        (answer,) = worker.run(
            {
                "op": "ensure",
                "tables": [
                    *OWN_TABLES,
                    {"name": "Person", "indexes": [SOURCE_ID]},
                    {"name": HOSTILE, "indexes": [SOURCE_ID]},
                ],
            }
        )
        assert answer["ok"]
        yield double, worker


def revisions(double: QldbDouble, table: str) -> dict[str, list[tuple[int, Any]]]:
    """source id -> [(new version, data)] from the double's own state."""
    state = double.state()["ledgers"]["restored"]["tables"][table]["revisions"]
    out: dict[str, list[tuple[int, Any]]] = {}
    for revs in state.values():
        datas = [None if r["data"] is None else simpleion.loads(base64.b64decode(r["data"])) for r in revs]
        source = next(str(d[SOURCE_ID]) for d in datas if d is not None)
        out[source] = [(r["version"], d) for r, d in zip(revs, datas, strict=True)]
    return out


def test_replay_insert_update_remove_redact_delete(ledger: tuple[QldbDouble, Worker]) -> None:
    double, worker = ledger
    # GIVEN a document inserted, updated (a field gone, one added, exact Ion types), redacted,
    # updated, and another inserted and deleted
    steps = [
        {"ddl": "index", "table": "Person", "field": "GovId", "block": 1},
        rev("Person", "D1", 0, 2, '{GovId: "A", n: 1.0, t: 2019-01-01T, s: sym}'),
        rev("Person", "D1", 1, 3, '{GovId: "A", n: 1.00, m: 2e0}'),
        rev("Person", "D1", 2, 4, None, kind="redacted"),
        rev("Person", "D1", 3, 5, '{GovId: "B"}'),
        rev("Person", "D2", 0, 5, '{GovId: "C"}'),
        rev("Person", "D2", 1, 6, None, kind="deleted"),
    ]
    answer = worker.apply(steps)
    assert answer["ok"], answer
    assert answer["written"] == 6
    # THEN each source version is one revision, holding exactly the source data and the two fields
    got = revisions(double, "Person")
    expected: dict[str, list[str | None]] = {
        "D1": [
            '{GovId: "A", n: 1.0, t: 2019-01-01T, s: sym}',
            '{GovId: "A", n: 1.00, m: 2e0}',
            "{}",
            '{GovId: "B"}',
        ],
        "D2": ['{GovId: "C"}', None],
    }
    assert set(got) == set(expected)
    for source, texts in expected.items():
        assert [v for v, _ in got[source]] == list(range(len(texts)))
        for (version, data), text in zip(got[source], texts, strict=True):
            if text is None:
                assert data is None
                continue
            want = simpleion.loads(text)
            want[SOURCE_ID], want[SOURCE_VERSION] = source, version
            assert ion_equals(data, simpleion.loads(simpleion.dumps(want))), (source, version)
    state = double.state()["ledgers"]["restored"]
    assert "GovId" in state["tables"]["Person"]["indexes"]
    assert state["unindexed_lookups"] == 0  # every guard read went through an index
    # AND the tombstone keeps the deletion
    (tomb,) = [d for _, d in next(iter(revisions_of(double, "qldb_restore_tombstones").values()))]
    assert (str(tomb["source_id"]), int(tomb["version"])) == ("D2", 1)


def revisions_of(double: QldbDouble, table: str) -> dict[str, list[tuple[int, Any]]]:
    state = double.state()["ledgers"]["restored"]["tables"][table]["revisions"]
    return {
        d: [(r["version"], simpleion.loads(base64.b64decode(r["data"]))) for r in revs]
        for d, revs in state.items()
    }


def test_a_rerun_writes_nothing(ledger: tuple[QldbDouble, Worker]) -> None:
    double, worker = ledger
    steps = [
        rev("Person", "D1", 0, 1, "{a: 1}"),
        rev("Person", "D1", 1, 2, "{a: 2}"),
        rev("Person", "D2", 0, 2, "{b: 1}"),
        rev("Person", "D2", 1, 3, None, kind="deleted"),
    ]
    assert worker.apply(steps)["written"] == 4
    before = double.state()["ledgers"]["restored"]["tables"]
    again = worker.apply(steps)
    assert (again["written"], again["skipped"]) == (0, 4)
    assert double.state()["ledgers"]["restored"]["tables"] == before


def test_a_gap_stops_naming_document_version_and_block(ledger: tuple[QldbDouble, Worker]) -> None:
    _, worker = ledger
    assert worker.apply([rev("Person", "D1", 0, 1, "{a: 1}")])["ok"]
    answer = worker.apply([rev("Person", "D1", 2, 7, "{a: 3}")])
    assert answer["ok"] is False
    assert answer["kind"] == "terminal"
    assert answer["where"] == "document D1 version 2 (block 7)"
    assert "version 1 is missing" in answer["reason"]
    missing = worker.apply([rev("Person", "D9", 3, 8, "{a: 3}")])
    assert "no earlier version" in missing["reason"]


def test_occ_conflicts_are_retried_by_the_driver(ledger: tuple[QldbDouble, Worker]) -> None:
    double, worker = ledger
    double.set_faults({"occ_conflicts": 2})
    answer = worker.apply([rev("Person", "D1", 0, 1, "{a: 1}")])
    assert answer["ok"], answer
    assert double.occ_conflicts == 0
    assert len(revisions(double, "Person")["D1"]) == 1


def test_more_than_40_documents_are_split_into_transactions(ledger: tuple[QldbDouble, Worker]) -> None:
    double, worker = ledger
    commits = double.commits
    steps = [rev("Person", f"D{i}", 0, 1, f"{{i: {i}}}") for i in range(45)] + [
        rev("Person", f"D{i}", 1, 2, None, kind="deleted") for i in range(30)
    ]
    checkpoint = {
        "restore_id": "restore",
        "format_version": 1,
        "identity": "{}",
        "last_block_seq": 2,
        "completed": False,
    }
    answer = worker.apply(steps, checkpoint)
    assert answer["ok"], answer  # the double refuses a commit of more than 40 documents
    assert answer["transactions"] == double.commits - commits >= 3
    assert len(revisions(double, "Person")) == 45
    (read,) = worker.run({"op": "read_checkpoint", "restore_id": "restore"})
    assert read["checkpoint"]["last_block_seq"] == 2


def test_checkpoint_is_written_then_updated(ledger: tuple[QldbDouble, Worker]) -> None:
    _, worker = ledger
    first = {
        "restore_id": "restore",
        "format_version": 1,
        "identity": '{"tables": []}',
        "last_block_seq": 5,
        "completed": False,
    }
    assert worker.apply([], first)["ok"]
    assert worker.apply([], {**first, "last_block_seq": 9, "completed": True})["ok"]
    (read,) = worker.run({"op": "read_checkpoint", "restore_id": "restore"})
    assert read["checkpoint"] == {**first, "last_block_seq": 9, "completed": 1}
    (none,) = worker.run({"op": "read_checkpoint", "restore_id": "other"})
    assert none["checkpoint"] is None


def test_a_hostile_table_name_stays_one_quoted_name(ledger: tuple[QldbDouble, Worker]) -> None:
    double, worker = ledger
    assert worker.apply([rev(HOSTILE, "D1", 0, 1, "{a: 1}"), rev(HOSTILE, "D1", 1, 2, "{b: 2}")])["ok"]
    tables = double.state()["ledgers"]["restored"]["tables"]
    assert set(tables) == {"Person", HOSTILE, "qldb_restore_checkpoint", "qldb_restore_tombstones"}
    assert [v for v, _ in revisions(double, HOSTILE)["D1"]] == [0, 1]
    (current,) = worker.run({"op": "current", "tables": [HOSTILE]})
    (doc,) = current["documents"]
    assert doc["id"] == "D1"
    assert ion_equals(simpleion.loads(base64.b64decode(doc["ion"])), simpleion.loads("{b: 2}"))


def test_data_with_the_restore_fields_is_refused(ledger: tuple[QldbDouble, Worker]) -> None:
    _, worker = ledger
    answer = worker.apply([rev("Person", "D1", 0, 1, '{_source_id: "x"}')])
    assert answer["ok"] is False
    assert answer["where"] == "document D1 version 0 (block 1)"
    assert "_source_id" in answer["reason"]


def test_the_double_checks_the_commit_digest(ledger: tuple[QldbDouble, Worker]) -> None:
    import boto3
    from botocore.exceptions import ClientError

    _, worker = ledger
    client = boto3.client("qldb-session", region_name="us-east-1", endpoint_url=worker.url)
    token = client.send_command(StartSession={"LedgerName": "restored"})["StartSession"]["SessionToken"]
    tx = client.send_command(SessionToken=token, StartTransaction={})["StartTransaction"]["TransactionId"]
    client.send_command(
        SessionToken=token,
        ExecuteStatement={"TransactionId": tx, "Statement": "SELECT * FROM Person", "Parameters": []},
    )
    with pytest.raises(ClientError, match="CommitDigest"):
        client.send_command(
            SessionToken=token, CommitTransaction={"TransactionId": tx, "CommitDigest": b"\x00" * 32}
        )

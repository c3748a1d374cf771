"""The live replication handler on the real event shape, into SQLite: modes, poison, failures, config, logs.

The server engines run the same code in tests/integration/test_live.py; expected values come from
the real QLDB samples the event is built from (tests/events/README.md).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import io
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firehose_transform.local_firehose import LocalLambdaContext
from restore import live
from restore.errors import TerminalTargetError
from restore.identifiers import TOMBSTONE_TABLE, table_names
from restore.live import LiveConfig, LiveReplicator, config_from_env, target_url_from_env
from restore.live_plan import LiveApplyError, LiveConfigError, PoisonMessage
from restore.targets import Target, open_target

EVENT = Path(__file__).resolve().parents[2] / "events" / "kinesisStreamEvent.json"
PERSON, WALLET1, WALLET2 = "D35qd3e2prnJYmtKW6kok1", "59NbC9MoyMw4vsTsoNROxX", "KWBzbimkHYSBjEgqiAFfIc"
CONTEXT = LocalLambdaContext(function_name="qldb-archive-live")


def load_event() -> dict[str, Any]:
    event: dict[str, Any] = json.loads(EVENT.read_text())
    return event


def sequence(event: dict[str, Any], i: int) -> str:
    return str(event["Records"][i]["kinesis"]["sequenceNumber"])


@pytest.fixture
def target(tmp_path: Path) -> Target:
    return open_target(f"sqlite:///{tmp_path}/live.db")


def versions(target: Target, *tables: str) -> dict[str, int]:
    names = table_names(tables, target.capabilities.identifiers)
    return {r.doc_id: r.version for t in tables for r in target.fetch_current(names[t])}


class Outbox:
    """A poison sender that keeps what it was given, or fails."""

    def __init__(self, *, fail: bool = False) -> None:
        self.messages: list[PoisonMessage] = []
        self.fail = fail

    def __call__(self, message: PoisonMessage) -> None:
        if self.fail:
            raise ConnectionError("queue unreachable")
        self.messages.append(message)


def test_converge_applies_batch_mates_of_poison_records(target: Target) -> None:
    # GIVEN the real event: 3 revisions, one block summary, two poison records
    event, outbox = load_event(), Outbox()
    replicator = LiveReplicator(target, LiveConfig(), send_poison=outbox)
    # WHEN it is handled
    result = replicator.handle(event)
    # THEN every revision is applied and nothing is retried
    assert result.response == {"batchItemFailures": []}
    assert versions(target, "Person", "Wallet") == {PERSON: 0, WALLET1: 0, WALLET2: 7}
    names = table_names(["Person"], target.capabilities.identifiers)
    (person,) = target.fetch_current(names["Person"])
    assert person.data["GovId"] == "LEWISR261LL"
    # AND both poison records went to the queue with their data, where they were and why
    assert [(m["sequenceNumber"], m["data"]) for m in outbox.messages] == [
        (sequence(event, i), event["Records"][i]["kinesis"]["data"]) for i in (2, 3)
    ]
    assert all(m["shardId"] == "shardId-000000000000" and m["reason"] for m in outbox.messages)
    assert result.counts() == {
        "records": 5,
        "revisions_applied": 3,
        "skipped": 1,
        "poison": 2,
        "blocked": 0,
        "released": 0,
        "poison_sent": 2,
        "failed": 0,
    }
    # AND a checkpoint row names the shard
    assert target.read_checkpoint("live-shardId-000000000000") is not None


def test_without_a_poison_queue_the_first_poison_record_fails(target: Target) -> None:
    event = load_event()
    result = LiveReplicator(target, LiveConfig()).handle(event)
    assert result.response == {"batchItemFailures": [{"itemIdentifier": sequence(event, 2)}]}
    assert versions(target, "Person", "Wallet") == {PERSON: 0, WALLET1: 0, WALLET2: 7}  # applied anyway


def test_a_queue_failure_fails_the_record_it_could_not_take(target: Target) -> None:
    event = load_event()
    result = LiveReplicator(target, LiveConfig(), send_poison=Outbox(fail=True)).handle(event)
    assert result.response["batchItemFailures"] == [{"itemIdentifier": sequence(event, 2)}]
    assert result.poison_sent == 0


def wallet2_version(event: dict[str, Any], version: int) -> dict[str, Any]:
    """The event's Wallet version 7 record rewritten as another version, later in the shard."""
    rec: dict[str, Any] = copy.deepcopy(event["Records"][4])
    text = base64.b64decode(rec["kinesis"]["data"]).replace(b"version: 7", f"version: {version}".encode())
    rec["kinesis"]["data"] = base64.b64encode(text).decode()
    rec["kinesis"]["sequenceNumber"] = str(int(sequence(event, 4)) + version)
    rec["eventID"] = f"shardId-000000000000:{rec['kinesis']['sequenceNumber']}"
    return rec


def test_strict_fails_the_record_whose_earlier_version_is_missing_then_succeeds(target: Target) -> None:
    # GIVEN strict order, Wallet 2 at version 5, and the event whose last record holds its version 7
    event, outbox = load_event(), Outbox()
    LiveReplicator(target, LiveConfig()).handle({"Records": [wallet2_version(event, 5)]})
    replicator = LiveReplicator(target, LiveConfig(order="strict"), send_poison=outbox, clock=lambda: 0.0)
    # WHEN the event is handled THEN exactly that record fails; the others are applied
    result = replicator.handle(event)
    assert result.response == {"batchItemFailures": [{"itemIdentifier": sequence(event, 4)}]}
    assert versions(target, "Person", "Wallet") == {PERSON: 0, WALLET1: 0, WALLET2: 5}
    (blocked,) = result.plan.decisions[4].blocked
    assert blocked.describe() == f"Wallet/{WALLET2} version 7 waits for version 6"
    # WHEN version 6 arrives later in the shard, and Lambda delivers again from the failed record
    again = replicator.handle({"Records": [event["Records"][4], wallet2_version(event, 6)]})
    # THEN both are applied in one transaction, in order, and nothing fails
    assert again.response == {"batchItemFailures": []}
    assert versions(target, "Wallet") == {WALLET1: 0, WALLET2: 7}
    assert len(outbox.messages) == 2  # the poison records before the blocked one, sent once


def test_strict_releases_a_record_that_waited_too_long(target: Target) -> None:
    event = load_event()
    arrival = event["Records"][4]["kinesis"]["approximateArrivalTimestamp"]
    config = LiveConfig(order="strict", strict_max_wait_seconds=60)
    replicator = LiveReplicator(target, config, send_poison=Outbox(), clock=lambda: arrival + 61)
    result = replicator.handle(event)
    assert result.response == {"batchItemFailures": []}
    assert result.counts()["released"] == 1
    assert versions(target, "Wallet")[WALLET2] == 7


def test_strict_reads_known_versions_and_tombstones(target: Target) -> None:
    # GIVEN Wallet 2 at version 6 in the current table, Person deleted by its version 1
    event = load_event()
    names = table_names(["Person", "Wallet"], target.capabilities.identifiers)
    target.ensure_schema(list(names.values()), history=False)
    replicator = LiveReplicator(target, LiveConfig(order="strict"), send_poison=Outbox(), clock=lambda: 0.0)
    wallet = target.query  # the target's own SQL path, as the handler uses it
    wallet(
        f"INSERT INTO {target.capabilities.quote('Wallet')} (doc_id, version, block_seq, tx_time, data, "
        "content_hash) VALUES (?, 6, 1, '2023-01-01 00:00:00', '{}', NULL)",
        [WALLET2],
    )
    wallet(
        f"INSERT INTO {TOMBSTONE_TABLE} (table_name, doc_id, version, block_seq, tx_time) "
        "VALUES ('Person', ?, 1, 1, '2023-01-01 00:00:00')",
        [PERSON],
    )
    result = replicator.handle(event)
    # THEN version 7 follows the stored 6, and the deleted Person stays deleted
    assert result.response == {"batchItemFailures": []}
    assert versions(target, "Person", "Wallet") == {WALLET1: 0, WALLET2: 7}


def test_history_mode_writes_history_rows(target: Target) -> None:
    LiveReplicator(target, LiveConfig(history=True), send_poison=Outbox()).handle(load_event())
    names = table_names(["Wallet"], target.capabilities.identifiers)
    history = [(h.doc_id, h.version, h.revision_hash) for h in target.fetch_history(names["Wallet"])]
    assert sorted(history) == [
        (WALLET1, 0, "KGQhnyXb/BltXwCY9WPc0y1B8JLk/ok6w5YiaKweOvc="),
        (WALLET2, 7, "XivyjUPTBiVmfVofInbO26WOAWxkjEfMuWHG2rPUdZg="),
    ]


def test_a_table_the_target_cannot_hold_is_poison(target: Target) -> None:
    event = load_event()
    config = LiveConfig(table_map={"Wallet": "qldb_restore_tombstones"})
    outbox = Outbox()
    result = LiveReplicator(target, config, send_poison=outbox).handle(event)
    assert result.response == {"batchItemFailures": []}
    assert {m["sequenceNumber"] for m in outbox.messages} == {sequence(event, i) for i in (1, 2, 3, 4)}
    assert "the restore's own tables" in outbox.messages[0]["reason"]
    assert versions(target, "Person") == {PERSON: 0}


def test_a_database_error_fails_the_invocation_naming_the_records(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = load_event()
    replicator = LiveReplicator(target, LiveConfig(), send_poison=Outbox())

    def refuse(*args: object, **kwargs: object) -> None:
        raise TerminalTargetError("disk full", where="applying blocks 3-253")

    monkeypatch.setattr(target, "apply", refuse)
    with pytest.raises(LiveApplyError) as caught:
        replicator.handle(event)
    assert caught.value.shard_id == "shardId-000000000000"
    assert "disk full" in str(caught.value)
    assert (caught.value.first_sequence_number, caught.value.last_sequence_number) == (
        sequence(event, 0),
        sequence(event, 4),
    )


def test_a_ledger_grade_target_is_refused(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = dataclasses.replace(target.capabilities, blocks=True, whole_journal=True)
    monkeypatch.setattr(target, "capabilities", ledger)
    with pytest.raises(LiveConfigError, match="ledger-grade target"):
        LiveReplicator(target, LiveConfig())


def test_an_empty_event(target: Target) -> None:
    result = LiveReplicator(target, LiveConfig()).handle({"Records": []})
    assert result.response == {"batchItemFailures": []}


# the Lambda entry point, configuration, logs --------------------------------------------------


def test_lambda_handler_logs_counts_and_no_document_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = io.StringIO()
    handler = live.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    monkeypatch.setattr(handler, "stream", stream)
    monkeypatch.setenv("QLDB_ARCHIVE_TARGET_URL", f"sqlite:///{tmp_path}/handler.db")
    monkeypatch.setenv("QLDB_ARCHIVE_LIVE_HISTORY", "true")
    monkeypatch.setattr(live, "_replicator", None)
    event = load_event()
    response = live.lambda_handler(event, CONTEXT)
    assert response == {"batchItemFailures": [{"itemIdentifier": sequence(event, 2)}]}
    out = stream.getvalue() + capsys.readouterr().out  # logs, then the metrics (EMF) Powertools prints
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    (done,) = [line for line in lines if line.get("message") == "batch applied"]
    assert (done["revisions_applied"], done["poison"], done["failed"]) == (3, 2, 1)
    assert done["function_name"] == "qldb-archive-live"
    emf = [line for line in lines if "_aws" in line]
    assert emf
    assert (emf[0]["LivePoisonRecords"], emf[0]["LiveRevisionsApplied"]) == ([2.0], [3.0])
    for secret in ("Testing new 600", "LEWISR261LL", "University Street", "this is a test", "RECORD 18"):
        assert secret not in out
    # AND the connection is kept for the next invocation
    assert live._replicator is not None
    kept = live._replicator
    live.lambda_handler({"Records": []}, CONTEXT)
    assert live._replicator is kept


def test_a_database_error_drops_the_containers_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QLDB_ARCHIVE_TARGET_URL", f"sqlite:///{tmp_path}/handler.db")
    monkeypatch.setattr(live, "_replicator", None)
    live.lambda_handler({"Records": []}, CONTEXT)
    first = live._replicator
    assert first is not None

    def refuse(*args: object, **kwargs: object) -> None:
        raise TerminalTargetError("no such table", where="applying blocks 3-3")

    monkeypatch.setattr(first.target, "apply", refuse)
    with pytest.raises(LiveApplyError, match="no such table"):
        live.lambda_handler(load_event(), CONTEXT)
    assert live._replicator is None  # the next invocation connects again, secret read afresh
    live.lambda_handler({"Records": []}, CONTEXT)
    assert live._replicator is not None
    assert live._replicator is not first


def test_config_from_env() -> None:
    config = config_from_env(
        {
            "QLDB_ARCHIVE_LIVE_HISTORY": "yes",
            "QLDB_ARCHIVE_LIVE_ORDER": "STRICT",
            "QLDB_ARCHIVE_LIVE_STRICT_MAX_WAIT_SECONDS": "30",
            "QLDB_ARCHIVE_POISON_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q",
        }
    )
    assert (config.history, config.order, config.strict_max_wait_seconds) == (True, "strict", 30.0)
    assert config.poison_queue_url == "https://sqs.us-east-1.amazonaws.com/1/q"
    assert config_from_env({}) == LiveConfig()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QLDB_ARCHIVE_LIVE_ORDER", "sorted"),
        ("QLDB_ARCHIVE_LIVE_HISTORY", "maybe"),
        ("QLDB_ARCHIVE_LIVE_STRICT_MAX_WAIT_SECONDS", "-1"),
        ("QLDB_ARCHIVE_TABLE_MAP", "nonsense"),
    ],
)
def test_bad_config_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(LiveConfigError, match=name):
        config_from_env({name: value})


def test_target_url_from_url_or_secret() -> None:
    calls: list[str] = []

    def secret(arn: str) -> str:
        calls.append(arn)
        return '{"url": "postgresql://app:pw@db/dmv"}'

    get: Callable[[str], str] = secret
    assert (
        target_url_from_env({"QLDB_ARCHIVE_TARGET_URL": "mysql://a@b/c"}, get_secret=get) == "mysql://a@b/c"
    )
    assert target_url_from_env({"QLDB_ARCHIVE_TARGET_SECRET_ARN": "arn:s"}, get_secret=get) == (
        "postgresql://app:pw@db/dmv"
    )
    assert calls == ["arn:s"]
    with pytest.raises(LiveConfigError, match="QLDB_ARCHIVE_TARGET_SECRET_ARN"):
        target_url_from_env({}, get_secret=get)

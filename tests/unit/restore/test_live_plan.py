"""The pure part of live replication: decoding Kinesis records, strict and converge plans, failures, poison.

Expected values come from the real QLDB samples (tests/events/kinesisStreamEvent.json is built
from them: see tests/events/README.md) and from hand-made revision sequences.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from journal.kpl import UserRecord, aggregate
from restore.batch import RevisionRow
from restore.identifiers import IdentifierRules
from restore.live import sources_of
from restore.live_plan import (
    MAX_POISON_MESSAGE_BYTES,
    DecodedRecord,
    KinesisSource,
    LiveConfigError,
    MissingVersion,
    decode_record,
    first_failures,
    plan_batch,
    poison_message,
    poison_to_send,
    resolve_tables,
    secret_to_url,
    strict_lookups,
)

EVENT = Path(__file__).resolve().parents[2] / "events" / "kinesisStreamEvent.json"


def event_sources() -> list[KinesisSource]:
    return sources_of(json.loads(EVENT.read_text()))


SHARD = "shardId-000000000000"


def source(
    data: bytes | str, *, position: int = 0, shard: str = SHARD, arrival: float = 0.0
) -> KinesisSource:
    b64 = data if isinstance(data, str) else base64.b64encode(data).decode()
    return KinesisSource(
        position=position,
        event_source_arn="arn:aws:kinesis:us-east-1:1:stream/s",
        shard_id=shard,
        sequence_number=str(1000 + position),
        partition_key="pk",
        arrival=arrival,
        data_b64=b64,
    )


def row(doc_id: str, version: int, *, table: str = "T", deleted: bool = False) -> RevisionRow:
    data = None if deleted else json.dumps({"v": version})
    return RevisionRow(
        table_name=table,
        doc_id=doc_id,
        version=version,
        block_seq=10 + version,
        tx_id=f"tx{version}",
        tx_time=dt.datetime(2020, 1, 1),
        revision_hash=f"h{doc_id}{version}",
        data_hash=None,
        is_deleted=deleted,
        is_redacted=False,
        data_json=data,
        content_hash=None,
    )


def record(*rows: RevisionRow, position: int = 0, shard: str = SHARD, arrival: float = 0.0) -> DecodedRecord:
    return DecodedRecord(source=source("", position=position, shard=shard, arrival=arrival), revisions=rows)


def applied(plan: Any) -> list[tuple[str, int]]:
    return sorted((r.doc_id, r.version) for r in plan.rows)


# decode_record -----------------------------------------------------------------------------


def test_decode_the_real_event() -> None:
    decoded = [decode_record(s) for s in event_sources()]
    # 0: the DMV aggregate: one BLOCK_SUMMARY (counted) and Person D35qd3e2prnJYmtKW6kok1 version 0
    (person,) = decoded[0].revisions
    assert (decoded[0].block_summaries, decoded[0].poison_reason) == (1, None)
    assert (person.table_name, person.doc_id, person.version, person.block_seq) == (
        "Person",
        "D35qd3e2prnJYmtKW6kok1",
        0,
        3,
    )
    assert person.tx_id == "0007KbqoyqAIch6XRbQ4iA"
    assert person.tx_time == dt.datetime(2019, 12, 11, 7, 20, 51, 245000)
    assert person.revision_hash == "vJFOcsNRM14gsIBSEnwPhMVgRAWf/4EUW5gPYbtmDv0="
    assert json.loads(person.data_json or "") == {
        "FirstName": "Testing new 600",
        "LastName": "Lewis",
        "DOB": "1963-08-19",
        "GovId": "LEWISR261LL",
        "GovIdType": "Driver License",
        "Address": "1719 University Street, Seattle, WA, 98109",
    }
    assert person.content_hash == hashlib.sha256((person.data_json or "").encode()).hexdigest()
    assert (person.is_deleted, person.is_redacted) == (False, False)
    # 1 and 4: the wallet revisions, Ion text
    assert [(r.doc_id, r.version) for r in decoded[1].revisions] == [("59NbC9MoyMw4vsTsoNROxX", 0)]
    assert [(r.doc_id, r.version) for r in decoded[4].revisions] == [("KWBzbimkHYSBjEgqiAFfIc", 7)]
    assert json.loads(decoded[1].revisions[0].data_json or "") == {"accountId": "user1", "balance": 0}
    # 2: a real aggregate of 8 text records; 3: "Hello, this is a test."
    reason2 = decoded[2].poison_reason or ""
    assert "KPL user record #0" in reason2
    assert reason2.endswith("... and 7 more")
    assert decoded[2].revisions == ()
    assert "Kinesis record shardId-000000000000/" in (decoded[3].poison_reason or "")
    assert "this is a test" not in reason2 + (decoded[3].poison_reason or "")  # reasons carry no data


def test_bad_bytes_are_poison_naming_the_record() -> None:
    good = aggregate([UserRecord("a", b"\xe0\x01\x00\xea\x0f")])
    corrupt = good[:-1] + bytes([good[-1] ^ 1])
    cases = {
        "not base64!": "not valid base64",
        "": "data is empty",
        base64.b64encode(corrupt).decode(): "corrupt KPL aggregated record",
    }
    for data, expected in cases.items():
        reason = decode_record(source(data)).poison_reason or ""
        assert expected in reason
        assert "shardId-000000000000/1000" in reason


def test_a_stream_record_from_no_qldb_stream_is_poison() -> None:
    text = (
        b'{qldbStreamArn: "arn:aws:kinesis:us-east-1:1:stream/x", recordType: "CONTROL", '
        b'payload: {controlRecordType: "CREATED"}}'
    )
    assert "not a QLDB stream ARN" in (decode_record(source(text)).poison_reason or "")
    good = text.replace(b"arn:aws:kinesis:us-east-1:1:stream/x", b"arn:aws:qldb:us-east-1:1:stream/l/s")
    decoded = decode_record(source(good))
    assert (decoded.controls, decoded.poison_reason) == (1, None)


def test_readable_user_records_of_an_aggregate_are_kept() -> None:
    wallet = base64.b64decode(event_sources()[1].data_b64)
    decoded = decode_record(source(aggregate([UserRecord("a", wallet), UserRecord("b", b"junk")])))
    assert [r.doc_id for r in decoded.revisions] == ["59NbC9MoyMw4vsTsoNROxX"]
    assert "KPL user record #1" in (decoded.poison_reason or "")
    plan = plan_batch([decoded], order="converge")
    assert applied(plan) == [("59NbC9MoyMw4vsTsoNROxX", 0)]
    assert plan.decisions[0].poison_reason == decoded.poison_reason


# plan_batch --------------------------------------------------------------------------------


def test_converge_applies_everything_in_any_order() -> None:
    records = [record(row("a", 3), position=0), record(row("a", 1), row("b", 0), position=1)]
    plan = plan_batch(records, order="converge")
    assert applied(plan) == [("a", 1), ("a", 3), ("b", 0)]
    assert first_failures(plan.decisions) == []
    assert plan.counts() == {
        "records": 2,
        "revisions_applied": 3,
        "skipped": 0,
        "poison": 0,
        "blocked": 0,
        "released": 0,
    }


def test_strict_holds_back_a_version_above_a_gap() -> None:
    # GIVEN the target holds a at version 1
    records = [
        record(row("a", 2), position=0),
        record(row("a", 4), position=1),  # version 3 is nowhere
        record(row("b", 0), row("b", 1), position=2),
        record(row("a", 0), position=3),  # an old duplicate
    ]
    plan = plan_batch(records, order="strict", known_versions={("T", "a"): 1})
    # THEN a 4 is held back, its record fails, the rest is applied
    assert applied(plan) == [("a", 0), ("a", 2), ("b", 0), ("b", 1)]
    assert plan.decisions[1].blocked == (MissingVersion(table_name="T", doc_id="a", version=4),)
    assert first_failures(plan.decisions) == ["1001"]
    assert plan.counts()["blocked"] == 1


def test_strict_applies_a_chain_completed_later_in_the_batch() -> None:
    records = [
        record(row("a", 3), position=0),
        record(row("a", 2), position=1),
        record(row("a", 1), position=2),
    ]
    plan = plan_batch(records, order="strict", known_versions={("T", "a"): 0})
    assert applied(plan) == [("a", 1), ("a", 2), ("a", 3)]
    assert first_failures(plan.decisions) == []
    # AND without version 0 known, nothing of it is applied
    plan = plan_batch(records, order="strict")
    assert applied(plan) == []
    assert first_failures(plan.decisions) == ["1000"]


def test_strict_uses_tombstone_versions_and_other_tables() -> None:
    records = [record(row("a", 1, table="T"), row("a", 5, table="U", deleted=True))]
    plan = plan_batch(records, order="strict", known_versions={("T", "a"): 0, ("U", "a"): 4})
    assert applied(plan) == [("a", 1), ("a", 5)]


def test_strict_releases_after_the_maximum_wait() -> None:
    # GIVEN a at version 5 whose version 4 never came, in a record that arrived 301 s ago
    records = [
        record(row("a", 5), position=0, arrival=1000.0),
        record(row("a", 6), position=1, arrival=1300.0),
    ]
    kwargs: dict[str, Any] = {"order": "strict", "known_versions": {("T", "a"): 3}, "strict_max_wait": 300}
    plan = plan_batch(records, now=1301.0, **kwargs)
    # THEN version 5 is released (reported) and 6 follows it
    assert applied(plan) == [("a", 5), ("a", 6)]
    assert plan.decisions[0].released == (MissingVersion(table_name="T", doc_id="a", version=5),)
    assert plan.decisions[1].released == ()
    assert first_failures(plan.decisions) == []
    assert plan.counts()["released"] == 1
    # AND a second earlier, both wait
    plan = plan_batch(records, now=1299.0, **kwargs)
    assert applied(plan) == []
    assert first_failures(plan.decisions) == ["1000"]


def test_refused_tables_make_their_records_poison() -> None:
    records = [record(row("a", 0, table="bad"), row("b", 0), position=0), record(row("c", 0), position=1)]
    plan = plan_batch(records, order="converge", refused_tables={"bad": "the name is empty"})
    assert applied(plan) == [("b", 0), ("c", 0)]
    assert plan.decisions[0].poison_reason == "Kinesis record shardId-000000000000/1000: the name is empty"
    assert first_failures(plan.decisions) == ["1000"]
    assert first_failures(plan.decisions, sent=frozenset({0})) == []


def test_strict_lookups_skip_first_versions() -> None:
    records = [record(row("a", 0), row("b", 2)), record(row("c", 1, table="U"))]
    assert strict_lookups(records) == {"T": {"b"}, "U": {"c"}}


# failures and poison ----------------------------------------------------------------------


def test_failures_and_poison_per_shard() -> None:
    poison = DecodedRecord(source=source("eA==", position=0), poison_reason="bad")
    blocked = record(row("a", 2), position=1)
    later_poison = DecodedRecord(source=source("eA==", position=2), poison_reason="bad too")
    other_shard = DecodedRecord(
        source=source("eA==", position=3, shard="shardId-000000000001"), poison_reason="x"
    )
    plan = plan_batch([poison, blocked, later_poison, other_shard], order="strict")
    # poison after a blocked record waits for its redelivery; other shards are independent
    assert [d.source.position for d in poison_to_send(plan.decisions)] == [0, 3]
    assert first_failures(plan.decisions) == ["1000", "1003"]
    assert first_failures(plan.decisions, sent=frozenset({0, 3})) == ["1001"]


def test_poison_message_keeps_the_record_when_it_fits() -> None:
    src = source(b"not ion")
    msg = poison_message(src, "not Ion")
    assert msg["data"] == src.data_b64
    assert msg["dataSha256"] == hashlib.sha256(b"not ion").hexdigest()
    assert (msg["shardId"], msg["sequenceNumber"], msg["dataBytes"]) == ("shardId-000000000000", "1000", 7)
    big = poison_message(source(bytes(MAX_POISON_MESSAGE_BYTES)), "too big")
    assert big["data"] is None
    assert big["dataBytes"] == MAX_POISON_MESSAGE_BYTES
    assert len(json.dumps(big)) < 2000


# names and secrets -------------------------------------------------------------------------


def test_resolve_tables_refuses_only_the_bad_names() -> None:
    rules = IdentifierRules(max_length=64)
    names, refused = resolve_tables(["Person", "x" * 60, "person"], rules, known=["Vehicle"])
    assert sorted(names) == ["Person"]
    assert "allows 64" in refused["x" * 60]
    assert "same table" in refused["person"]
    names, refused = resolve_tables(["vehicle"], rules, known=["Vehicle"])
    assert (names, list(refused)) == ({}, ["vehicle"])
    names, refused = resolve_tables(["VehicleRegistration"], rules, {"VehicleRegistration": "vr"})
    assert names["VehicleRegistration"].history == "vr_history"


@pytest.mark.parametrize(
    ("secret", "url"),
    [
        ("postgresql://app:pw@db/dmv", "postgresql://app:pw@db/dmv"),
        ('{"url": "mysql://app:pw@db:3306/dmv", "password": "pw"}', "mysql://app:pw@db:3306/dmv"),
        (
            '{"engine": "mysql", "host": "db", "port": 3307, "username": "app", "password": "a b", '
            '"dbname": "d"}',
            "mysql://app:a%20b@db:3307/d",
        ),
        (
            '{"engine": "postgres", "host": "db", "username": "app", "database": "d"}',
            "postgresql://app@db:5432/d",
        ),
    ],
)
def test_secret_to_url(secret: str, url: str) -> None:
    assert secret_to_url(secret) == url


def test_a_bad_secret_is_named_without_its_values() -> None:
    with pytest.raises(LiveConfigError, match="lacks or has an unknown host, engine") as caught:
        secret_to_url('{"engine": "oracle", "username": "app", "password": "hunter2", "dbname": "d"}')
    assert "hunter2" not in str(caught.value)
    with pytest.raises(LiveConfigError, match="neither a URL"):
        secret_to_url("hunter2")

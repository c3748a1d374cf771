"""Bad input never takes down a batch: each bad record is ProcessingFailed with a reason."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from amazon.ion import simpleion
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firehose_transform.handler import transform_event
from firehose_transform.schema import COLUMN_NAMES
from journal.kpl import UserRecord, aggregate

Logs = Callable[[], list[dict[str, Any]]]

NOT_QLDB = b'{qldbStreamArn: "arn:aws:qldb:us-east-1:1:stream/l/s", recordType: "NEW_TYPE", payload: {}}'
BAD_ARN = b'{qldbStreamArn: "not an arn", recordType: "CONTROL", payload: {controlRecordType: "CREATED"}}'


def corpus(real: Any) -> dict[str, tuple[bytes | str, str]]:
    """name -> (record data, a word the failure reason must contain)."""
    kpl = real.kpl_aggregates[0]
    qldb_aggregate = aggregate([UserRecord("a", real.revision), UserRecord("b", real.block_summary)])
    return {
        "invalid base64": ("!!not*base64!!", "base64"),
        "empty data": (b"", "empty"),
        "truncated Ion binary": (real.revision[: len(real.revision) // 2], "Ion"),
        "truncated Ion text": (real.revision_text[:200], "Ion"),
        "not Ion": (b"\x00\xff\xfe garbage", "Ion"),
        "Ion, not a stream record": (simpleion.dumps({"hello": "world"}, binary=True), "qldbStreamArn"),
        "Ion list": (b"[1, 2, 3]", "struct"),
        "unknown record type": (NOT_QLDB, "recordType"),
        "ARN of no QLDB stream": (BAD_ARN, "ARN"),
        "KPL of non-QLDB data": (kpl, "struct"),
        "corrupt KPL aggregate (bad MD5)": (kpl[:40] + bytes([kpl[40] ^ 0xFF]) + kpl[41:], "MD5"),
        "truncated KPL aggregate": (qldb_aggregate[:-30], "KPL"),
        "oversized record": (oversized(real), "BufferSizeInMBs"),
    }


def oversized(real: Any) -> bytes:
    """A real revision whose data holds a 3 MB string: its rows (Ion text + JSON) exceed 6 MB."""
    record = simpleion.loads(real.revision_text)
    record["payload"]["revision"]["data"]["Address"] = "x" * 3_000_000
    return bytes(simpleion.dumps(record, binary=True))


def test_bad_input_corpus(real: Any, make_event: Any, ok_rows: Any, log_lines: Logs) -> None:
    cases = corpus(real)
    # GIVEN each bad record between two good ones
    datas: list[bytes | str] = []
    for data, _ in cases.values():
        datas += [real.revision, data]
    datas.append(real.block_summary)
    event = make_event(datas)
    # WHEN the batch is transformed
    response = transform_event(event)
    results = response["records"]
    # THEN every good record is Ok, every bad one failed with its original data and a reason
    assert [r["recordId"] for r in results] == [r["recordId"] for r in event["records"]]
    assert all(len(ok_rows(r)) == 1 for r in results[0::2])
    failed = results[1::2]
    assert [r["result"] for r in failed] == ["ProcessingFailed"] * len(cases)
    assert [r["data"] for r in failed] == [r["data"] for r in event["records"][1::2]]
    reasons = {
        line["record_id"]: line["reason"] for line in log_lines() if line["message"] == "record failed"
    }
    for (name, (_, word)), result in zip(cases.items(), failed, strict=True):
        assert word in reasons[result["recordId"]], (name, reasons[result["recordId"]])
    assert len(json.dumps(response)) <= 6 * 1024 * 1024


def test_hanging_ion_binary_is_refused(real: Any, make_event: Any) -> None:
    """Ion binary on which amazon-ion's C reader loops forever fails cleanly (see journal.ion_framing)."""
    bs = real.block_summary
    hang = bs[:247] + b"\x67" + bs[247:1115]  # a truncated local symbol table
    results = transform_event(make_event([hang, real.revision]))["records"]
    assert [r["result"] for r in results] == ["ProcessingFailed", "Ok"]


def mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, where, byte in edits:
        i = where % (len(out) + 1)
        if kind == 0 and out:
            out[i % len(out)] = byte
        elif kind == 1:
            del out[i:]
        elif kind == 2:
            out.insert(i, byte)
        else:
            del out[i : i + 1 + byte % 8]
    return bytes(out)


edits = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=300),
            st.tuples(st.sampled_from(["revision", "block_summary", "revision_text", "wallet_text"]), edits),
            st.just("valid"),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_random_bytes_and_mutations_never_break_the_batch(
    real: Any, make_event: Any, spec: list[Any]
) -> None:
    datas: list[bytes | str] = []
    for item in spec:
        if isinstance(item, bytes):
            datas.append(item)
        elif item == "valid":
            datas.append(real.revision)
        else:
            datas.append(mutate(getattr(real, item[0]), item[1]))
    event = make_event(datas)
    response = transform_event(event)  # never raises
    results = response["records"]
    assert [r["recordId"] for r in results] == [r["recordId"] for r in event["records"]]
    for result, record in zip(results, event["records"], strict=True):
        assert result["result"] in ("Ok", "ProcessingFailed")
        if result["result"] == "ProcessingFailed":
            assert result["data"] == record["data"]
        else:
            for line in base64.b64decode(result["data"]).decode().splitlines():
                assert list(json.loads(line)) == list(COLUMN_NAMES)
            assert set(result["metadata"]["partitionKeys"]) == {
                "p_ledger",
                "p_record_type",
                "p_table",
                "p_date",
            }
    for item, result in zip(spec, results, strict=True):
        if item == "valid":
            assert result["result"] == "Ok"


@pytest.mark.parametrize("metadata", [{"subsequenceNumber": "x"}, {"approximateArrivalTimestamp": [1]}])
def test_bad_kinesis_metadata_fails_the_record(real: Any, make_event: Any, metadata: dict[str, Any]) -> None:
    event = make_event([real.revision, real.revision])
    event["records"][0]["kinesisRecordMetadata"].update(metadata)
    assert [r["result"] for r in transform_event(event)["records"]] == ["ProcessingFailed", "Ok"]

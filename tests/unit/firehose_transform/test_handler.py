"""The Lambda handler on real Firehose event shapes: one result per recordId, rows, keys, logs."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from amazon.ion import simpleion
from aws_lambda_powertools.utilities.data_classes import KinesisFirehoseEvent
from aws_lambda_powertools.utilities.data_classes.kinesis_firehose_event import (
    KinesisFirehoseDataTransformationRecordMetadata,
)

from firehose_transform.handler import MAX_RESPONSE_BYTES, lambda_handler, max_response_bytes, transform_event
from journal.ion_hash import ion_hash
from journal.merkle import dot

if TYPE_CHECKING:
    import pytest

Rows = Callable[[dict[str, Any]], list[dict[str, Any]]]
Logs = Callable[[], list[dict[str, Any]]]

DMV_ARN = "arn:aws:qldb:us-east-1:466800022684:stream/vehicle-registration/17CR7ArZ1AMHgHOeOk6G9C"
DOC = "D35qd3e2prnJYmtKW6kok1"
REVISION_HASH = "vJFOcsNRM14gsIBSEnwPhMVgRAWf/4EUW5gPYbtmDv0="  # VECTORS.md


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def recomputed_revision_hash(row: dict[str, Any]) -> str:
    rev = simpleion.loads(row["revision_ion"])
    return b64(dot(ion_hash(rev["metadata"]), ion_hash(rev["data"])))


def test_kinesis_source_event(load_event: Any, ok_rows: Rows, lambda_context: Any, log_lines: Logs) -> None:
    # GIVEN the real records in a Kinesis-source event (tests/events/README.md)
    event = load_event("firehoseKinesisSourceEvent.json")
    # WHEN the Lambda runs
    response = lambda_handler(event, lambda_context)
    # THEN there is one result per recordId, in order; the KPL aggregates of non-QLDB data fail
    results = response["records"]
    assert [r["recordId"] for r in results] == [r["recordId"] for r in event["records"]]
    assert [r["result"] for r in results] == ["Ok", "Ok", "Ok", "ProcessingFailed", "ProcessingFailed"]
    for failed, original in zip(results[3:], event["records"][3:], strict=True):
        assert failed["data"] == original["data"]
        assert "metadata" not in failed

    (block,) = ok_rows(results[0])
    assert results[0]["metadata"] == {
        "partitionKeys": {
            "p_ledger": "vehicle-registration",
            "p_record_type": "block_summary",
            "p_table": "_block",
            "p_date": "2019-12-11",
        }
    }
    assert block["record_type"] == "BLOCK_SUMMARY"
    assert block["qldb_stream_arn"] == DMV_ARN
    assert (block["strand_id"], block["block_seq"]) == ("HbD9IggL584EPHmfwjmVz0", 3)
    assert block["tx_id"] == "0007KbqoyqAIch6XRbQ4iA"
    assert block["block_timestamp"] == "2019-12-11T07:20:51.261Z"
    assert block["block_hash"] == "lu425dAWsmvzxuNHTbn4ID4mLo0bWKkjLP2Uel4wrPQ="
    assert block["entries_hash"] == "RNGQGcOKCGLCo5S+hs1eboanNrocIzRiqzzq1s99G/Q="
    assert block["previous_block_hash"] == "pV28aszpqJH9LOO9oMsACDmXfdzdEW7HYxzuQVIjSDU="
    assert block["entries_hash_list"][1] == REVISION_HASH
    # H(transactionInfo) recomputes from the lossless Ion text (= entriesHashList[3], VECTORS.md)
    tx_info = simpleion.loads(block["transaction_info_ion"])
    assert (
        b64(ion_hash(tx_info))
        == block["entries_hash_list"][3]
        == "Lz3XWBwtWyBA/Lhj+UoLhbajPQ8Mk9N4j0HJlrm2OTg="
    )
    (statement,) = json.loads(block["statements_json"])
    assert statement["startTime"] == "2019-12-11T07:20:51.223Z"
    assert statement["statementDigest"] == "t5wbRW+wIi/X0n3iPhFJtbt2qpzzgWkOXIFC4xJHp4o="
    assert json.loads(block["documents_json"]) == {
        DOC: {"tableName": "Person", "tableId": "1SUXCa3wwV0GD7kV78RbSg", "statements": [0]}
    }
    assert json.loads(block["revision_summaries_json"]) == [{"hash": REVISION_HASH, "documentId": DOC}]
    assert block["redaction_info_ion"] is None

    (revision,) = ok_rows(results[1])
    assert results[1]["metadata"]["partitionKeys"] == {
        "p_ledger": "vehicle-registration",
        "p_record_type": "revision_details",
        "p_table": "Person",
        "p_date": "2019-12-11",
    }
    assert (revision["doc_id"], revision["version"], revision["block_seq"]) == (DOC, 0, 3)
    assert (revision["table_name"], revision["table_id"]) == ("Person", "1SUXCa3wwV0GD7kV78RbSg")
    assert revision["tx_time"] == "2019-12-11T07:20:51.245Z"
    assert revision["is_deleted"] is False
    assert revision["is_redacted"] is False
    assert revision["data_hash"] is None
    assert revision["revision_hash"] == REVISION_HASH == recomputed_revision_hash(revision)
    assert json.loads(revision["data_json"]) == {
        "FirstName": "Testing new 600",
        "LastName": "Lewis",
        "DOB": "1963-08-19",
        "GovId": "LEWISR261LL",
        "GovIdType": "Driver License",
        "Address": "1719 University Street, Seattle, WA, 98109",
    }
    assert revision["kinesis_stream_arn"].endswith(":stream/qldb-vehicle-registration")
    assert revision["kinesis_shard_id"] == "shardId-000000000000"
    assert revision["kinesis_partition_key"] == "5kelIAWsbRF7U2OSKyj6Wm"
    assert revision["kinesis_sequence_number"] == "49602202223557391954992952781210718954161044299731435522"
    assert revision["kinesis_subsequence_number"] == 1
    assert revision["kinesis_arrival_time"] == revision["firehose_arrival_time"] == "2019-12-11T07:20:51.397Z"
    assert revision["firehose_record_id"] == results[1]["recordId"]

    (wallet,) = ok_rows(results[2])
    assert results[2]["metadata"]["partitionKeys"] == {
        "p_ledger": "test-wallet",
        "p_record_type": "revision_details",
        "p_table": "Wallet",
        "p_date": "2023-09-23",
    }
    assert json.loads(wallet["data_json"]) == {"accountId": "user1", "balance": 0}
    assert (
        recomputed_revision_hash(wallet)
        == wallet["revision_hash"]
        == "KGQhnyXb/BltXwCY9WPc0y1B8JLk/ok6w5YiaKweOvc="
    )

    # AND the logs say why the two failed, and count the batch, without document data
    logs = log_lines()
    failures = [line for line in logs if line["message"] == "record failed"]
    assert [f["record_id"] for f in failures] == [r["recordId"] for r in results[3:]]
    assert all("stream record" in f["reason"] and f["data_sha256"] for f in failures)
    (batch,) = [line for line in logs if line["message"] == "batch transformed"]
    assert (batch["records"], batch["ok"], batch["processing_failed"], batch["dropped"]) == (5, 3, 2, 0)
    assert (batch["rows_revision_details"], batch["rows_block_summary"], batch["rows_control"]) == (2, 1, 0)
    assert batch["response_bytes"] == len(json.dumps(response))
    assert batch["function_request_id"] == lambda_context.aws_request_id
    text = json.dumps(logs)
    assert "Lewis" not in text
    assert "LEWISR261LL" not in text
    assert "user1" not in text


def test_direct_put_event(load_event: Any, ok_rows: Rows) -> None:
    event = load_event("firehoseDirectPutEvent.json")
    results = transform_event(event)["records"]
    assert [r["result"] for r in results] == ["Ok", "Ok", "ProcessingFailed", "Ok"]
    (text_revision,) = ok_rows(results[0])
    assert text_revision["revision_hash"] == REVISION_HASH == recomputed_revision_hash(text_revision)
    assert text_revision["kinesis_stream_arn"] is None
    assert text_revision["kinesis_sequence_number"] is None
    assert text_revision["firehose_arrival_time"] == "2019-12-11T07:20:51.397Z"

    # One recordId holding a KPL aggregate of a block summary and a revision: two rows, one
    # result, and the partition keys the rows disagree on are _mixed.
    block, revision = ok_rows(results[1])
    assert (block["record_type"], revision["record_type"]) == ("BLOCK_SUMMARY", "REVISION_DETAILS")
    assert (block["record_index"], revision["record_index"]) == (0, 1)
    assert (block["kinesis_partition_key"], revision["kinesis_partition_key"]) == (
        "HrBDrkUho57HQir4ootmLy",
        "5kelIAWsbRF7U2OSKyj6Wm",
    )
    assert (block["kinesis_subsequence_number"], revision["kinesis_subsequence_number"]) == (0, 1)
    assert results[1]["metadata"]["partitionKeys"] == {
        "p_ledger": "vehicle-registration",
        "p_record_type": "_mixed",
        "p_table": "_mixed",
        "p_date": "2019-12-11",
    }
    assert results[2]["data"] == event["records"][2]["data"]
    assert ok_rows(results[3])[0]["ledger"] == "test-wallet"


def test_control_records_are_kept(make_event: Any, ok_rows: Rows) -> None:
    created = simpleion.dumps(
        simpleion.loads(
            f'{{qldbStreamArn: "{DMV_ARN}", recordType: CONTROL, payload: {{controlRecordType: "CREATED"}}}}'
        ),
        binary=True,
    )
    (result,) = transform_event(make_event([created]))["records"]
    (row,) = ok_rows(result)
    assert (row["record_type"], row["control_type"], row["ledger"]) == (
        "CONTROL",
        "CREATED",
        "vehicle-registration",
    )
    assert result["metadata"]["partitionKeys"] == {
        "p_ledger": "vehicle-registration",
        "p_record_type": "control",
        "p_table": "_control",
        "p_date": "2019-12-11",  # the Kinesis arrival: a CONTROL record has no time of its own
    }


def test_response_budget_fails_what_does_not_fit(
    real: Any, make_event: Any, monkeypatch: pytest.MonkeyPatch, lambda_context: Any, log_lines: Logs
) -> None:
    # GIVEN five revisions and a response budget that fits about three of them
    event = make_event([real.revision] * 5)
    one = len(json.dumps(transform_event(make_event([real.revision]))["records"][0]))
    monkeypatch.setenv("QLDB_ARCHIVE_MAX_RESPONSE_BYTES", str(15 + 3 * one + 4 * 2 + 2 * 1200))
    assert max_response_bytes() < MAX_RESPONSE_BYTES
    # WHEN the handler runs
    response = lambda_handler(event, lambda_context)
    # THEN the first ones are Ok, the rest fail with the reason, and the response fits
    assert [r["result"] for r in response["records"]] == ["Ok"] * 3 + ["ProcessingFailed"] * 2
    assert len(json.dumps(response)) <= max_response_bytes()
    reasons = [line["reason"] for line in log_lines() if line["message"] == "record failed"]
    assert len(reasons) == 2
    assert all("BufferSizeInMBs" in r for r in reasons)


def test_budget_never_exceeds_lambda_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QLDB_ARCHIVE_MAX_RESPONSE_BYTES", str(10 * MAX_RESPONSE_BYTES))
    assert max_response_bytes() == MAX_RESPONSE_BYTES


def test_empty_event() -> None:
    assert transform_event({"invocationId": "x", "deliveryStreamArn": "a", "region": "r", "records": []}) == {
        "records": []
    }


def test_handler_imports_neither_pyarrow_nor_boto3(load_event: Any) -> None:
    # Powertools itself imports botocore when it is installed (its user-agent hook), and the Lambda
    # runtime has it; so the check is stronger: with pyarrow, boto3 and botocore made unimportable,
    # the handler still imports and transforms an event.
    code = textwrap.dedent(
        """
        import json, sys
        from importlib.abc import MetaPathFinder

        class Block(MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"pyarrow", "boto3", "botocore"}:
                    raise ImportError(f"blocked: {name}")
                return None

        sys.meta_path.insert(0, Block())
        from firehose_transform.handler import transform_event
        response = transform_event(json.loads(sys.stdin.read()))
        print(",".join(r["result"] for r in response["records"]))
        """
    )
    event = json.dumps(load_event("firehoseKinesisSourceEvent.json"))
    out = subprocess.run(
        [sys.executable, "-c", code], input=event, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "Ok,Ok,Ok,ProcessingFailed,ProcessingFailed"


def test_results_are_what_powertools_builds(load_event: Any) -> None:
    # GIVEN the real Kinesis-source event; WHEN transformed
    event = load_event("firehoseKinesisSourceEvent.json")
    results = transform_event(event)["records"]
    # THEN each result is the dict Powertools' response classes make of the same parts
    for rec, result in zip(KinesisFirehoseEvent(event).records, results, strict=True):
        metadata = result.get("metadata")
        expected = rec.build_data_transformation_response(
            result=result["result"],
            data=result["data"],
            metadata=None
            if metadata is None
            else KinesisFirehoseDataTransformationRecordMetadata(partition_keys=metadata["partitionKeys"]),
        )
        assert result == expected.asdict()
        assert list(result) == list(expected.asdict())

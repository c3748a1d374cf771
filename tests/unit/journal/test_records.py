"""Stream record parsing on real QLDB records: types, kinds, errors that name the source."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from amazon.ion import simpleion

from journal.errors import RecordParseError
from journal.records import (
    BlockAddress,
    BlockSummaryRecord,
    ControlRecord,
    RevisionDetailsRecord,
    RevisionKind,
    parse_stream_records,
)

DMV = "amazon-qldb-streams-dmv-sample-lambda-python"


def read(qldb_real: Path, rel: str) -> bytes:
    return (qldb_real / rel).read_bytes()


def test_block_summary_from_real_stream(qldb_real: Path) -> None:
    (rec,) = parse_stream_records(read(qldb_real, f"{DMV}/block_summary_record.ion"), source="bs.ion")
    assert isinstance(rec, BlockSummaryRecord)
    assert rec.stream_arn.endswith("stream/vehicle-registration/17CR7ArZ1AMHgHOeOk6G9C")
    block = rec.block
    assert block.address == BlockAddress("HbD9IggL584EPHmfwjmVz0", 3)
    assert block.tx_id == "0007KbqoyqAIch6XRbQ4iA"
    assert base64.b64encode(block.block_hash).decode() == "lu425dAWsmvzxuNHTbn4ID4mLo0bWKkjLP2Uel4wrPQ="
    assert len(block.entries_hash_list) == 4
    assert [s.doc_id for s in block.summaries] == ["D35qd3e2prnJYmtKW6kok1"]
    assert block.document_tables() == {"D35qd3e2prnJYmtKW6kok1": ("Person", "1SUXCa3wwV0GD7kV78RbSg")}
    assert block.revisions == ()


def test_revision_details_from_real_stream(qldb_real: Path) -> None:
    data = read(qldb_real, "qldb-wallet/revision_details_user1_v0.ion")
    (rec,) = parse_stream_records(data, source="wallet.ion")
    assert isinstance(rec, RevisionDetailsRecord)
    rev = rec.revision
    assert (rev.doc_id, rev.version, rev.block_seq) == ("59NbC9MoyMw4vsTsoNROxX", 0, 26)
    assert (rev.table_name, rev.table_id) == ("Wallet", "AYj94Ipn0re4Fr2PDgadpl")
    assert rev.tx_id == "GE2lVViZmSY6QHl0OmvsmN"
    assert rev.tx_time.year == 2023
    assert rev.kind is RevisionKind.LIVE
    assert rev.data is not None
    assert rev.data["accountId"] == "user1"


def test_binary_and_text_parse_the_same(qldb_real: Path) -> None:
    text = read(qldb_real, f"{DMV}/revision_details_record.reconstructed.ion")
    binary = simpleion.dumps(simpleion.loads(text), binary=True)
    assert binary[:4] == b"\xe0\x01\x00\xea"
    (a,) = parse_stream_records(text, source="t")
    (b,) = parse_stream_records(binary, source="b")
    assert isinstance(a, RevisionDetailsRecord)
    assert isinstance(b, RevisionDetailsRecord)
    assert a.revision.revision_hash == b.revision.revision_hash
    assert a.revision.doc_id == b.revision.doc_id


def test_several_values_in_one_kinesis_record(qldb_real: Path) -> None:
    both = read(qldb_real, f"{DMV}/block_summary_record.ion") + read(
        qldb_real, f"{DMV}/revision_details_record.reconstructed.ion"
    )
    recs = parse_stream_records(both, source="both")
    assert [r.record_type for r in recs] == ["BLOCK_SUMMARY", "REVISION_DETAILS"]


def _revision_text(qldb_real: Path) -> str:
    return read(qldb_real, "qldb-wallet/revision_details_user1_v0.ion").decode()


def test_deleted_revision_has_no_data_and_no_hash(qldb_real: Path) -> None:
    text = _revision_text(qldb_real).replace(
        'data: {\n        accountId: "user1",\n        balance: 0\n      },', ""
    )
    (rec,) = parse_stream_records(text.encode(), source="deleted")
    assert isinstance(rec, RevisionDetailsRecord)
    assert rec.revision.kind is RevisionKind.DELETED
    assert rec.revision.data is None


def test_redacted_revision_has_a_data_hash_only(qldb_real: Path) -> None:
    text = _revision_text(qldb_real).replace(
        'data: {\n        accountId: "user1",\n        balance: 0\n      },',
        "dataHash: {{KGQhnyXb/BltXwCY9WPc0y1B8JLk/ok6w5YiaKweOvc=}},",
    )
    (rec,) = parse_stream_records(text.encode(), source="redacted")
    assert isinstance(rec, RevisionDetailsRecord)
    assert rec.revision.kind is RevisionKind.REDACTED
    assert rec.revision.data_hash is not None


def test_control_record() -> None:
    text = (
        b'{qldbStreamArn:"arn:aws:qldb:us-east-1:1:stream/l/s",'
        b'recordType:"CONTROL",payload:{controlRecordType:"CREATED"}}'
    )
    (rec,) = parse_stream_records(text, source="c")
    assert isinstance(rec, ControlRecord)
    assert rec.control_type == "CREATED"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"\x00\x01garbage", "not Ion"),
        (b"", "no Ion value"),
        (b'{qldbStreamArn:"a",recordType:"SOMETHING",payload:{}}', "unknown recordType"),
        (b'{qldbStreamArn:"a",recordType:"CONTROL"}', "payload"),
        (b'{recordType:"CONTROL",payload:{controlRecordType:"CREATED"}}', "qldbStreamArn"),
        (
            b'{qldbStreamArn:"a",recordType:"REVISION_DETAILS",payload:{tableInfo:{tableName:"T",tableId:"x"},'
            b'revision:{hash:{{AAAA}},metadata:{id:"d",version:1,txId:"t",txTime:2020T}}}}',
            "blockAddress",
        ),
        (
            b'{qldbStreamArn:"a",recordType:"REVISION_DETAILS",payload:{tableInfo:{tableName:"T",tableId:"x"},'
            b'revision:{blockAddress:{strandId:"s",sequenceNo:"1"},hash:{{AAAA}},metadata:{id:"d",version:1,txId:"t",txTime:2020T}}}}',
            "sequenceNo",
        ),
        (b"[1, 2]", "Ion value #0): a stream record is a struct, not list"),
    ],
)
def test_bad_records_raise_an_error_naming_the_source(data: bytes, needle: str) -> None:
    with pytest.raises(RecordParseError) as err:
        parse_stream_records(data, source="shard-1/seq-42")
    assert "shard-1/seq-42" in str(err.value)
    assert needle in str(err.value)

"""Journal exports: manifests, data objects in ION_TEXT / ION_BINARY / JSON, folders, errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from amazon.ion import simpleion
from amazon.ion.core import IonType

from journal.errors import ExportParseError, JournalError
from journal.export import (
    ExportFormat,
    find_exports,
    iter_export_blocks,
    parse_completed_manifest,
    parse_started_manifest,
    read_export,
)
from journal.records import BlockAddress, RevisionKind
from journal.simulate.journal_export import ion_to_json

if TYPE_CHECKING:
    from journal.ion_values import IonValue

BLOCK_100 = "aws-cli/block-KmA3ZZca7vAIiJAK9S5Iwl-100.ion"
EXPORT_ID = "8UyXulxccYLAsbN1aon7e4"
STRAND = "KmA3ZZca7vAIiJAK9S5Iwl"
# VECTORS.md, aws-cli block 100
BLOCK_HASH = "NoChM92yKRuJAb/jeLd1VnYn4DHiWIf071ACfic9uHc="
ENTRIES_HASH = "l05LOsiKV14SDbuaYnH7uwXzUvqzIwUiRLXGbTyj/nY="
REVISION_HASH = "mHVex/yjHAWjFPpwhBuH2GKXmKJjK2FBa9faqoUVNtg="


def b64(s: str) -> bytes:
    return base64.b64decode(s)


def encode(value: IonValue, fmt: ExportFormat) -> bytes:
    if fmt is ExportFormat.ION_BINARY:
        return bytes(simpleion.dumps(value, binary=True))
    if fmt is ExportFormat.JSON:
        return ion_to_json(value).encode() + b"\n"
    return str(simpleion.dumps(value, binary=False, omit_version_marker=True)).encode() + b"\n"


@pytest.fixture
def block_ion(qldb_real: Path) -> IonValue:
    return simpleion.loads((qldb_real / BLOCK_100).read_text())


def write_export(
    folder: Path, objects: list[list[IonValue]], fmt: ExportFormat, *, prefix: str = "journalExport"
) -> list[str]:
    """An export folder as ExportJournalToS3 lays it out; keys include the prefix."""
    keys = []
    for n, blocks in enumerate(objects):
        ext = "json" if fmt is ExportFormat.JSON else "ion"
        rel = f"2019/09/16/19/{EXPORT_ID}.{STRAND}.{n}-{n}.{ext}"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(b"".join(encode(b, fmt) for b in blocks))
        keys.append(f"{prefix}/{rel}")
    started = simpleion.loads(f'{{exportId:"{EXPORT_ID}", prefix:"{prefix}", outputFormat:"{fmt.value}"}}')
    completed = simpleion.loads("{keys:[" + ",".join(json.dumps(k) for k in keys) + "]}")
    (folder / f"{EXPORT_ID}.started.manifest").write_bytes(encode(started, fmt))
    (folder / f"{EXPORT_ID}.{STRAND}.completed.manifest").write_bytes(encode(completed, fmt))
    return keys


def test_started_manifest_from_the_aws_docs() -> None:
    text = (
        b'{ ledgerName:"my-example-ledger", exportId:"8UyXulxccYLAsbN1aon7e4", '
        b"inclusiveStartTime:2019-04-15T00:00:00.000Z, exclusiveEndTime:2019-04-15T22:00:00.000Z, "
        b'bucket:"amzn-s3-demo-bucket", prefix:"journalExport", objectEncryptionType:"NO_ENCRYPTION", '
        b'outputFormat:"ION_TEXT" }'
    )
    m = parse_started_manifest(text, source="x.started.manifest")
    assert (m.export_id, m.ledger_name, m.prefix, m.output_format) == (
        "8UyXulxccYLAsbN1aon7e4",
        "my-example-ledger",
        "journalExport",
        ExportFormat.ION_TEXT,
    )


def test_started_manifest_without_output_format_and_in_json() -> None:
    assert parse_started_manifest(b"{exportId:'x'}", source="m").output_format is None
    m = parse_started_manifest(b'{"exportId": "x", "outputFormat": "JSON"}', source="m")
    assert m.output_format is ExportFormat.JSON


@pytest.mark.parametrize(
    "data",
    [b'{keys:["p/a.ion", "p/b.ion"]}', b'{"keys": ["p/a.ion", "p/b.ion"]}', b"{keys:['p/a.ion','p/b.ion']}"],
)
def test_completed_manifest_keeps_key_order(data: bytes) -> None:
    m = parse_completed_manifest(data, source=f"/x/{EXPORT_ID}.{STRAND}.completed.manifest")
    assert m.keys == ("p/a.ion", "p/b.ion")
    assert (m.export_id, m.strand_id) == (EXPORT_ID, STRAND)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{", "not an Ion or JSON manifest"),
        (b"[1]", "a manifest is a struct"),
        (b"{}", "needs a 'keys' list"),
        (b"{keys:[1]}", r"keys\[0\] is not a string"),
    ],
)
def test_bad_completed_manifest(data: bytes, message: str) -> None:
    with pytest.raises(ExportParseError, match=message) as info:
        parse_completed_manifest(data, source="m.completed.manifest")
    assert info.value.source == "m.completed.manifest"


def test_bad_output_format() -> None:
    with pytest.raises(ExportParseError, match="unknown outputFormat 'CSV'"):
        parse_started_manifest(b'{outputFormat:"CSV"}', source="m")


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_data_object_in_each_format(block_ion: IonValue, fmt: ExportFormat) -> None:
    data = encode(block_ion, fmt) * 2
    blocks = list(iter_export_blocks(data, source=f"obj.{fmt.value}"))  # format sniffed
    assert len(blocks) == 2
    block = blocks[0]
    assert block.address == BlockAddress(STRAND, 100)
    assert block.block_hash == b64(BLOCK_HASH)
    assert block.entries_hash == b64(ENTRIES_HASH)
    assert len(block.entries_hash_list) == 4
    (rev,) = block.revisions
    assert rev.revision_hash == b64(REVISION_HASH)
    assert (rev.doc_id, rev.version, rev.kind) == ("JUJgkIcNbhS2goq8RqLuZ4", 3, RevisionKind.LIVE)
    assert (rev.table_name, rev.table_id) == ("VehicleRegistration", "BFJKdXgzt9oF4wjMbuxy4G")
    assert block.ion_exact is rev.ion_exact is (fmt is not ExportFormat.JSON)
    assert block.timestamp.isoformat() == "2019-09-16T19:37:05.360000+00:00"


def test_json_export_retypes_only_the_envelope(block_ion: IonValue) -> None:
    (block,) = iter_export_blocks(
        encode(block_ion, ExportFormat.JSON), source="o.json", fmt=ExportFormat.JSON
    )
    assert block.transaction_info is not None
    statement = block.transaction_info["statements"][0]
    assert statement["statementDigest"].ion_type is IonType.BLOB
    assert statement["startTime"].ion_type is IonType.TIMESTAMP
    rev = block.revisions[0]
    assert rev.data is not None
    assert rev.metadata["txTime"].ion_type is IonType.TIMESTAMP
    # user data keeps what JSON made of it: a day-precision date is now a string
    assert rev.data["ValidFromDate"].ion_type is IonType.STRING
    assert rev.data["PendingPenaltyTicketAmount"].ion_type is IonType.FLOAT


def test_json_export_of_a_user_field_named_hash_stays_a_string() -> None:
    line = {
        "blockAddress": {"strandId": "s", "sequenceNo": 1},
        "transactionId": "t",
        "blockTimestamp": "2019-09-16T19:37:05.360Z",
        "blockHash": "AAAA",
        "entriesHash": "AAAA",
        "previousBlockHash": "AAAA",
        "entriesHashList": ["AAAA"],
        "revisions": [
            {
                "blockAddress": {"strandId": "s", "sequenceNo": 1},
                "hash": "AAAA",
                "data": {"hash": "not base64!", "txTime": "soon"},
                "metadata": {"id": "d", "version": 0, "txTime": "2019-09-16T19:37:05.344Z", "txId": "t"},
            }
        ],
    }
    (block,) = iter_export_blocks(json.dumps(line).encode(), source="o.json")
    assert block.revisions[0].data is not None
    assert str(block.revisions[0].data["hash"]) == "not base64!"
    assert block.revisions[0].ion_exact is False


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.pop("blockHash"), "blockHash"),
        (lambda b: b.update(blockHash="@@@"), "blockHash is not base64"),
        (lambda b: b.update(blockTimestamp="yesterday"), "blockTimestamp is not an Ion timestamp"),
        (lambda b: b["entriesHashList"].append(7), r"entriesHashList\[4\] must be a base64 string"),
        (lambda b: b["revisions"][0]["metadata"].pop("id"), "revisions\\[0\\]"),
    ],
)
def test_json_errors_name_file_and_block(block_ion: IonValue, mutate: object, message: str) -> None:
    good = json.loads(ion_to_json(block_ion))
    bad = json.loads(ion_to_json(block_ion))
    assert callable(mutate)
    mutate(bad)
    data = (json.dumps(good) + "\n" + json.dumps(bad) + "\n").encode()
    with pytest.raises(ExportParseError, match=message) as info:
        list(iter_export_blocks(data, source="obj.json"))
    assert (info.value.source, info.value.block) == ("obj.json", 1)
    assert "obj.json, block #1" in str(info.value)


def test_ion_errors_name_file_and_block(block_ion: IonValue) -> None:
    bad = simpleion.loads(simpleion.dumps(block_ion))
    del bad["entriesHash"]
    data = encode(block_ion, ExportFormat.ION_TEXT) + encode(bad, ExportFormat.ION_TEXT)
    with pytest.raises(ExportParseError, match="entriesHash") as info:
        list(iter_export_blocks(data, source="obj.ion"))
    assert info.value.block == 1
    with pytest.raises(ExportParseError, match="not Ion"):
        list(iter_export_blocks(b"{{{", source="obj.ion"))
    with pytest.raises(ExportParseError, match="a journal block is a struct"):
        list(iter_export_blocks(b"[1]", source="obj.ion"))
    with pytest.raises(ExportParseError, match="line 1 is not JSON"):
        list(iter_export_blocks(b"{nope\n", source="obj.json", fmt=ExportFormat.JSON))
    with pytest.raises(ExportParseError, match="line 2 is not a JSON object"):
        list(iter_export_blocks(b"\n[1]\n", source="obj.json", fmt=ExportFormat.JSON))


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_read_export_follows_the_manifest(tmp_path: Path, block_ion: IonValue, fmt: ExportFormat) -> None:
    second = simpleion.loads(simpleion.dumps(block_ion))
    second["blockAddress"]["sequenceNo"] = simpleion.loads("101")
    keys = write_export(tmp_path, [[block_ion], [second, second]], fmt)
    # the manifest, not file names, gives the order
    completed = tmp_path / f"{EXPORT_ID}.{STRAND}.completed.manifest"
    completed.write_bytes(
        encode(simpleion.loads("{keys:[" + json.dumps(keys[1]) + "," + json.dumps(keys[0]) + "]}"), fmt)
    )
    seqs = [b.block_seq for b in read_export(tmp_path)]
    assert seqs == [101, 101, 100]
    (info,) = find_exports(tmp_path)
    assert info.export_id == EXPORT_ID
    assert info.started is not None


def test_read_export_resolves_keys_with_or_without_prefix(tmp_path: Path, block_ion: IonValue) -> None:
    write_export(tmp_path, [[block_ion]], ExportFormat.ION_TEXT, prefix="deep/nested/prefix")
    assert [b.block_seq for b in read_export(tmp_path)] == [100]


def test_read_export_errors(tmp_path: Path, block_ion: IonValue) -> None:
    with pytest.raises(ExportParseError, match=r"no <exportId>\.<strandId>\.completed\.manifest"):
        list(read_export(tmp_path))
    keys = write_export(tmp_path, [[block_ion]], ExportFormat.ION_TEXT)
    (tmp_path / keys[0].removeprefix("journalExport/")).unlink()
    with pytest.raises(ExportParseError, match="is not under") as info:
        list(read_export(tmp_path))
    assert isinstance(info.value, JournalError)
    (tmp_path / f"OTHER.{STRAND}.completed.manifest").write_bytes(b"{keys:[]}")
    with pytest.raises(ExportParseError, match="several exports here"):
        list(read_export(tmp_path))
    assert list(read_export(tmp_path, export_id="OTHER")) == []
    with pytest.raises(ExportParseError, match="no completed manifest for export NOPE"):
        list(read_export(tmp_path, export_id="NOPE"))


def test_read_export_streams_one_object_at_a_time(tmp_path: Path, block_ion: IonValue) -> None:
    keys = write_export(tmp_path, [[block_ion], [block_ion]], ExportFormat.ION_TEXT)
    (tmp_path / keys[1].removeprefix("journalExport/")).write_bytes(b"{{{ corrupt")
    blocks = read_export(tmp_path)
    assert next(blocks).block_seq == 100  # the first object is read before the second is opened
    with pytest.raises(ExportParseError, match="not Ion"):
        next(blocks)

"""Input detection: every kind of docs/files.md, folders, datasets, and errors that name the path."""

from __future__ import annotations

import base64
import json
import random
import shutil
from functools import cache
from pathlib import Path

import pytest
from amazon.ion import simpleion

from journal.errors import JournalError, UnknownInputError
from journal.kpl import UserRecord, aggregate
from journal.records import Block, Revision
from journal.simulate.config import SimulationConfig
from journal.simulate.journal_export import ExportWriter
from journal.simulate.simulation import simulate_blocks
from journal.simulate.stream import block_stream_records
from journal.sources import DatasetKind, UnreadableRecord, load_sources
from journal.verify import Check, Outcome, Status, verify_paths

DMV = "amazon-qldb-streams-dmv-sample-lambda-python"
ARN = "arn:aws:qldb:us-east-1:123456789012:stream/vehicle-registration/s"


@cache
def blocks() -> tuple[Block, ...]:
    return tuple(b.block for b in simulate_blocks(SimulationConfig(revisions=40, seed=7)))


@cache
def user_records() -> tuple[UserRecord, ...]:
    return tuple(r for b in blocks() for r in block_stream_records(b, stream_arn=ARN))


def kinesis_line(data: bytes, n: int) -> str:
    return json.dumps(
        {
            "shardId": "shardId-000000000000",
            "sequenceNumber": str(49_600_000_000 + n),
            "partitionKey": "k",
            "approximateArrivalTimestamp": 1576048851.261,
            "data": base64.b64encode(data).decode(),
        }
    )


def write_kinesis(folder: Path, *, aggregated: bool, seed: int = 3) -> list[Path]:
    """Two shard files, duplicated and shuffled lines, optionally KPL-aggregated."""
    folder.mkdir(parents=True, exist_ok=True)
    recs = list(user_records())
    payloads = (
        [aggregate(recs[i : i + 5]) for i in range(0, len(recs), 5)] if aggregated else [r.data for r in recs]
    )
    payloads += payloads[::4]  # at-least-once delivery
    random.Random(seed).shuffle(payloads)
    half = len(payloads) // 2
    paths = []
    for shard, chunk in enumerate((payloads[:half], payloads[half:])):
        path = folder / f"shard-shardId-00000000000{shard}.jsonl"
        path.write_text("".join(kinesis_line(p, n) + "\n" for n, p in enumerate(chunk)))
        paths.append(path)
    return paths


def write_firehose(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    event = {
        "invocationId": "inv",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/x",
        "region": "us-east-1",
        "records": [
            {"recordId": f"r{n}", "approximateArrivalTimestamp": 1, "data": base64.b64encode(r.data).decode()}
            for n, r in enumerate(reversed(user_records()))
        ],
    }
    path = folder / "event-0.json"
    path.write_text(json.dumps(event))
    return path


def write_export(folder: Path, fmt: str = "ION_TEXT") -> Path:
    writer = ExportWriter(
        folder,
        fmt=fmt,  # type: ignore[arg-type]
        blocks_per_object=7,
        export_id="Exp0rt1d",
        strand_id=blocks()[0].address.strand_id,
        ledger_name="vehicle-registration",
        prefix="journalExport",
        start_ms=0,
    )
    for block in blocks():
        writer.add(block)
    writer.close()
    return folder


def test_kinesis_files_plain(tmp_path: Path) -> None:
    write_kinesis(tmp_path / "kinesis", aggregated=False)
    sources = load_sources([tmp_path / "kinesis"])
    (ds,) = sources.datasets
    assert ds.kind is DatasetKind.KINESIS
    assert not ds.ordered
    assert len(ds.paths) == 2
    items = list(ds.iter_items())
    assert {type(i) for i in items} == {Block, Revision}
    report = verify_paths([tmp_path / "kinesis"])
    assert report.ok, report.summary_lines()


def test_kinesis_files_kpl_aggregated(tmp_path: Path) -> None:
    write_kinesis(tmp_path, aggregated=True)
    report = verify_paths([tmp_path])
    assert report.ok, report.summary_lines()
    (ds,) = report.datasets
    assert ds.blocks == len(blocks())
    assert ds.revisions == sum(len(b.revisions) for b in blocks())
    assert ds.duplicate_blocks > 0


def test_a_corrupt_aggregate_is_a_finding(tmp_path: Path) -> None:
    (path, _) = write_kinesis(tmp_path, aggregated=True)
    lines = path.read_text().splitlines()
    data = bytearray(base64.b64decode(json.loads(lines[0])["data"]))
    data[-1] ^= 1  # the MD5 no longer matches
    lines[0] = kinesis_line(bytes(data), 0)
    path.write_text("\n".join(lines) + "\n")
    items = list(load_sources([path]).datasets[0].iter_items())
    bad = [i for i in items if isinstance(i, UnreadableRecord)]
    assert len(bad) == 1
    assert f"{path}:1" in bad[0].source
    assert "MD5" in bad[0].reason


def test_firehose_events(tmp_path: Path) -> None:
    path = write_firehose(tmp_path / "firehose")
    (ds,) = load_sources([path]).datasets
    assert ds.kind is DatasetKind.FIREHOSE
    report = verify_paths([path])
    assert report.ok, report.summary_lines()


def test_firehose_record_with_bad_data_is_a_finding(tmp_path: Path) -> None:
    path = write_firehose(tmp_path)
    event = json.loads(path.read_text())
    event["records"][3]["data"] = "%%%"
    path.write_text(json.dumps(event))
    report = verify_paths([path])
    assert report.check(Check.RECORD_PARSE).counts[Outcome.FAILED] == 1
    assert any("recordId r3" in f.message for f in report.findings)


@pytest.mark.parametrize("fmt", ["ION_TEXT", "ION_BINARY", "JSON"])
def test_export_folders(tmp_path: Path, fmt: str) -> None:
    write_export(tmp_path / "export", fmt)
    (tmp_path / "notes.md").write_text("not journal data")
    sources = load_sources([tmp_path])
    (ds,) = sources.datasets
    assert (ds.kind, ds.export_id, ds.ordered) == (DatasetKind.EXPORT, "Exp0rt1d", True)
    assert sources.ignored == (tmp_path / "notes.md",)
    report = verify_paths([tmp_path])
    assert report.ok, report.summary_lines()
    assert report.datasets[0].blocks == len(blocks())
    expected = (
        Status.NOT_CHECKABLE if fmt == "JSON" else Status.UNCONFIRMED
    )  # the simulator deletes documents
    assert report.check(Check.REVISION_HASH).status in (expected, Status.PASSED)
    if fmt == "JSON":
        assert report.check(Check.TRANSACTION_INFO).status is Status.NOT_CHECKABLE
    assert report.check(Check.ENTRIES_HASH).status is Status.PASSED


def test_a_completed_manifest_names_its_export(tmp_path: Path) -> None:
    write_export(tmp_path)
    (manifest,) = tmp_path.glob("*.completed.manifest")
    (ds,) = load_sources([manifest]).datasets
    assert ds.kind is DatasetKind.EXPORT


def test_an_unreadable_export_object_is_a_finding(tmp_path: Path) -> None:
    write_export(tmp_path)
    objects = sorted(tmp_path.rglob("*.ion"))
    objects[1].write_bytes(b"{{{{ not ion")
    report = verify_paths([tmp_path])
    assert not report.ok
    assert report.check(Check.RECORD_PARSE).status is Status.FAILED
    assert report.check(Check.CHAIN).status is Status.INCOMPLETE  # the blocks of that object are missing


def test_one_folder_of_every_kind(tmp_path: Path, qldb_real: Path) -> None:
    write_kinesis(tmp_path / "kinesis", aggregated=True)
    write_firehose(tmp_path / "firehose")
    write_export(tmp_path / "export")
    (tmp_path / "truth").mkdir()
    (tmp_path / "truth" / "history.jsonl").write_text('{"doc_id": "x"}\n')
    (tmp_path / ".hidden.json").write_text("{}")
    shutil.copy(qldb_real / "aws-cli/get-digest.output.json", tmp_path / "get-digest.json")
    sources = load_sources([tmp_path])
    assert [d.kind for d in sources.datasets] == [
        DatasetKind.KINESIS,
        DatasetKind.FIREHOSE,
        DatasetKind.EXPORT,
    ]
    assert len(sources.digests) == 1
    assert sources.ignored == ()
    report = verify_paths([tmp_path])
    assert report.ok, report.summary_lines()
    digests = {d.digest for d in report.datasets}
    assert len(digests) == 1  # three copies of one journal, one digest
    assert None not in digests


def test_loose_files_form_one_dataset(qldb_real: Path) -> None:
    sources = load_sources([qldb_real / "aws-cli"])
    (ds,) = sources.datasets
    assert ds.kind is DatasetKind.FILES
    assert {p.name for p in ds.paths} == {
        "block-KmA3ZZca7vAIiJAK9S5Iwl-100.ion",
        "get-block.output.json",
        "get-revision.output.json",
    }
    assert len(sources.digests) == 1
    assert len(sources.proofs) == 2


def test_ion_binary_and_text_record_files(qldb_real: Path, tmp_path: Path) -> None:
    for name in ("block_summary_record.ion", "revision_details_record.reconstructed.ion"):
        value = simpleion.loads((qldb_real / DMV / name).read_text())
        (tmp_path / name.replace(".ion", ".10n")).write_bytes(simpleion.dumps(value, binary=True))
    report = verify_paths(sorted(tmp_path.iterdir()))
    assert report.ok, report.summary_lines()
    assert report.datasets[0].revisions == 1


def test_receipts_are_proofs_only(qldb_real: Path) -> None:
    sources = load_sources([qldb_real / "amazon-qldb-rest-api"])
    assert sources.datasets == ()
    assert len(sources.proofs) == 4
    assert {p.name for p in sources.ignored} == {"history_INV01.json", "history_INVOICE001.json"}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("history.json", b"[1, 2]", "expected a Kinesis record file"),
        ("notes.txt", b"hello", "expected a Kinesis record file"),
        ("rows.jsonl", b'{"doc_id": 1}\n', "expected a Kinesis record file"),
        ("garbage.ion", b"{{{{", "not Ion"),
        ("other.ion", b"{a: 1}", "not a QLDB stream record, journal block or revision"),
        ("empty.10n", b"", "not a QLDB stream record"),
    ],
)
def test_a_named_file_of_no_known_kind_is_an_error(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnknownInputError, match=message) as info:
        load_sources([path])
    assert info.value.path == str(path)
    assert str(path) in str(info.value)


def test_missing_paths_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(UnknownInputError, match="no such file or folder"):
        load_sources([tmp_path / "nope"])
    (tmp_path / "README.md").write_text("x")
    with pytest.raises(UnknownInputError, match="nothing to verify"):
        load_sources([tmp_path])


def test_a_malformed_cli_output_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "get-digest.json"
    path.write_text('{"Digest": "AAAA", "DigestTipAddress": {"IonText": "{"}}')
    with pytest.raises(JournalError, match="DigestTipAddress"):
        load_sources([path])


def test_later_bad_values_in_an_ion_file_are_findings(qldb_real: Path, tmp_path: Path) -> None:
    block = (qldb_real / "aws-cli/block-KmA3ZZca7vAIiJAK9S5Iwl-100.ion").read_text()
    path = tmp_path / "blocks.ion"
    path.write_text(block + "\n{a:1}\n" + block.replace("blockHash", "blockHasz"))
    items = list(load_sources([path]).datasets[0].iter_items())
    assert isinstance(items[0], Block)
    assert [type(i) for i in items[1:]] == [UnreadableRecord, UnreadableRecord]
    assert "Ion value #1" in items[1].source  # type: ignore[union-attr]

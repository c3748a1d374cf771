"""Backfill of journal exports and raw Firehose archives into the Parquet archive.

Expected values come from the simulator's ground truth and from the stream path (the same
ledger's Firehose events through the local Firehose), never from the backfill itself.
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from amazon.ion import simpleion

from firehose_transform.backfill import BackfillError, backfill, block_to_stream_records, split_raw_object
from firehose_transform.local_firehose import read_failed_records, run_local_firehose
from firehose_transform.schema import arrow_schema
from firehose_transform.storage import open_location
from journal.export import read_export
from journal.ion_hash import ion_hash
from journal.kpl import MAGIC
from journal.merkle import dot
from journal.simulate import EMPTY_DATA_HASH, OperationMix, SimulationConfig, write_simulation

Revision = tuple[str, int, str]
MIX = OperationMix(insert=0.35, update=0.4, delete=0.25, redact=0.15)


@dataclass(frozen=True, slots=True)
class Ledger:
    out: Path
    stream_archive: Path

    def truth(self) -> set[Revision]:
        lines = (self.out / "truth" / "history.jsonl").read_text().splitlines()
        return {(t["doc_id"], t["version"], t["revision_hash"]) for t in map(json.loads, lines)}

    def kinesis_payloads(self) -> list[bytes]:
        """Every Kinesis record's bytes, in file order (duplicates kept, as a raw archive has them)."""
        return [
            base64.b64decode(json.loads(line)["data"])
            for p in sorted((self.out / "kinesis").glob("shard-*.jsonl"))
            for line in p.read_text().splitlines()
        ]


def make_ledger(out: Path, **config: Any) -> Ledger:
    write_simulation(
        out, SimulationConfig(**config), outputs=frozenset({"firehose", "kinesis", "export", "truth"})
    )
    events = (json.loads(p.read_text()) for p in sorted((out / "firehose").glob("event-*.json")))
    run_local_firehose(events, str(out / "stream-archive"))
    return Ledger(out, out / "stream-archive")


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    return make_ledger(tmp_path_factory.mktemp("bf"), revisions=300, seed=51, mix=MIX, aggregate=True)


def rows(archive: Path, record_type: str) -> list[dict[str, Any]]:
    paths = [str(archive / k) for k in open_location(str(archive)).list_keys() if k.endswith(".parquet")]
    table = ds.dataset(paths, format="parquet", schema=arrow_schema()).to_table(
        filter=ds.field("record_type") == record_type
    )
    return table.to_pylist()  # type: ignore[no-any-return]


def revisions(archive: Path) -> set[Revision]:
    return {(r["doc_id"], r["version"], r["revision_hash"]) for r in rows(archive, "REVISION_DETAILS")}


def blocks(archive: Path) -> set[tuple[int, str, str, str]]:
    return {
        (r["block_seq"], r["block_hash"], r["previous_block_hash"], r["revision_summaries_json"])
        for r in rows(archive, "BLOCK_SUMMARY")
    }


def recompute(row: dict[str, Any]) -> bytes:
    revision = simpleion.loads(row["revision_ion"])
    md_hash = ion_hash(revision["metadata"])
    if row["is_redacted"]:
        return dot(md_hash, base64.b64decode(row["data_hash"]))
    if row["is_deleted"]:
        return dot(md_hash, EMPTY_DATA_HASH)
    return dot(md_hash, ion_hash(revision["data"]))


def test_the_stream_path_holds_the_truth(ledger: Ledger) -> None:
    assert revisions(ledger.stream_archive) == ledger.truth()


@pytest.mark.parametrize("fmt", ["ION_TEXT", "ION_BINARY", "JSON"])
def test_export_backfill_equals_the_stream_path(fmt: str, tmp_path: Path) -> None:
    # GIVEN a ledger archived through the stream, and its journal export in one format
    led = make_ledger(tmp_path / "sim", revisions=150, seed=52, mix=MIX, export_format=fmt)
    # WHEN the export is backfilled
    summary = backfill(str(led.out / "export"), str(tmp_path / "archive"))
    # THEN it gives the same revision rows and block summaries as the stream
    assert (summary.failed, summary.problems, summary.raw_objects) == (0, (), 0)
    assert summary.export_objects > 0
    archive = tmp_path / "archive"
    assert revisions(archive) == revisions(led.stream_archive) == led.truth()
    assert blocks(archive) == blocks(led.stream_archive)
    if fmt != "JSON":  # JSON exports lose Ion types: their hashes cannot recompute (journal.export)
        for row in rows(archive, "REVISION_DETAILS"):
            assert base64.b64encode(recompute(row)).decode() == row["revision_hash"]
    ledger_names = {r["ledger"] for r in rows(archive, "REVISION_DETAILS")}
    assert ledger_names == {"vehicle-registration"}


def write_raw_objects(ledger: Ledger, src: Path, *, gzipped: bool = False) -> None:
    """Raw Firehose objects: the Kinesis payloads concatenated, split in three objects."""
    payloads = ledger.kinesis_payloads()
    third = len(payloads) // 3
    for i, chunk in enumerate((payloads[:third], payloads[third : 2 * third], payloads[2 * third :])):
        data = b"".join(chunk)
        path = src / "2019" / "12" / "11" / "07" / f"qldb-raw-1-2019-12-11-07-0{i}-00-{i:08d}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(data) if gzipped else data)


@pytest.mark.parametrize("gzipped", [False, True])
def test_raw_archive_backfill_equals_the_stream_path(ledger: Ledger, tmp_path: Path, gzipped: bool) -> None:
    # GIVEN raw Firehose objects holding the stream's KPL aggregates, concatenated
    assert any(p.startswith(MAGIC) for p in ledger.kinesis_payloads())
    write_raw_objects(ledger, tmp_path / "raw", gzipped=gzipped)
    # WHEN they are backfilled
    summary = backfill(str(tmp_path / "raw"), str(tmp_path / "archive"))
    # THEN nothing fails, and the rows equal the stream path's
    assert (summary.failed, summary.raw_objects, summary.export_objects) == (0, 3, 0)
    assert revisions(tmp_path / "archive") == revisions(ledger.stream_archive)
    assert blocks(tmp_path / "archive") == blocks(ledger.stream_archive)
    counts = Counter(r["record_type"] for r in rows(tmp_path / "archive", "CONTROL"))
    assert counts["CONTROL"] >= 2


def test_backfill_is_idempotent_per_source_object(ledger: Ledger, tmp_path: Path) -> None:
    # GIVEN a folder holding a raw archive, an export, and the destination itself
    write_raw_objects(ledger, tmp_path / "src" / "raw")
    shutil.copytree(ledger.out / "export", tmp_path / "src" / "export")
    dest = tmp_path / "src" / "archive"
    first = backfill(str(tmp_path / "src"), str(dest))
    keys = open_location(str(dest)).list_keys()
    # WHEN it is backfilled again
    again = backfill(str(tmp_path / "src"), str(dest))
    # THEN no object is added
    assert first.objects_written > 0
    assert first.export_objects > 0
    assert first.raw_objects == 3
    assert (again.objects_written, again.objects_existing) == (0, first.objects_written)
    assert open_location(str(dest)).list_keys() == keys
    assert again.raw_objects == 3  # the archive inside the source was not read back


def test_a_bad_gzip_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "broken.gz").write_bytes(b"\x1f\x8b\x08garbage")
    summary = backfill(str(tmp_path / "raw"), str(tmp_path / "archive"))
    assert len(summary.problems) == 1
    assert "broken.gz" in summary.problems[0]


def test_unframeable_bytes_go_to_the_error_prefix(ledger: Ledger, tmp_path: Path) -> None:
    # GIVEN a raw object whose tail is garbage
    good = ledger.kinesis_payloads()[:5]
    garbage = b"\xe0\x01\x00\xea\x2e\xff\xff"  # a length that runs past the object
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "obj").write_bytes(b"".join(good) + garbage)
    summary = backfill(str(tmp_path / "raw"), str(tmp_path / "archive"))
    # THEN the good records are archived and the garbage is kept, byte for byte
    assert summary.failed == 1
    failed = list(read_failed_records(str(tmp_path / "archive")))
    assert [f.raw_data for f in failed] == [garbage]


def test_split_ignores_marker_bytes_inside_values() -> None:
    blob = simpleion.loads("{{4AEA6uABAOo=}}")  # E0 01 00 EA twice, inside a blob
    one = bytes(simpleion.dumps({"h": blob, "n": 1}, binary=True))
    two = bytes(simpleion.dumps({"h": blob, "n": 2}, binary=True))
    assert one.count(b"\xe0\x01\x00\xea") == 3
    assert split_raw_object(one + two + one) == [one, two, one]
    assert split_raw_object(b"") == []


def test_export_manifest_missing_object_is_an_error(ledger: Ledger, tmp_path: Path) -> None:
    shutil.copytree(ledger.out / "export", tmp_path / "export")
    victim = next(p for p in (tmp_path / "export").rglob("*.ion") if p.is_file())
    victim.unlink()
    with pytest.raises(BackfillError, match="missing"):
        backfill(str(tmp_path / "export"), str(tmp_path / "archive"))


def test_block_to_stream_records_matches_the_stream(ledger: Ledger) -> None:
    arn = "arn:aws:qldb:us-east-1:1:stream/vehicle-registration/x"
    block = next(b for b in read_export(ledger.out / "export") if b.revisions)
    records = [simpleion.loads(r) for r in block_to_stream_records(block, stream_arn=arn)]
    assert [str(r["recordType"]) for r in records] == ["BLOCK_SUMMARY"] + ["REVISION_DETAILS"] * len(
        block.revisions
    )
    summaries = records[0]["payload"]["revisionSummaries"]
    assert [bytes(s["hash"]) for s in summaries] == [s.revision_hash for s in block.summaries]
    assert all(str(r["qldbStreamArn"]) == arn for r in records)

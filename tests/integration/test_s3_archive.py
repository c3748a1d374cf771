"""The Parquet archive in S3, over HTTP: local Firehose, reprocess-errors and backfill on a moto server.

Expected values come from the simulator's ground truth, never from the code under test.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pyarrow.dataset as ds
import pytest

from firehose_transform.backfill import backfill
from firehose_transform.local_firehose import (
    PROCESSING_FAILED,
    REPROCESSED,
    read_failed_records,
    reprocess_errors,
    run_local_firehose,
)
from firehose_transform.storage import open_location
from journal.simulate import SimulationConfig, write_simulation

Revision = tuple[str, int, str]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("s3sim")
    write_simulation(
        out,
        SimulationConfig(revisions=250, seed=31, export_format="ION_BINARY"),
        outputs=frozenset({"firehose", "export", "truth"}),
    )
    return out


def events(sim: Path) -> Iterator[dict[str, Any]]:
    for p in sorted((sim / "firehose").glob("event-*.json")):
        yield json.loads(p.read_text())


def truth(sim: Path) -> set[Revision]:
    lines = (sim / "truth" / "history.jsonl").read_text().splitlines()
    return {(t["doc_id"], t["version"], t["revision_hash"]) for t in map(json.loads, lines)}


def s3_revisions(url: str, endpoint_url: str) -> set[Revision]:
    loc = open_location(url, endpoint_url=endpoint_url)
    paths = [loc.path(k) for k in loc.list_keys() if k.endswith(".parquet")]
    table = ds.dataset(paths, filesystem=loc.fs, format="parquet").to_table(
        columns=["doc_id", "version", "revision_hash"], filter=ds.field("record_type") == "REVISION_DETAILS"
    )
    return set(zip(*(table[c].to_pylist() for c in ("doc_id", "version", "revision_hash")), strict=True))


def boto_keys(endpoint_url: str, bucket: str, prefix: str = "") -> list[str]:
    client: Any = boto3.client("s3", endpoint_url=endpoint_url, region_name="us-east-1")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_local_firehose_writes_the_archive_to_s3(sim: Path, s3_endpoint_url: str, s3_bucket: str) -> None:
    # GIVEN a simulated stream's Firehose events and an empty bucket
    url = f"s3://{s3_bucket}/archive"
    # WHEN they are delivered to S3 twice
    first = run_local_firehose(events(sim), url, endpoint_url=s3_endpoint_url)
    keys = boto_keys(s3_endpoint_url, s3_bucket)
    again = run_local_firehose(events(sim), url, endpoint_url=s3_endpoint_url)
    # THEN the objects sit under the Hive layout, readable over HTTP, and hold every revision
    assert first.failed == 0
    assert first.objects_written == len(keys) > 0
    assert all(k.startswith("archive/p_ledger=vehicle-registration/p_record_type=") for k in keys)
    assert all(k.endswith(".parquet") for k in keys)
    assert s3_revisions(url, s3_endpoint_url) == truth(sim)
    # AND the re-run adds nothing
    assert again.objects_written == 0
    assert again.objects_existing == first.objects_written
    assert boto_keys(s3_endpoint_url, s3_bucket) == keys


def test_reprocess_errors_in_s3(
    sim: Path, s3_endpoint_url: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a run whose Lambda responses were capped too low: many records fail
    url = f"s3://{s3_bucket}"
    monkeypatch.setenv("QLDB_ARCHIVE_MAX_RESPONSE_BYTES", "700000")
    first = run_local_firehose(events(sim), url, endpoint_url=s3_endpoint_url)
    assert first.failed > 0
    failed = list(read_failed_records(url, endpoint_url=s3_endpoint_url))
    assert len(failed) == first.failed
    originals = {r["data"] for e in events(sim) for r in e["records"]}
    assert {base64.b64encode(f.raw_data).decode() for f in failed} <= originals
    # WHEN the cause is removed and the errors are re-run
    monkeypatch.delenv("QLDB_ARCHIVE_MAX_RESPONSE_BYTES")
    summary = reprocess_errors(url, endpoint_url=s3_endpoint_url)
    # THEN every record is archived and the error objects are moved aside, not deleted
    assert (summary.recovered, summary.still_failed) == (first.failed, 0)
    assert boto_keys(s3_endpoint_url, s3_bucket, PROCESSING_FAILED + "/") == []
    assert len(boto_keys(s3_endpoint_url, s3_bucket, REPROCESSED + "/")) == summary.objects
    assert s3_revisions(url, s3_endpoint_url) == truth(sim)


def test_backfill_from_s3_export_to_s3(sim: Path, s3_endpoint_url: str, s3_bucket: str) -> None:
    # GIVEN a journal export uploaded to S3 as QLDB wrote it
    client: Any = boto3.client("s3", endpoint_url=s3_endpoint_url, region_name="us-east-1")
    export = sim / "export"
    for path in sorted(p for p in export.rglob("*") if p.is_file()):
        rel = path.relative_to(export).as_posix()
        client.put_object(Bucket=s3_bucket, Key=f"journalExport/{rel}", Body=path.read_bytes())
    src, dest = f"s3://{s3_bucket}/journalExport", f"s3://{s3_bucket}/archive"
    # WHEN it is backfilled, twice
    first = backfill(src, dest, endpoint_url=s3_endpoint_url)
    again = backfill(src, dest, endpoint_url=s3_endpoint_url)
    # THEN the archive holds exactly the journal's revisions, and the re-run adds nothing
    assert first.failed == 0
    assert first.export_objects > 0
    assert not first.problems
    assert s3_revisions(dest, s3_endpoint_url) == truth(sim)
    assert again.objects_written == 0
    assert again.objects_existing == first.objects_written

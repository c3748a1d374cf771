"""A restore split across workers: planned once, each shard restored by its own worker, from a folder or S3.

Expected values come from the simulator's truth (truth/history.jsonl) and `restore.plan.in_shard`
(the hash `--shard` has always used); the split is planned on the local engine, which runs the
same SQL as Athena (tests/unit/athena/test_remote.py checks the Athena side of that claim).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from athena.local import LocalEngine
from athena.remote import AthenaEngine, render_unload
from firehose_transform.storage import open_location
from qldb_archive.cli import app
from restore.errors import GapError, RestoreError
from restore.identifiers import table_names
from restore.parity import check_parity
from restore.plan import NO_BLOCK_CUT, in_shard
from restore.plan_sql import render_plan_query
from restore.runner import RestoreOptions, run_restore
from restore.split import (
    MANIFEST_KEY,
    AthenaSplitEngine,
    LocalSplitEngine,
    SplitManifest,
    SplitOptions,
    read_split,
    split_archive,
)
from restore.targets import open_target
from tests.integration.test_restore_acceptance import (
    TABLES,
    _archive_without,
    assert_current_equals,
    assert_history_equals,
    expected_current,
    middle_version,
)
from tests.unit.athena.test_remote import _queue_result

if TYPE_CHECKING:
    from tests.integration.conftest import SimulatedArchive


def split_locally(
    archive: Path | str, output: str, options: SplitOptions, endpoint_url: str | None = None
) -> SplitManifest:
    location = open_location(output, endpoint_url=endpoint_url)
    with LocalEngine.open(archive) as engine:
        engine.index_history()
        return split_archive(LocalSplitEngine(engine, location), location, options, archive=str(archive))


def test_each_worker_restores_its_shard_and_together_they_equal_the_truth(
    simulated_archive: SimulatedArchive, target_url: str, tmp_path: Path
) -> None:
    # GIVEN the archive split into 3 shards
    truth = simulated_archive.truth("history")
    output = str(tmp_path / "split")
    manifest = split_locally(simulated_archive.archive, output, SplitOptions(shards=3))
    assert manifest.shards == 3
    assert manifest.gaps == ()
    assert manifest.block_cut is None
    assert {t.table_name: t.revisions for t in manifest.tables} == {
        table: sum(1 for t in truth if t["table"] == table) for table in TABLES
    }
    # WHEN one worker per shard restores it, with history, into the same database
    reports = [run_restore(output, target_url, RestoreOptions(history=True, shard=(i, 3))) for i in (1, 2, 3)]
    # THEN each applied only its own documents, and every revision was applied once; into MariaDB
    # and PostgreSQL each loaded its documents in bulk (none of them was in the tables yet)
    assert all(r.completed for r in reports)
    with open_target(target_url) as target:
        bulk = target.capabilities.bulk_insert
    assert [r.method for r in reports] == ["bulk load" if bulk else "document order"] * 3
    assert sorted(r.revisions_applied for r in reports) != [0, 0, len(truth)]
    assert sum(r.revisions_applied for r in reports) == len(truth)
    with open_target(target_url) as target:
        # AND the current tables equal the truth's final state
        assert_current_equals(target, expected_current(truth))
        # AND the history tables hold every revision once
        assert_history_equals(target, truth)


def test_shards_hold_the_documents_of_their_hash_range_with_every_copy(
    simulated_archive: SimulatedArchive, tmp_path: Path
) -> None:
    # GIVEN the archive split into 4 shards
    split_locally(simulated_archive.archive, str(tmp_path / "split"), SplitOptions(shards=4))
    with LocalEngine.open(simulated_archive.archive) as engine:
        archived = engine.query("SELECT doc_id FROM main.revisions").column("doc_id").to_pylist()
    seen: list[str] = []
    for i in (1, 2, 3, 4):
        rows = ds.dataset(tmp_path / "split" / "revisions" / f"p_shard={i}", format="parquet").to_table()
        docs = rows.column("doc_id").to_pylist()
        # THEN every row of shard i is a document the restore's --shard i/4 takes
        assert docs
        assert all(in_shard(d, (i, 4)) for d in docs)
        seen += docs
    # AND together they hold every archived row, duplicate copies included
    assert sorted(seen) == sorted(archived)


def test_a_split_on_s3_restores_from_s3(
    simulated_archive: SimulatedArchive, s3_bucket: str, s3_endpoint_url: str, sqlite_url: str
) -> None:
    # GIVEN the split written to an S3 prefix
    truth = simulated_archive.truth("history")
    output = f"s3://{s3_bucket}/work/split"
    split_locally(simulated_archive.archive, output, SplitOptions(shards=2), endpoint_url=s3_endpoint_url)
    keys = open_location(output, endpoint_url=s3_endpoint_url).list_keys()
    assert MANIFEST_KEY in keys
    assert any(k.startswith("revisions/p_shard=2/") for k in keys)
    # WHEN each worker restores its shard from S3
    for i in (1, 2):
        run_restore(output, sqlite_url, RestoreOptions(shard=(i, 2)), endpoint_url=s3_endpoint_url)
    # THEN the database equals the truth
    with open_target(sqlite_url) as target:
        assert_current_equals(target, expected_current(truth))


def test_a_split_at_a_point_in_time_restores_that_state(
    simulated_archive: SimulatedArchive, sqlite_url: str, tmp_path: Path
) -> None:
    truth = simulated_archive.truth("history")
    block = sorted({t["block_seq"] for t in truth})[len(truth) // 3]
    output = str(tmp_path / "split")
    manifest = split_locally(simulated_archive.archive, output, SplitOptions(shards=2, as_of_block=block))
    assert manifest.block_cut == block
    for i in (1, 2):
        run_restore(output, sqlite_url, RestoreOptions(shard=(i, 2)))
    with open_target(sqlite_url) as target:
        assert_current_equals(target, expected_current(truth, block))


def test_gaps_refuse_the_split_and_each_worker_reports_its_own(
    simulated_archive: SimulatedArchive, new_sqlite_url: object, tmp_path: Path
) -> None:
    # GIVEN an archive from which one middle version of a document was lost
    truth = simulated_archive.truth("history")
    victim = middle_version(truth)
    archive = _archive_without(simulated_archive, tmp_path, victim["doc_id"], 1)
    # WHEN it is split THEN the split stops, naming the document, and writes nothing
    output = tmp_path / "split"
    with pytest.raises(GapError, match=victim["doc_id"]):
        split_locally(archive, str(output), SplitOptions(shards=2))
    assert not output.exists() or not any(output.rglob("*"))
    # AND a dry run (on the CLI) names the hole and the refusal, exit 1, and writes nothing either
    dry = CliRunner().invoke(
        app, ["restore-split", str(output), "--shards", "2", "--archive", str(archive), "--dry-run"]
    )
    assert dry.exit_code == 1, dry.output
    assert "would split" in dry.output
    assert f"gap: missing versions: {victim['table']}/{victim['doc_id']}" in dry.output
    assert "refused" in dry.output
    assert not output.exists() or not any(output.rglob("*"))
    # AND with --allow-gaps the manifest keeps both views of the hole, found over the whole archive
    manifest = split_locally(archive, str(output), SplitOptions(shards=2, allow_gaps=True))
    assert sorted(g.kind for g in manifest.gaps) == ["missing_revision", "missing_versions"]
    # AND the worker of the victim's shard refuses, naming the lost revision; the other restores
    mine = 1 if in_shard(victim["doc_id"], (1, 2)) else 2
    url = new_sqlite_url()  # type: ignore[operator]
    with pytest.raises(GapError) as caught:
        run_restore(str(output), url, RestoreOptions(shard=(mine, 2)))
    assert victim["doc_id"] in str(caught.value)
    other = run_restore(str(output), url, RestoreOptions(shard=(3 - mine, 2)))
    assert other.completed
    assert other.gaps == []
    report = run_restore(str(output), url, RestoreOptions(shard=(mine, 2), allow_gaps=True))
    assert sorted(g.kind for g in report.gaps) == ["missing_revision", "missing_versions"]
    assert victim["revision_hash"] in " ".join(g.detail for g in report.gaps)
    # AND those missing revisions are the split's: a worker does not check every shard's block
    # summaries again (it would find every other shard's revisions missing from its own rows)
    manifest_path = output / MANIFEST_KEY
    doc = json.loads(manifest_path.read_text())
    doc["gaps"] = [g for g in doc["gaps"] if g["kind"] != "missing_revision"]
    manifest_path.write_text(json.dumps(doc))
    again = run_restore(str(output), new_sqlite_url(), RestoreOptions(shard=(mine, 2), allow_gaps=True))  # type: ignore[operator]
    assert [g.kind for g in again.gaps] == ["missing_versions"]


def test_a_worker_must_use_the_split_shard_count_and_a_split_needs_an_empty_output(
    simulated_archive: SimulatedArchive, sqlite_url: str, tmp_path: Path
) -> None:
    output = str(tmp_path / "split")
    split_locally(simulated_archive.archive, output, SplitOptions(shards=3))
    with pytest.raises(RestoreError, match=r"split into 3 shard\(s\): restore each with --shard i/3"):
        run_restore(output, sqlite_url, RestoreOptions())
    with pytest.raises(RestoreError, match="already holds objects"):
        split_locally(simulated_archive.archive, output, SplitOptions(shards=3))
    with pytest.raises(RestoreError, match="1 to 100"):
        SplitOptions(shards=101)
    with pytest.raises(RestoreError, match=r"is a restore split .* against the archive"):
        check_parity(output, sqlite_url)
    manifest = Path(output) / MANIFEST_KEY
    doc = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**doc, "version": 99}))
    with pytest.raises(RestoreError, match="version 99 split"):
        run_restore(output, sqlite_url, RestoreOptions(shard=(1, 3)))


def test_cli_splits_and_says_how_to_restore(simulated_archive: SimulatedArchive, tmp_path: Path) -> None:
    runner = CliRunner()
    output = str(tmp_path / "split")
    args = ["restore-split", output, "--shards", "2", "--archive", str(simulated_archive.archive)]
    result = runner.invoke(app, [*args, "--table", "Person"])
    assert result.exit_code == 0, result.output
    assert f"qldb-archive restore {output} TARGET --shard i/2" in result.output
    truth = simulated_archive.truth("history")
    people = {t["doc_id"] for t in truth if t["table"] == "Person"}
    assert f"Person: {len(people)} documents" in result.output
    assert "Vehicle" not in result.output
    db = tmp_path / "p.db"
    for i in (1, 2):
        restored = runner.invoke(app, ["restore", output, f"sqlite:///{db}", "--shard", f"{i}/2", "-q"])
        assert restored.exit_code == 0, restored.output
    with open_target(f"sqlite:///{db}") as target:
        names = table_names(["Person"], target.capabilities.identifiers)
        restored_ids = {row.doc_id for row in target.fetch_current(names["Person"])}
    assert restored_ids == {d for d, t in expected_current(truth).items() if t["table"] == "Person"}
    # unusable input: exit 2, with what to do
    both = runner.invoke(app, [*args[:4], "--archive", "x", "--athena-database", "db"])
    assert both.exit_code == 2
    assert "one of them" in both.output
    athena_local = runner.invoke(
        app, ["restore-split", str(tmp_path / "o"), "--shards", "2", "--athena-database", "db"]
    )
    assert athena_local.exit_code == 2
    assert "s3:// OUTPUT" in athena_local.output


def test_a_shard_written_as_athena_writes_it_reads_the_same(
    simulated_archive: SimulatedArchive, sqlite_url: str, tmp_path: Path
) -> None:
    # GIVEN a split whose objects are as another writer may leave them: no .parquet suffix,
    # INT96 zone-less timestamps (Hive's default), columns in another order, a _SUCCESS marker
    truth = simulated_archive.truth("history")
    output = tmp_path / "split"
    split_locally(simulated_archive.archive, str(output), SplitOptions(shards=2))
    for path in [*output.rglob("*.parquet")]:
        table = pq.read_table(path)
        fields = [
            pa.field(f.name, pa.timestamp("ns")) if pa.types.is_timestamp(f.type) else f for f in table.schema
        ]
        table = table.cast(pa.schema(fields)).select(sorted(table.column_names))
        pq.write_table(table, path.with_suffix(""), use_deprecated_int96_timestamps=True)
        path.unlink()
        (path.parent / "_SUCCESS").write_bytes(b"")
    # WHEN each worker restores its shard THEN the database equals the truth, times included
    for i in (1, 2):
        run_restore(str(output), sqlite_url, RestoreOptions(shard=(i, 2)))
    with open_target(sqlite_url) as target:
        assert_current_equals(target, expected_current(truth))


@pytest.mark.parametrize("server", ["mysql", "postgresql"])
def test_workers_started_together_share_one_database(
    simulated_archive: SimulatedArchive, request: pytest.FixtureRequest, tmp_path: Path, server: str
) -> None:
    # GIVEN a split into 3 shards and an empty database
    truth = simulated_archive.truth("history")
    output = str(tmp_path / "split")
    split_locally(simulated_archive.archive, output, SplitOptions(shards=3))
    url = request.getfixturevalue(f"{server}_url")
    # WHEN the three workers start at the same moment (all creating the same tables)
    start = threading.Barrier(3)

    def worker(i: int) -> tuple[int, str]:
        start.wait()
        report = run_restore(output, url, RestoreOptions(history=True, shard=(i, 3)))
        return report.revisions_applied, report.method

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(worker, (1, 2, 3)))
    # THEN every one completes, each loading its own documents in bulk into the shared tables
    assert sum(applied for applied, _ in results) == len(truth)
    assert [method for _, method in results] == ["bulk load"] * 3
    # AND the database equals the truth, every parity index in place
    with open_target(url) as target:
        assert_current_equals(target, expected_current(truth))
        assert_history_equals(target, truth)


@pytest.mark.parametrize("server", ["mysql", "postgresql"])
def test_a_shard_is_empty_until_its_documents_are_in(
    simulated_archive: SimulatedArchive, request: pytest.FixtureRequest, tmp_path: Path, server: str
) -> None:
    # GIVEN the first of 3 shards restored
    output = str(tmp_path / "split")
    split_locally(simulated_archive.archive, output, SplitOptions(shards=3))
    url = request.getfixturevalue(f"{server}_url")
    run_restore(output, url, RestoreOptions(history=True, shard=(1, 3)))
    with open_target(url) as target:
        names = list(table_names(TABLES, target.capabilities.identifiers).values())
        # THEN the tables hold rows, of shard 1 and of no other shard
        assert not target.is_empty(names, history=True)
        assert not target.is_empty(names, history=True, shard=(1, 3))
        assert target.is_empty(names, history=True, shard=(2, 3))
        assert target.is_empty(names, history=True, shard=(3, 3))
    # AND the worker of shard 2 still loads its documents in bulk
    assert run_restore(output, url, RestoreOptions(history=True, shard=(2, 3))).method == "bulk load"
    # AND into a database an earlier restore of the whole archive filled, a worker loads nothing
    # twice: its documents are there, so it applies under the version guard
    filled = request.getfixturevalue(f"new_{server}_url")()
    run_restore(simulated_archive.archive, filled, RestoreOptions(history=True))
    late = run_restore(output, filled, RestoreOptions(history=True, shard=(3, 3)))
    assert late.method == "document order"
    with open_target(filled) as target:
        assert_history_equals(target, simulated_archive.truth("history"))


def test_a_split_planned_on_athena_asks_the_plan_then_unloads_the_shards(
    s3_bucket: str, s3_endpoint_url: str
) -> None:
    # moto's Athena, on the same moto server as S3
    moto_athena = boto3.client("athena", endpoint_url=s3_endpoint_url, region_name="us-east-1")
    workgroup = f"restore-{s3_bucket}"
    moto_athena.create_work_group(Name=workgroup, Configuration={})

    def answer(rows: Sequence[Sequence[str | None]], columns: list[tuple[str, str]]) -> None:
        _queue_result(rows, columns, api=s3_endpoint_url)

    # GIVEN Athena's answers to the plan's questions (moto's Athena runs no SQL: they are queued)
    plan_columns = ["table_name", "documents", "revisions", "deletes", "redactions"]
    plan_columns += ["duplicate_copies", "conflicts", "first_block", "last_block"]
    types = [(c, "bigint" if c != "table_name" else "varchar") for c in plan_columns]
    answer([plan_columns, ["Person", "3", "7", "1", "0", "2", "0", "4", "90"]], types)
    for columns in (["table_name", "doc_id", "version"], ["table_name", "doc_id"], ["table_name", "doc_id"]):
        answer([columns], [(c, "varchar") for c in columns])  # no conflict, no gap
    answer(
        [["first_block", "last_block"], ["1", "90"]], [("first_block", "bigint"), ("last_block", "bigint")]
    )
    answer([["block_seq", "doc_id"]], [("block_seq", "bigint"), ("doc_id", "varchar")])
    url = f"s3://{s3_bucket}/split"
    output = open_location(url, endpoint_url=s3_endpoint_url)
    # WHEN a split into 4 shards is planned on Athena
    athena = AthenaEngine(moto_athena, workgroup, "qldb", poll_seconds=0)
    manifest = split_archive(
        AthenaSplitEngine(athena, output), output, SplitOptions(shards=4), archive="athena:qldb"
    )
    # THEN Athena was asked the plan's questions, then unloaded the shards and the block summaries
    runs = [
        moto_athena.get_query_execution(QueryExecutionId=q)["QueryExecution"]
        for q in moto_athena.list_query_executions(WorkGroup=workgroup)["QueryExecutionIds"]
    ]
    sent = {r["Query"]: r.get("ExecutionParameters", []) for r in runs}
    revisions = render_unload(
        render_plan_query("split_revisions", database="qldb"),
        output=f"{url}/revisions/",
        partitioned_by=["p_shard"],
    )
    everything = "CAST(ARRAY[] AS ARRAY(VARCHAR))"
    assert sent[revisions] == ["4", "4", "4", str(NO_BLOCK_CUT), everything, everything]
    blocks = render_unload(render_plan_query("split_blocks", database="qldb"), output=f"{url}/blocks/")
    assert sent[blocks] == [str(NO_BLOCK_CUT)]
    assert sent[render_plan_query("plan_tables", database="qldb")] == [
        str(NO_BLOCK_CUT),
        everything,
        everything,
    ]
    assert len(runs) == 8
    # AND the manifest, written last, holds Athena's answers
    assert [(t.table_name, t.documents, t.revisions) for t in manifest.tables] == [("Person", 3, 7)]
    assert manifest.engine == "athena"
    assert manifest.gaps == ()
    assert output.exists(MANIFEST_KEY)
    assert read_split(url, endpoint_url=s3_endpoint_url) == manifest


def test_an_empty_shard_restores_nothing_and_an_empty_or_unfinished_archive_is_refused(
    simulated_archive: SimulatedArchive, sqlite_url: str, tmp_path: Path
) -> None:
    # GIVEN one table's documents split over 100 shards: most shards hold none
    truth = simulated_archive.truth("history")
    vehicles = {t["doc_id"] for t in truth if t["table"] == "Vehicle"}
    output = tmp_path / "split"
    split_locally(simulated_archive.archive, str(output), SplitOptions(shards=100, tables=("Vehicle",)))
    empty = next(i for i in range(1, 101) if not any(in_shard(d, (i, 100)) for d in vehicles))
    # WHEN an empty shard's worker runs THEN it completes, having applied nothing
    report = run_restore(str(output), sqlite_url, RestoreOptions(shard=(empty, 100)))
    assert report.completed
    assert report.revisions_applied == 0
    # AND a split whose manifest is missing (it did not finish) is refused, saying so
    (output / MANIFEST_KEY).unlink()
    with pytest.raises(RestoreError, match="did not finish; split again"):
        run_restore(str(output), sqlite_url, RestoreOptions(shard=(empty, 100)))
    # AND so is a folder with no archive in it, saying what to give instead
    (tmp_path / "nothing").mkdir()
    with pytest.raises(RestoreError, match=r"no archived revisions under .* give the archive's root"):
        run_restore(str(tmp_path / "nothing"), sqlite_url, RestoreOptions())

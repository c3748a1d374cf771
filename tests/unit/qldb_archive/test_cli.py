"""The command line as a user meets it: help, exit codes, error lines, JSON output, docs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qldb_archive.cli import app
from qldb_archive.cli_docs import render_cli_docs

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner()
COMMANDS = [
    "simulate",
    "verify",
    "archive",
    "backfill",
    "reprocess-errors",
    "query",
    "history",
    "current",
    "demo",
]


def test_top_level_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_has_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example: qldb-archive " + command in result.output


def test_cli_reference_is_current() -> None:
    current = (REPO / "docs" / "cli.md").read_text()
    assert current == render_cli_docs(), "docs/cli.md is stale: run `make docs`"


def test_verify_real_aws_cli_outputs_exit_0(qldb_real: Path) -> None:
    aws = qldb_real / "aws-cli"
    result = runner.invoke(
        app,
        [
            "verify",
            str(aws / "get-block.output.json"),
            str(aws / "get-revision.output.json"),
            str(aws / "get-digest.output.json"),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output


def test_verify_a_tampered_revision_exits_1(qldb_real: Path, tmp_path: Path) -> None:
    doc = json.loads((qldb_real / "aws-cli" / "get-revision.output.json").read_text())
    doc["Revision"]["IonText"] = doc["Revision"]["IonText"].replace("Everett", "Everest")
    bad = tmp_path / "get-revision.json"
    bad.write_text(json.dumps(doc))
    result = runner.invoke(app, ["verify", str(bad), "--json", "--quiet"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert "JUJgkIcNbhS2goq8RqLuZ4" in json.dumps(report)


def test_unusable_input_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ion"
    junk.write_bytes(b"\xe0\x01\x00\xea\xff\xff")
    exe = shutil.which("qldb-archive", path=str(Path(sys.executable).parent))
    assert exe is not None
    proc = subprocess.run([exe, "verify", str(junk), "--quiet"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ")
    assert "junk.ion" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_path_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["verify", str(tmp_path / "nope"), "--quiet"])
    assert result.exit_code == 2
    assert "nope" in result.output


def test_simulate_then_verify_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    sim = runner.invoke(app, ["simulate", str(out), "--revisions", "300", "--seed", "3", "--quiet", "--json"])
    assert sim.exit_code == 0, sim.output
    for what in ("kinesis", "firehose", "export"):
        result = runner.invoke(app, ["verify", str(out / what), "--quiet"])
        assert result.exit_code == 0, (what, result.output)


def test_simulate_rejects_an_unknown_output(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", str(tmp_path), "--outputs", "kinesis,parquet"])
    assert result.exit_code == 2
    assert "parquet" in result.output


def test_archive_then_backfill_through_the_cli(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    assert runner.invoke(app, ["simulate", str(sim), "--revisions", "200", "--quiet"]).exit_code == 0
    first = runner.invoke(app, ["archive", str(sim), str(tmp_path / "arch"), "--json", "--quiet"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["failed"] == 0
    assert summary["rows"]["REVISION_DETAILS"] >= 200  # duplicates included
    again = json.loads(
        runner.invoke(app, ["archive", str(sim), str(tmp_path / "arch"), "--json", "-q"]).stdout
    )
    assert again["objects_written"] == 0  # idempotent
    back = runner.invoke(app, ["backfill", str(sim / "export"), str(tmp_path / "bf"), "--json", "--quiet"])
    assert back.exit_code == 0, back.output
    assert json.loads(back.stdout)["rows"]["REVISION_DETAILS"] == 200
    assert runner.invoke(app, ["reprocess-errors", str(tmp_path / "arch"), "--quiet"]).exit_code == 0


def test_archive_of_a_folder_without_events_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["archive", str(tmp_path), str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 2
    assert "no Firehose events" in result.output


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A simulated ledger (its truth/) and its Parquet archive."""
    sim = tmp_path_factory.mktemp("sim")
    assert (
        runner.invoke(app, ["simulate", str(sim), "--revisions", "300", "--seed", "5", "-q"]).exit_code == 0
    )
    arch = sim / "archive"
    assert runner.invoke(app, ["archive", str(sim), str(arch), "-q"]).exit_code == 0
    return sim, arch


def _truth(sim: Path, name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (sim / "truth" / name).read_text().splitlines()]


def test_current_lists_the_truths_final_state(archived: tuple[Path, Path]) -> None:
    sim, arch = archived
    result = runner.invoke(app, ["current", "--archive", str(arch), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    expected = {(t["doc_id"], t["version"]) for t in _truth(sim, "final.jsonl")}
    assert {(r["doc_id"], r["version"]) for r in rows} == expected


def test_history_of_one_document(archived: tuple[Path, Path]) -> None:
    sim, arch = archived
    truth = _truth(sim, "history.jsonl")
    doc = max(truth, key=lambda t: int(str(t["version"])))
    result = runner.invoke(
        app, ["history", str(doc["table"]), str(doc["doc_id"]), "-a", str(arch), "-f", "csv"]
    )
    assert result.exit_code == 0, result.output
    versions = [line.split(",")[3] for line in result.stdout.splitlines()[1:]]
    expected = sorted(int(str(t["version"])) for t in truth if t["doc_id"] == doc["doc_id"])
    assert [int(v) for v in versions] == expected


def test_query_runs_athena_sql_and_bad_sql_is_exit_2(archived: tuple[Path, Path]) -> None:
    _, arch = archived
    ok = runner.invoke(app, ["query", "SELECT count(*) AS n FROM history", "-a", str(arch), "-f", "json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["n"] == 300
    bad = runner.invoke(app, ["query", "SELECT nope FROM current"], env={"QLDB_ARCHIVE_URL": str(arch)})
    assert bad.exit_code == 2
    assert "nope" in bad.output


def test_current_point_in_time_options(archived: tuple[Path, Path], tmp_path: Path) -> None:
    _, arch = archived
    both = runner.invoke(
        app, ["current", str(arch), "--as-of-block", "5", "--as-of-time", "2019-12-11T07:00:00Z"]
    )
    assert both.exit_code == 2
    out = tmp_path / "early.parquet"
    early = runner.invoke(
        app, ["current", "-a", str(arch), "--as-of-block", "40", "-f", "parquet", "-o", str(out)]
    )
    assert early.exit_code == 0, early.output
    import pyarrow.parquet as pq

    assert all(b <= 40 for b in pq.read_table(out).column("block_seq").to_pylist())
    assert runner.invoke(app, ["current", "-a", str(arch), "-f", "parquet"]).exit_code == 2  # needs --output


def test_athena_sql_prints_statements_that_parse_as_athena() -> None:
    import sqlglot

    result = runner.invoke(app, ["athena", "sql", "--database", "dmv", "--location", "s3://b/archive/"])
    assert result.exit_code == 0, result.output
    statements = [s for s in sqlglot.parse(result.stdout, read="athena") if s is not None]
    assert len(statements) >= 5
    assert "s3://b/archive/" in result.stdout


def test_athena_deploy_dry_run_calls_no_aws_and_shows_every_step() -> None:
    args = ["athena", "deploy", "--location", "s3://a/qldb/", "--results", "s3://r/athena/", "--dry-run"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)
    assert {s["kind"] for s in steps} >= {"workgroup", "database", "table", "view", "named_query"}
    assert all(s["action"] == "planned" for s in steps)
    text = runner.invoke(app, args).stdout
    assert "EncryptionConfiguration" in text  # results are encrypted by default
    assert "CREATE EXTERNAL TABLE IF NOT EXISTS" in text


def test_athena_typed_prints_a_view_that_parses(archived: tuple[Path, Path]) -> None:
    import sqlglot

    _, arch = archived
    result = runner.invoke(
        app, ["athena", "typed", "VehicleRegistration", "-a", str(arch), "--database", "dmv"]
    )
    assert result.exit_code == 0, result.output
    statement = sqlglot.parse_one(result.stdout, read="athena")
    assert statement is not None
    assert "PendingPenaltyTicketAmount" in result.stdout


def test_archive_is_required_for_local_queries() -> None:
    result = runner.invoke(app, ["current"], env={"QLDB_ARCHIVE_URL": ""})
    assert result.exit_code == 2
    assert "--archive" in result.output


def test_restore_and_parity_read_archive_and_target_from_the_environment(
    archived: tuple[Path, Path], tmp_path: Path
) -> None:
    # GIVEN the archive and the database URL only in the environment (as the jobs inject them)
    env = {"QLDB_ARCHIVE_URL": str(archived[1]), "QLDB_ARCHIVE_TARGET_URL": f"sqlite:///{tmp_path}/env.db"}
    # WHEN restore and parity run with no arguments THEN both use them
    restored = runner.invoke(app, ["restore", "-q"], env=env)
    assert restored.exit_code == 0, restored.output
    assert (tmp_path / "env.db").is_file()
    checked = runner.invoke(app, ["parity", "--json", "-q"], env=env)
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["equal"] is True
    # AND without them, the error names the variable to set
    missing = runner.invoke(app, ["parity"], env={"QLDB_ARCHIVE_URL": "", "QLDB_ARCHIVE_TARGET_URL": ""})
    assert missing.exit_code == 2
    assert "Missing argument 'archive'" in missing.output


def test_restore_takes_a_memory_limit_and_refuses_one_it_cannot_read(
    archived: tuple[Path, Path], tmp_path: Path
) -> None:
    # GIVEN a small machine's limit THEN the restore runs within it
    small = runner.invoke(
        app, ["restore", str(archived[1]), f"sqlite:///{tmp_path}/small.db", "-q", "--memory-limit", "96MB"]
    )
    assert small.exit_code == 0, small.output
    # AND a limit that is not a size stops it before anything is written, saying how to write one
    bad = runner.invoke(
        app, ["restore", str(archived[1]), f"sqlite:///{tmp_path}/bad.db", "-q", "--memory-limit", "lots"]
    )
    assert bad.exit_code == 2
    assert "--memory-limit" in bad.output
    assert "512MB" in bad.output
    assert not (tmp_path / "bad.db").exists()

"""Restore into a new QLDB ledger: simulated ledger -> archive -> ``qldb://`` -> the QLDB session double.

QLDB is retired, so the "new ledger" is the local test double of the QLDB session API
(`tests.qldb_double`), run as its own process by the qldb environment's Python, and reached by
the real pyqldb driver in the target's worker. Expected contents come from the simulator's truth
(truth/history.jsonl: every revision with its Ion data), compared as Ion values with amazon-ion's
own equivalence; the ledger is read from the double's state, not through the target.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from amazon.ion import simpleion
from amazon.ion.equivalence import ion_equals
from typer.testing import CliRunner

from qldb_archive.cli import app
from restore.errors import RestoreError, TerminalTargetError, UnsupportedTargetError
from restore.runner import RestoreOptions, run_restore
from restore.targets.qldb import SOURCE_ID, SOURCE_VERSION, QldbTarget
from tests.integration.conftest import SimulatedArchive, archive_simulation

REPO = Path(__file__).resolve().parents[2]
HOSTILE = 'Robert"); DROP TABLE "Person";--'


@pytest.fixture(scope="session")
def qldb_python() -> Path:
    """The qldb environment's Python (`make qldb-env`); `QLDB_ARCHIVE_TEST_QLDB_PYTHON` names another."""
    python = Path(os.environ.get("QLDB_ARCHIVE_TEST_QLDB_PYTHON", REPO / ".venv-qldb" / "bin" / "python"))
    if not python.exists():
        message = f"no qldb environment at {python}; run `make qldb-env` or set QLDB_ARCHIVE_TEST_QLDB_PYTHON"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return python


@pytest.fixture
def double_url(qldb_python: Path, aws_credentials: None) -> Iterator[str]:
    """A QLDB session double with an empty ledger ``restored``, in its own process."""
    proc = subprocess.Popen(
        [str(qldb_python), "-m", "tests.qldb_double", "restored"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    line = proc.stdout.readline()
    try:
        assert line.startswith("listening on "), line
        yield line.split()[-1]
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory: pytest.TempPathFactory) -> SimulatedArchive:
    """300 revisions with duplicates, reordering, deletes and redactions in every table (seed 3)."""
    return archive_simulation(tmp_path_factory.mktemp("qldb"), revisions=300, seed=3)


def target_url(double: str, python: Path) -> str:
    return f"qldb://restored?region=us-east-1&endpoint_url={double}&python={python}"


def ledger_state(double: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{double}/double/state", timeout=30) as response:
        state: dict[str, Any] = json.load(response)["ledgers"]["restored"]
    return state


def new_ledger_revisions(double: str, table: str) -> dict[str, list[tuple[int, Any]]]:
    """source doc id -> [(version, data)] of the new ledger's table, from the double's state."""
    out: dict[str, list[tuple[int, Any]]] = {}
    for revs in ledger_state(double)["tables"][table]["revisions"].values():
        datas = [None if r["data"] is None else simpleion.loads(base64.b64decode(r["data"])) for r in revs]
        source = next(str(d[SOURCE_ID]) for d in datas if d is not None)
        assert source not in out, f"two documents of the new ledger hold source document {source}"
        out[source] = [(r["version"], d) for r, d in zip(revs, datas, strict=True)]
    return out


def assert_ledger_equals_truth(sim: SimulatedArchive, double: str, table_map: dict[str, str]) -> None:
    """Every source revision is one revision of the new ledger, holding exactly its data."""
    truth = sim.truth("history")
    for table in sorted({t["table"] for t in truth}):
        got = new_ledger_revisions(double, table_map.get(table, table))
        expected = sorted(
            (t for t in truth if t["table"] == table), key=lambda t: (t["doc_id"], t["version"])
        )
        assert set(got) == {t["doc_id"] for t in expected}, table
        for t in expected:
            version, data = got[t["doc_id"]][t["version"]]
            assert version == t["version"]
            if t["kind"] == "deleted":
                assert data is None
                continue
            want = simpleion.loads("{}" if t["kind"] == "redacted" else t["data"])
            want[SOURCE_ID], want[SOURCE_VERSION] = t["doc_id"], t["version"]
            assert ion_equals(data, simpleion.loads(simpleion.dumps(want))), (
                table,
                t["doc_id"],
                t["version"],
            )
        assert len([r for revs in got.values() for r in revs]) == len(expected)


def test_cli_restore_into_a_new_ledger_equals_the_truth(
    small_archive: SimulatedArchive, double_url: str, qldb_python: Path
) -> None:
    # GIVEN an archive with duplicates, reordering, deletes and redactions, and a hostile table name
    runner = CliRunner()
    args = ["restore", str(small_archive.archive), target_url(double_url, qldb_python)]
    args += ["--table-map", f"Person={HOSTILE}", "--json", "--quiet"]
    # WHEN it is restored into a new (double) ledger
    result = runner.invoke(app, args)
    # THEN the restore reports that every current document's data hash equals the archive's
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    final = [t for t in small_archive.truth("final") if t["kind"] != "deleted"]
    assert report["data_hashes"]["ok"] is True
    assert report["data_hashes"]["documents"] == report["data_hashes"]["matched"] == len(final)
    # AND the new ledger holds every source revision once, in order, with exactly its Ion data
    assert_ledger_equals_truth(small_archive, double_url, {"Person": HOSTILE})
    state = ledger_state(double_url)
    assert state["unindexed_lookups"] == 0
    indexes = {name: set(t["indexes"]) for name, t in state["tables"].items()}
    assert indexes[HOSTILE] == {SOURCE_ID, "GovId"}  # CREATE INDEX from the archive's statements
    assert indexes["VehicleRegistration"] == {SOURCE_ID, "VIN", "LicensePlateNumber"}
    # AND a re-run adds nothing
    again = runner.invoke(app, [*args, "--incremental"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["revisions_applied"] == 0
    assert ledger_state(double_url)["tables"] == state["tables"] | {
        "qldb_restore_checkpoint": ledger_state(double_url)["tables"]["qldb_restore_checkpoint"]
    }


def set_faults(double: str, faults: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{double}/double/faults", data=json.dumps(faults).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=30).close()


def test_a_stopped_restore_runs_again_without_writing_twice(
    small_archive: SimulatedArchive, double_url: str, qldb_python: Path
) -> None:
    url = target_url(double_url, qldb_python)
    truth = small_archive.truth("history")
    # GIVEN a restore in one batch whose ledger starts refusing commits half way (no checkpoint yet)
    set_faults(double_url, {"fail_commits_after": 40})
    with pytest.raises(TerminalTargetError, match="commit refused"):
        run_restore(small_archive.archive, url, RestoreOptions(batch_revisions=10_000))
    written = sum(len(d["revisions"]) for d in ledger_state(double_url)["tables"].values())
    assert 0 < written < len(truth)
    # WHEN the ledger takes commits again and the same restore runs again from the start
    set_faults(double_url, {"fail_commits_after": None})
    report = run_restore(small_archive.archive, url, RestoreOptions(batch_revisions=100))
    # THEN the revisions already there are skipped, and every source revision is there exactly once
    assert report.completed
    assert report.data_hashes is not None
    assert report.data_hashes.ok, report.data_hashes.summary_lines()
    assert_ledger_equals_truth(small_archive, double_url, {})
    # AND a run stopped after a checkpoint resumes from it
    set_faults(double_url, {"fail_commits_after": 0})
    with pytest.raises(TerminalTargetError):
        run_restore(small_archive.archive, url, RestoreOptions(incremental=True))
    set_faults(double_url, {"fail_commits_after": None})
    assert run_restore(small_archive.archive, url, RestoreOptions(incremental=True)).completed


def test_no_qldb_environment_names_the_install(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedTargetError, match=r"make qldb-env.*qldb-archive\[qldb\]"):
        QldbTarget(f"qldb://restored?region=us-east-1&python={tmp_path / 'missing' / 'python'}")


def test_a_sharded_ledger_restore_is_refused(
    small_archive: SimulatedArchive, double_url: str, qldb_python: Path
) -> None:
    with pytest.raises(RestoreError, match="whole journal"):
        run_restore(small_archive.archive, target_url(double_url, qldb_python), RestoreOptions(shard=(1, 2)))

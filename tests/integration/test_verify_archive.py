"""Verify the Parquet archive itself: the simulated ledger's hashes, chain and digest, and tampering found.

Expected values: the simulator's truth (its digest at the tip) and the archive as the real
handler wrote it; each tampered copy changes one value of one row.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from typer.testing import CliRunner

from journal.proofs import read_digest_files
from qldb_archive.cli import app
from restore.archive_verify import verify_archive
from tests.integration.test_ledger_postgresql import digest_file

if TYPE_CHECKING:
    from tests.integration.conftest import SimulatedArchive


def tampered(
    archive: Path, tmp_path: Path, record_type: str, change: Callable[[pa.Table], pa.Table | None]
) -> Path:
    """A copy of the archive with the first object of `record_type` that `change` alters rewritten."""
    copy = tmp_path / "tampered"
    shutil.copytree(archive, copy)
    for path in sorted(copy.rglob(f"p_record_type={record_type}/**/*.parquet")):
        changed = change(pq.read_table(path))
        if changed is not None:
            pq.write_table(changed, path)
            return copy
    raise AssertionError("nothing to tamper with")


def first_failure(report: Any) -> dict[str, Any]:
    doc = report.to_json()
    assert not report.ok
    failed = [f for f in doc["findings"] if f["outcome"] == "failed"]
    assert failed, doc["findings"]
    return failed[0]  # type: ignore[no-any-return]


def test_the_archive_verifies_and_its_digest_is_the_ledgers(
    simulated_archive: SimulatedArchive, tmp_path: Path
) -> None:
    digests = read_digest_files([digest_file(simulated_archive, tmp_path)])
    report = verify_archive(simulated_archive.archive, digests=digests)
    assert report.ok, report.summary_lines()
    checks = report.to_json()["checks"]
    assert checks["digest"] == {"status": "passed", "counts": {"passed": 1}, "note": None}
    # every archived copy of every live or redacted revision re-verified from its Ion text
    verified = checks["revision_hash"]["counts"]["passed"]
    assert verified >= sum(1 for t in simulated_archive.truth("history") if t["kind"] != "deleted")
    assert checks["chain"]["status"] == "passed"


def test_a_wrong_digest_fails(simulated_archive: SimulatedArchive, tmp_path: Path) -> None:
    wrong = digest_file(simulated_archive, tmp_path, digest="AAAA" + "B" * 40)
    report = verify_archive(simulated_archive.archive, digests=read_digest_files([wrong]))
    assert first_failure(report)["check"] == "digest"


def test_one_changed_value_in_a_revisions_ion_is_found(
    simulated_archive: SimulatedArchive, tmp_path: Path
) -> None:
    target: dict[str, Any] = {}

    def change(table: pa.Table) -> pa.Table | None:
        ions = table.column("revision_ion").to_pylist()
        for i, text in enumerate(ions):
            if text and 'LastName:"' in text:
                target.update(
                    doc_id=table.column("doc_id")[i].as_py(), version=table.column("version")[i].as_py()
                )
                ions[i] = text.replace('LastName:"', 'LastName:"X', 1)
                column = table.schema.get_field_index("revision_ion")
                return table.set_column(column, "revision_ion", pa.array(ions, pa.string()))
        return None

    copy = tampered(simulated_archive.archive, tmp_path, "revision_details", change)
    failure = first_failure(verify_archive(copy))
    assert failure["check"] == "revision_hash"
    assert failure["doc_id"] == target["doc_id"]
    assert failure["version"] == target["version"]


def test_a_changed_block_hash_breaks_the_chain_at_that_block(
    simulated_archive: SimulatedArchive, tmp_path: Path
) -> None:
    seen: dict[str, int] = {}

    def change(table: pa.Table) -> pa.Table | None:
        hashes = table.column("block_hash").to_pylist()
        seen["block"] = table.column("block_seq")[0].as_py()
        hashes = [
            "A" + h[1:] if pc.equal(table.column("block_seq")[i], seen["block"]).as_py() else h
            for i, h in enumerate(hashes)
        ]
        return table.set_column(
            table.schema.get_field_index("block_hash"), "block_hash", pa.array(hashes, pa.string())
        )

    copy = tampered(simulated_archive.archive, tmp_path, "block_summary", change)
    report = verify_archive(copy)
    failures = [f for f in report.to_json()["findings"] if f["outcome"] == "failed"]
    assert failures
    assert any(f["block"] is not None and f["block"].endswith(f":{seen['block']}") for f in failures), (
        failures
    )


def test_the_cli_verifies_an_archive_folder_with_a_digest(
    simulated_archive: SimulatedArchive, tmp_path: Path
) -> None:
    digest = digest_file(simulated_archive, tmp_path)
    ok = CliRunner().invoke(app, ["verify", str(simulated_archive.archive), str(digest), "--json", "-q"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True
    two = CliRunner().invoke(app, ["verify", str(simulated_archive.archive), str(simulated_archive.archive)])
    assert two.exit_code == 2
    assert "one archive at a time" in two.output

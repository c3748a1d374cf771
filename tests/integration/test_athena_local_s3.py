"""The local Athena engine over an archive in S3 (moto server, over HTTP) equals it over a folder.

Both archives come from the same simulated stream through the local Firehose; the expected side is
the folder's result, itself checked against the simulator's truth in tests/unit/athena.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from athena.local import LocalEngine
from firehose_transform.local_firehose import events_from_path, run_local_firehose
from journal.simulate import SimulationConfig, write_simulation
from restore.identifiers import table_names
from restore.runner import RestoreOptions, run_restore
from restore.targets import open_target


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("athena_s3")
    config = SimulationConfig(revisions=300, seed=11, duplicate_rate=0.05, out_of_order_window=16)
    write_simulation(out / "sim", config, outputs=frozenset({"firehose", "truth"}))
    run_local_firehose(events_from_path(out / "sim"), str(out / "archive"))
    return out


def test_current_and_health_from_s3_equal_the_folder(sim: Path, s3_endpoint_url: str, s3_bucket: str) -> None:
    # GIVEN the same stream archived to a folder and to S3
    url = f"s3://{s3_bucket}/archive"
    summary = run_local_firehose(events_from_path(sim / "sim"), url, endpoint_url=s3_endpoint_url)
    assert summary.failed == 0
    # WHEN the local engine reads each
    with (
        LocalEngine.open(sim / "archive") as local,
        LocalEngine.open(url, endpoint_url=s3_endpoint_url) as remote,
    ):
        # THEN the user view, the point-in-time view and the health view are the same
        rows = remote.current().to_pylist()
        assert rows == local.current().to_pylist()
        assert remote.current(as_of_block=40).to_pylist() == local.current(as_of_block=40).to_pylist()
        health = "SELECT * FROM health ORDER BY tx_date, table_name NULLS FIRST"
        assert remote.query(health).to_pylist() == local.query(health).to_pylist()
        assert remote.create_typed_view("Vehicle") == local.create_typed_view("Vehicle")
        typed = "SELECT * FROM vehicle_typed ORDER BY doc_id"
        assert remote.query(typed).to_pylist() == local.query(typed).to_pylist()
    # AND both hold exactly the truth's final documents
    final = [json.loads(line) for line in (sim / "sim" / "truth" / "final.jsonl").read_text().splitlines()]
    assert sorted((r["doc_id"], r["version"]) for r in rows) == sorted(
        (t["doc_id"], t["version"]) for t in final
    )


def test_a_restore_from_s3_equals_one_from_the_folder(
    sim: Path, s3_endpoint_url: str, s3_bucket: str, tmp_path: Path
) -> None:
    # GIVEN the same stream archived to a folder and to S3
    url = f"s3://{s3_bucket}/archive"
    assert run_local_firehose(events_from_path(sim / "sim"), url, endpoint_url=s3_endpoint_url).failed == 0
    # WHEN each is restored with history into a new SQLite database (S3: in one document range;
    # the folder: in ranges of about 40 revisions)
    targets = {"s3": f"sqlite:///{tmp_path}/s3.db", "folder": f"sqlite:///{tmp_path}/folder.db"}
    s3 = run_restore(url, targets["s3"], RestoreOptions(history=True), endpoint_url=s3_endpoint_url)
    folder = run_restore(sim / "archive", targets["folder"], RestoreOptions(history=True, range_revisions=40))
    # THEN both complete with the same counts and leave the same tables
    assert s3.completed
    assert folder.completed
    assert (s3.method, s3.revisions_applied, s3.tables) == (
        folder.method,
        folder.revisions_applied,
        folder.tables,
    )
    states: dict[str, dict[str, tuple[list[Any], list[Any]]]] = {}
    for name, target_url in targets.items():
        with open_target(target_url) as target:
            names = table_names([t.table_name for t in folder.tables], target.capabilities.identifiers)
            states[name] = {
                table: (list(target.fetch_current(n)), list(target.fetch_history(n)))
                for table, n in names.items()
            }
    assert states["s3"] == states["folder"]
    # AND the folder's restore holds the truth's final documents
    final = [json.loads(line) for line in (sim / "sim" / "truth" / "final.jsonl").read_text().splitlines()]
    current = {row.doc_id: row.version for rows, _ in states["folder"].values() for row in rows}
    assert current == {t["doc_id"]: t["version"] for t in final}

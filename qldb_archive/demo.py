"""The demo: every local part of the pipeline in sequence, each step reported with where its output is."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from firehose_transform.local_firehose import events_from_path, run_local_firehose
from journal.simulate import SimulationConfig, write_simulation
from journal.verify import verify_paths
from restore.runner import RestoreOptions, run_restore

if TYPE_CHECKING:
    from journal.progress import ProgressReporter


def run_demo(out: Path, *, revisions: int, echo: Callable[[str], None], progress: ProgressReporter) -> bool:
    """Simulate a ledger into `out`, archive it, restore it into SQLite, verify it; True when all passed."""
    start = time.perf_counter()
    echo(f"1. simulate a DMV ledger ({revisions:,} revisions, duplicates, reordering, KPL aggregation)")
    summary = write_simulation(out, SimulationConfig(revisions=revisions), progress=progress)
    for line in summary.summary_lines():
        echo(f"   {line}")
    echo(f"   written to {out}/ (kinesis/, firehose/, export/, truth/)")

    archive = out / "archive"
    echo("2. archive the stream through the real Firehose Lambda handler into Parquet")
    run = run_local_firehose(events_from_path(out / "firehose"), str(archive), progress=progress)
    rows = ", ".join(f"{n:,} {kind}" for kind, n in sorted(run.rows.items())) or "none new (already archived)"
    echo(f"   {run.records:,} Firehose records: {run.ok:,} ok, {run.failed:,} failed; rows: {rows}")
    echo(f"   written to {archive}/ ({run.objects_written:,} Parquet objects, {run.bytes_written:,} bytes)")
    ok = run.failed == 0

    database = out / "restored.db"
    echo("3. restore the archive into SQLite: current and history tables, de-duplicated, in block order")
    for stale in out.glob("restored.db*"):  # the demo's own output from an earlier run
        stale.unlink()
    restored = run_restore(archive, f"sqlite:///{database}", RestoreOptions(history=True), progress=progress)
    for line in restored.summary_lines()[1:]:
        echo(f"   {line.strip()}")
    echo(f"   written to {database} (`sqlite3 {database} .tables`)")
    ok = ok and restored.completed

    for step, what in ((4, "kinesis"), (5, "export")):
        echo(f"{step}. verify the {what} output: revision hashes, block hashes, chain, digest")
        report = verify_paths([out / what], progress=progress)
        for line in report.summary_lines()[:2]:
            echo(f"   {line}")
        verdict = "all checks passed" if report.ok else "FAILED"
        echo(f"   ({verdict}; `qldb-archive verify {out / what}` for details)")
        ok = ok and report.ok
    elapsed = time.perf_counter() - start
    echo(f"done in {elapsed:.1f} s: {'all checks passed' if ok else 'CHECKS FAILED'}")
    return ok

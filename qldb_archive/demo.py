"""The demo: every local part of the pipeline in sequence, each step reported with where its output is."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from journal.simulate import SimulationConfig, write_simulation
from journal.verify import verify_paths

if TYPE_CHECKING:
    from journal.progress import ProgressReporter


def run_demo(out: Path, *, revisions: int, echo: Callable[[str], None], progress: ProgressReporter) -> bool:
    """Simulate a ledger into `out` and verify it; returns whether every check passed."""
    start = time.perf_counter()
    echo(f"1. simulate a DMV ledger ({revisions:,} revisions, duplicates, reordering, KPL aggregation)")
    summary = write_simulation(out, SimulationConfig(revisions=revisions), progress=progress)
    for line in summary.summary_lines():
        echo(f"   {line}")
    echo(f"   written to {out}/")
    ok = True
    for step, what in ((2, "kinesis"), (3, "export")):
        echo(f"{step}. verify the {what} output: revision hashes, block hashes, chain, digest")
        report = verify_paths([out / what], progress=progress)
        for line in report.summary_lines():
            echo(f"   {line}")
        ok = ok and report.ok
    echo(f"done in {time.perf_counter() - start:.1f} s: {'all checks passed' if ok else 'CHECKS FAILED'}")
    return ok

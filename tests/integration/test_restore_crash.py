"""Crash test: SIGKILL the restore at random points, resume, and reach the ground truth every time."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from restore.identifiers import table_names
from restore.targets import open_target
from tests.integration.test_restore_acceptance import assert_current_equals, expected_current

if TYPE_CHECKING:
    from tests.integration.conftest import SimulatedArchive

RUNS = 10


def _restore(archive: Path, url: str, *extra: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "qldb_archive",
        "restore",
        str(archive),
        url,
        "--history",
        "--batch-size",
        "8",
        "-q",
        *extra,
    ]
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONHASHSEED": "0"}
    )


def _history_rows(url: str, table: str) -> int:
    """Revisions of `table` the restore has committed so far (-1 before its tables exist).

    Rows, not the checkpoint: a first full restore applies in document order and checkpoints no
    block before its end (restore.runner), so only the rows show how far it got.
    """
    try:
        with open_target(url) as target:
            name = table_names([table], target.capabilities.identifiers)[table].history
            return int(target.query(f"SELECT COUNT(*) FROM {target.capabilities.quote(name)}", ())[0][0])
    except Exception:  # the first run may not have created the tables yet
        return -1


def test_sigkill_at_random_points_then_resume(
    simulated_archive: SimulatedArchive, new_target_url: Callable[[], str]
) -> None:
    truth = simulated_archive.truth("history")
    expected = expected_current(truth)
    table, revisions = Counter(t["table"] for t in truth).most_common(1)[0]
    rng = random.Random(20261125)
    killed_midway = 0
    for run in range(RUNS):
        # GIVEN a restore into an empty database, killed once it has written a random share of
        # the largest table's revisions (10% to 90%)
        url = new_target_url()
        threshold = rng.randint(revisions // 10, revisions * 9 // 10)
        proc = _restore(simulated_archive.archive, url)
        while proc.poll() is None and _history_rows(url, table) < threshold:
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_midway += 1
            proc.wait()
        else:  # it finished first: then it must have succeeded
            _, first_err = proc.communicate()
            assert proc.returncode == 0, f"run {run}, first restore: {first_err.decode()}"
        # WHEN it is resumed
        resumed = _restore(simulated_archive.archive, url, "--resume")
        _, err = resumed.communicate(timeout=300)
        assert resumed.returncode == 0, f"run {run}: {err.decode()}"
        # THEN the final state equals the truth, and the checkpoint says the restore completed
        with open_target(url) as target:
            assert_current_equals(target, expected)
            saved = target.read_checkpoint("restore")
            assert saved is not None
            assert saved.completed
    assert killed_midway >= RUNS // 2, f"only {killed_midway} of {RUNS} runs were killed before they finished"

"""Progress reporters: JSON lines throttling and shape, the rich bar, and the choice between them."""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console

from journal.progress import NullProgress
from qldb_archive.progress import JsonLinesProgress, RichProgress, progress_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_lines_are_throttled_to_one_per_interval() -> None:
    # GIVEN a reporter on a clock that we move by hand
    out, clock = io.StringIO(), FakeClock()
    reporter = JsonLinesProgress(out, clock=clock)
    reporter.start("restore", total=1_000, unit="revisions")
    # WHEN 500 units arrive within the first second, then one more after it
    for _ in range(500):
        clock.now += 0.001
        reporter.advance()
    clock.now = 101.0
    reporter.advance(100)
    reporter.advance()  # same instant: throttled
    clock.now = 102.0
    reporter.finish()
    # THEN only start, one progress line and finish are written
    events = lines(out)
    assert [e["event"] for e in events] == ["start", "progress", "finish"]
    assert events[0] == {
        "event": "start",
        "task": "restore",
        "done": 0,
        "total": 1_000,
        "unit": "revisions",
        "elapsed": 0.0,
        "rate": None,
    }
    assert events[1] == {
        "event": "progress",
        "task": "restore",
        "done": 600,
        "total": 1_000,
        "unit": "revisions",
        "elapsed": 1.0,
        "rate": 600.0,
        "eta": 0.667,
    }
    assert events[2]["done"] == 601
    assert events[2]["rate"] == 300.5
    assert "eta" not in events[2]


def test_json_lines_without_a_total_have_no_eta() -> None:
    out, clock = io.StringIO(), FakeClock()
    reporter = JsonLinesProgress(out, clock=clock)
    reporter.start("scan", total=None, unit="objects")
    clock.now += 5
    reporter.advance(10)
    reporter.finish()
    progress = lines(out)[1]
    assert progress["total"] is None
    assert "eta" not in progress
    assert progress["rate"] == 2.0


def test_json_lines_start_finishes_a_running_task_and_misuse_is_ignored() -> None:
    out, clock = io.StringIO(), FakeClock()
    reporter = JsonLinesProgress(out, clock=clock)
    reporter.advance(3)  # before any start: ignored
    reporter.finish()
    reporter.start("one", total=1, unit="blocks")
    reporter.start("two", total=2, unit="blocks")
    reporter.finish()
    reporter.finish()
    assert [(e["event"], e["task"]) for e in lines(out)] == [
        ("start", "one"),
        ("finish", "one"),
        ("start", "two"),
        ("finish", "two"),
    ]


def test_rich_progress_draws_task_count_and_rate() -> None:
    out = io.StringIO()
    reporter = RichProgress(Console(file=out, force_terminal=True, width=120))
    reporter.start("verify", total=10, unit="blocks")
    reporter.advance(4)
    reporter.advance()
    reporter.finish()
    reporter.advance()  # after finish: ignored
    text = out.getvalue()
    assert "verify" in text
    assert "5/10" in text
    assert "blocks/s" in text


def test_progress_for_picks_by_stream() -> None:
    assert isinstance(progress_for(io.StringIO()), JsonLinesProgress)
    assert isinstance(progress_for(FakeTty()), RichProgress)
    assert isinstance(progress_for(FakeTty(), quiet=True), NullProgress)
    assert isinstance(progress_for(io.StringIO(), quiet=True), NullProgress)

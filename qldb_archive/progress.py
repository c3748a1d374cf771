"""Progress reporters for the CLI: a rich bar on a terminal, JSON lines for machines, nothing when quiet.

Library code reports to the `journal.progress.ProgressReporter` protocol and never prints; the CLI
picks the reporter with `progress_for`. A reporter never raises on misuse (an `advance` before any
`start` is ignored): progress output must not break the work it reports on.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Literal, NotRequired, TextIO, TypedDict

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from journal.progress import NULL_PROGRESS

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.progress import Task

    from journal.progress import ProgressReporter

__all__ = ["JsonLinesProgress", "ProgressEvent", "RichProgress", "progress_for"]


class _RateColumn(ProgressColumn):
    """Units per second, in the task's own unit (rich's speed column assumes bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "")
        text = "?" if speed is None else f"{speed:,.0f}"
        return Text(f"{text} {unit}/s", style="progress.data.speed")


class RichProgress:
    """A rich progress bar with count, rate and ETA, for a person watching a terminal.

    Args:
        console: where to draw; stderr by default, so stdout stays clean for results.
    """

    def __init__(self, console: Console | None = None) -> None:
        self._console = console if console is not None else Console(stderr=True)
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, task: str, *, total: int | None, unit: str) -> None:
        """Draw a new bar; a task still running is finished first."""
        self.finish()
        self._progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self._console,
        )
        self._task = self._progress.add_task(task, total=total, unit=unit)
        self._progress.start()

    def advance(self, n: int = 1) -> None:
        """Move the bar on by `n` units."""
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def finish(self) -> None:
        """Stop drawing; the final bar stays on screen."""
        if self._progress is not None:
            self._progress.stop()
        self._progress, self._task = None, None


class ProgressEvent(TypedDict):
    """One JSON line written by `JsonLinesProgress`."""

    event: Literal["start", "progress", "finish"]
    task: str
    done: int
    total: int | None
    unit: str
    elapsed: float
    rate: float | None  # units per second since start; None before any time has passed
    eta: NotRequired[float | None]  # seconds left, on progress lines when total is known


class JsonLinesProgress:
    """Progress as JSON lines, for logs and CI: a start line, at most one line per interval, a finish line.

    Args:
        stream: where lines go (stderr in the CLI); flushed after every line.
        interval: least number of seconds between two progress lines.
        clock: monotonic seconds; replaced in tests.

    >>> import io
    >>> out, now = io.StringIO(), iter([0.0, 0.5, 2.0, 4.0]).__next__
    >>> reporter = JsonLinesProgress(out, clock=now)
    >>> reporter.start("scan", total=4, unit="blocks")
    >>> reporter.advance()   # 0.5 s: throttled
    >>> reporter.advance()   # 2.0 s: written
    >>> reporter.finish()
    >>> print(out.getvalue(), end="")  # doctest: +NORMALIZE_WHITESPACE
    {"event": "start", "task": "scan", "done": 0, "total": 4, "unit": "blocks", "elapsed": 0.0, "rate": null}
    {"event": "progress", "task": "scan", "done": 2, "total": 4, "unit": "blocks", "elapsed": 2.0,
     "rate": 1.0, "eta": 2.0}
    {"event": "finish", "task": "scan", "done": 2, "total": 4, "unit": "blocks", "elapsed": 4.0, "rate": 0.5}
    """

    def __init__(self, stream: TextIO, *, interval: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self._stream, self._interval, self._clock = stream, interval, clock
        self._task: str | None = None
        self._total: int | None = None
        self._unit = ""
        self._done = 0
        self._started = self._last = 0.0

    def start(self, task: str, *, total: int | None, unit: str) -> None:
        """Write the start line; a task still running is finished first."""
        self.finish()
        self._task, self._total, self._unit, self._done = task, total, unit, 0
        self._started = self._last = self._clock()
        self._write("start", self._started)

    def advance(self, n: int = 1) -> None:
        """Count `n` more units; write a progress line if `interval` has passed since the last line."""
        if self._task is None:
            return
        self._done += n
        now = self._clock()
        if now - self._last >= self._interval:
            self._last = now
            self._write("progress", now)

    def finish(self) -> None:
        """Write the finish line with the final count and average rate."""
        if self._task is not None:
            self._write("finish", self._clock())
        self._task = None

    def _write(self, event: Literal["start", "progress", "finish"], now: float) -> None:
        elapsed = max(0.0, now - self._started)
        rate = self._done / elapsed if elapsed > 0 else None
        line: ProgressEvent = {
            "event": event,
            "task": self._task or "",
            "done": self._done,
            "total": self._total,
            "unit": self._unit,
            "elapsed": round(elapsed, 3),
            "rate": None if rate is None else round(rate, 3),
        }
        if event == "progress" and self._total is not None:
            left = max(0, self._total - self._done)
            line["eta"] = round(left / rate, 3) if rate else None
        self._stream.write(json.dumps(line) + "\n")
        self._stream.flush()


def progress_for(stream: TextIO, *, quiet: bool = False) -> ProgressReporter:
    """Pick the reporter for `stream`: nothing when quiet, a bar on a terminal, JSON lines otherwise.

    >>> import io
    >>> type(progress_for(io.StringIO())).__name__, type(progress_for(io.StringIO(), quiet=True)).__name__
    ('JsonLinesProgress', 'NullProgress')
    """
    if quiet:
        return NULL_PROGRESS
    if stream.isatty():
        return RichProgress(Console(file=stream))
    return JsonLinesProgress(stream)

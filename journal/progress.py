"""The `ProgressReporter` protocol long work reports to, and a reporter that does nothing.

Library code never prints: the CLI picks a rich bar on a terminal or JSON lines otherwise
(`qldb_archive.progress`), tests pass `NULL_PROGRESS`.
"""

from __future__ import annotations

from typing import Protocol


class ProgressReporter(Protocol):
    """Receives progress of one long task, in units the task names (records, blocks, ...)."""

    def start(self, task: str, *, total: int | None, unit: str) -> None:
        """A task begins; `total` is None when unknown."""

    def advance(self, n: int = 1) -> None:
        """`n` more units are done."""

    def finish(self) -> None:
        """The task is over."""


class NullProgress:
    """A reporter that ignores everything (tests, library defaults)."""

    def start(self, task: str, *, total: int | None, unit: str) -> None:
        """Ignore."""

    def advance(self, n: int = 1) -> None:
        """Ignore."""

    def finish(self) -> None:
        """Ignore."""


NULL_PROGRESS: ProgressReporter = NullProgress()

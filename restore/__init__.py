"""restore: rebuild databases from the archive: plan (pure), targets, checkpoints, runner.

Public API: `run_restore` with `RestoreOptions`, the `RestoreReport` it returns, and
`open_target` for the targets (sqlite, mysql, postgresql). The runner is imported on first use:
it reads archives through DuckDB and pyarrow, which the live replication Lambda
(`restore.live`, bundled without them) never loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from restore.errors import (
    CheckpointError,
    ConflictError,
    GapError,
    IdentifierError,
    RestoreError,
    TargetError,
    TerminalTargetError,
    TransientTargetError,
    UnsupportedTargetError,
)
from restore.targets import Target, open_target

if TYPE_CHECKING:
    from restore.runner import RestoreOptions, RestoreReport, run_restore

__all__ = [
    "CheckpointError",
    "ConflictError",
    "GapError",
    "IdentifierError",
    "RestoreError",
    "RestoreOptions",
    "RestoreReport",
    "Target",
    "TargetError",
    "TerminalTargetError",
    "TransientTargetError",
    "UnsupportedTargetError",
    "open_target",
    "run_restore",
]


_RUNNER_NAMES = frozenset({"RestoreOptions", "RestoreReport", "run_restore"})


def __getattr__(name: str) -> object:
    """Import the runner's names on first use (PEP 562)."""
    if name in _RUNNER_NAMES:
        from restore import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'restore' has no attribute {name!r}")

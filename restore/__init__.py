"""restore: rebuild databases from the archive: plan (pure), targets, checkpoints, runner.

Public API: `run_restore` with `RestoreOptions`, the `RestoreReport` it returns, and
`open_target` for the targets (sqlite, mysql, postgresql).
"""

from __future__ import annotations

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
from restore.runner import RestoreOptions, RestoreReport, run_restore
from restore.targets import Target, open_target

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

"""Errors of the simulator: a configuration it cannot run."""

from __future__ import annotations

from journal.errors import QldbArchiveError

__all__ = ["SimulationConfigError"]


class SimulationConfigError(QldbArchiveError):
    """A `SimulationConfig` value out of range or of an unknown kind.

    Attributes:
        field: the configuration field at fault.
        reason: what is wrong with it and what would be accepted.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"invalid simulation setting {field}: {reason}")

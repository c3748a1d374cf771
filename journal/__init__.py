"""The QLDB journal model shared by everything; no AWS calls.

Stream records, KPL, export blocks, Ion hash, verification and the workload simulator.
"""

from __future__ import annotations

__all__: list[str] = []

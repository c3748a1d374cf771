"""The QLDB journal model shared by everything: stream records, KPL, export blocks, Ion hash,
verification and the workload simulator. No AWS calls.
"""

from __future__ import annotations

__all__: list[str] = []

"""The `qldb-archive` command line: wires the packages together and holds no logic of its own."""

from __future__ import annotations

__all__: list[str] = []

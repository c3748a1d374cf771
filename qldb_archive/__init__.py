"""The `qldb-archive` command line: wires the packages together and holds no logic of its own.

Importing it sets ``ARROW_DEFAULT_MEMORY_POOL=system`` (unless already set) before anything
imports pyarrow: pyarrow's default jemalloc pool keeps freed memory, and the restore's and
parity's Parquet scans then peak ~35% higher (`athena.local`, measured at 300k revisions).
"""

from __future__ import annotations

import os

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

__all__: list[str] = []

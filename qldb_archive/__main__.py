"""``python -m qldb_archive``: the same as the ``qldb-archive`` console script."""

from __future__ import annotations

from qldb_archive.cli import main

if __name__ == "__main__":
    main()

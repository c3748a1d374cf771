"""Run the QLDB session double as a process: ``python -m tests.qldb_double [LEDGER...]``.

Prints ``listening on URL`` once ready, then serves until its stdin closes (so a test that dies
takes the double with it). Run it with the qldb environment's Python from the repository root.
"""

from __future__ import annotations

import sys

from tests.qldb_double.server import start_double


def main() -> int:
    """Serve until stdin closes."""
    ledgers = tuple(sys.argv[1:]) or ("restored",)
    with start_double(ledgers) as (_, url):
        print(f"listening on {url}", flush=True)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run every benchmark at a tiny size so CI notices when one stops working (figures are not judged)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TINY: dict[str, list[str]] = {
    "bench_parse.py": ["--size", "500"],
    "bench_ion_hash.py": ["--size", "500"],
    "bench_simulate.py": ["--size", "1000"],
    "bench_handler.py": ["--size", "500"],
    "bench_parquet.py": ["--size", "500"],
    "bench_views.py": ["--size", "500"],
    "bench_restore.py": ["--size", "400", "--sample", "100", "--rss-sizes", "400", "--rss-limits", "160MB"],
    "bench_parity.py": ["--size", "300"],
    "bench_live.py": ["--size", "300"],
    "bench_split.py": ["--sizes", "300,600", "--shard-revisions", "300", "--targets", "mysql,postgresql"],
}


def main() -> int:
    """Run each benchmark; fail when one fails or is missing."""
    failed = []
    for script, args in TINY.items():
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / script), *args], check=False)
        print(
            f"[bench-smoke] {script}: exit {proc.returncode} in {time.perf_counter() - start:.1f} s",
            flush=True,
        )
        if proc.returncode != 0:
            failed.append(script)
    if failed:
        print(f"[bench-smoke] FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

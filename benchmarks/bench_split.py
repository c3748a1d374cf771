"""A restore split across workers: the split, each worker's time and peak RSS, against one restore.

Usage: python benchmarks/bench_split.py --sizes 100000,1000000 [--archive-dir DIR] [--shard-revisions 100000]

For each size, on a simulated DMV ledger archived through the local Firehose (duplicates
included), in child processes (`bench_restore.child_restore`, peak RSS measured in the child):

- split: ``qldb-archive restore-split --archive`` planned here on DuckDB (on Athena nothing of it
  runs on this machine), into ceil(size / --shard-revisions) shards: wall time and peak RSS;
- workers: ``qldb-archive restore SPLIT sqlite:///... --history --shard i/n`` for every shard, one
  after another: the slowest worker's time and the largest peak RSS. With shards of a fixed size,
  a worker's memory follows its shard, not the archive;
- baseline, same run: the one-process ``qldb-archive restore ARCHIVE sqlite:///... --history``,
  its time and peak RSS.

With ``--targets postgresql`` (or mysql) it also restores the largest size into a fresh database
both ways: one process (the bulk load) against the split's workers, ``--parallel`` at a time.
Targets whose server is unreachable are skipped with a note, except under CI=true.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_restore import child_restore, fresh_database, reachable
from bench_views import build_archive
from child_rss import PEAK_RSS_KIB_SOURCE

CHILD = (
    "import json, sys\n" + PEAK_RSS_KIB_SOURCE + "from qldb_archive.cli import app\n"
    "code = 1\n"
    "try:\n"
    "    code = app(sys.argv[1:], standalone_mode=False) or 0\n"
    "finally:\n"
    "    print(json.dumps({'peak_rss_mib': peak_rss_kib() / 1024}), file=sys.stderr)\n"
    "sys.exit(code)\n"
)
"""The CLI in a child: its exit code kept (click returns it instead of exiting), then its peak RSS."""


def child_cli(*args: str) -> dict[str, Any]:
    """Run one ``qldb-archive`` command in a child process: wall seconds, peak RSS (MiB), stdout."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"qldb-archive {' '.join(args[:3])} ... failed:\n{proc.stderr[-4000:]}")
    rss = json.loads(proc.stderr.strip().splitlines()[-1])["peak_rss_mib"]
    return {"seconds": seconds, "peak_rss_mib": rss, "stdout": proc.stdout}


def child_split(archive: Path, output: Path, shards: int) -> dict[str, Any]:
    """Run ``restore-split`` here (DuckDB) in a child process: wall seconds and its peak RSS (MiB)."""
    return child_cli(
        "restore-split", str(output), "--shards", str(shards), "--archive", str(archive), "--json"
    )


def run_workers(split: Path, url_for: Any, shards: int, parallel: int) -> list[dict[str, Any]]:
    """Every shard's restore (``--history``), `parallel` at a time; each one's figures."""

    def one(i: int) -> dict[str, Any]:
        with tempfile.NamedTemporaryFile(suffix=".json") as file:
            args = ["restore", str(split), url_for(i), "-q", "--history", "--shard", f"{i}/{shards}"]
            result = child_cli(*args, "--report", file.name)
            report = json.loads(Path(file.name).read_text())
        return {**result, "revisions": report["revisions_applied"], "report": report}

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(one, range(1, shards + 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated revision counts")
    parser.add_argument("--archive-dir", type=Path, help="reuse <dir>/<size>/archive when it exists")
    parser.add_argument("--shard-revisions", type=int, default=100_000, help="revisions per shard, about")
    parser.add_argument("--targets", default="", help="comma-separated: mysql, postgresql")
    parser.add_argument("--parallel", type=int, default=2, help="workers at once into a database server")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    from firehose_transform.handler import logger

    logger.setLevel("WARNING")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    figures: dict[str, Any] = {"shard_revisions": args.shard_revisions, "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        archives: dict[int, Path] = {}
        for size in sizes:
            reuse = args.archive_dir / str(size) / "archive" if args.archive_dir else None
            archives[size] = (
                reuse if reuse and reuse.exists() else build_archive(size, Path(tmp) / f"a{size}")
            )
            shards = max(1, math.ceil(size / args.shard_revisions))
            split = Path(tmp) / f"split-{size}"
            made = child_split(archives[size], split, shards)
            workers = run_workers(split, lambda i, s=size: f"sqlite:///{tmp}/w-{s}-{i}.db", shards, 1)
            whole = child_restore(archives[size], f"sqlite:///{tmp}/whole-{size}.db")
            figures["sizes"][str(size)] = {
                "shards": shards,
                "split_seconds": round(made["seconds"], 2),
                "split_peak_rss_mib": round(made["peak_rss_mib"], 1),
                "worker_max_seconds": round(max(w["seconds"] for w in workers), 2),
                "workers_total_seconds": round(sum(w["seconds"] for w in workers), 2),
                "worker_max_peak_rss_mib": round(max(w["peak_rss_mib"] for w in workers), 1),
                "revisions_applied": sum(w["revisions"] for w in workers),
                "one_process_seconds": round(whole["seconds"], 2),
                "one_process_peak_rss_mib": round(whole["peak_rss_mib"], 1),
            }
        by_size = figures["sizes"]
        if len(sizes) > 1:
            low, high = by_size[str(sizes[0])], by_size[str(sizes[-1])]
            figures["worker_rss_growth"] = round(
                high["worker_max_peak_rss_mib"] / low["worker_max_peak_rss_mib"] - 1, 3
            )
            figures["one_process_rss_growth"] = round(
                high["one_process_peak_rss_mib"] / low["one_process_peak_rss_mib"] - 1, 3
            )
        largest = sizes[-1]
        for engine in [t for t in args.targets.split(",") if t]:
            if not reachable(engine):
                continue
            url, drop = fresh_database(engine)
            try:
                one = child_restore(archives[largest], url)
            finally:
                drop()
            url, drop = fresh_database(engine)
            try:
                shards = by_size[str(largest)]["shards"]
                start = time.perf_counter()
                workers = run_workers(
                    Path(tmp) / f"split-{largest}", lambda _i, u=url: u, shards, args.parallel
                )
                sharded = time.perf_counter() - start
            finally:
                drop()
            figures[engine] = {
                "one_process_seconds": round(one["seconds"], 2),
                "one_process_method": one["report"].get("method"),
                "workers_seconds": round(sharded, 2),
                "workers_parallel": args.parallel,
                "workers_method": workers[0]["report"].get("method"),
                "ratio_workers_vs_one": round(sharded / one["seconds"], 2),
            }
    if args.json:
        print(json.dumps(figures))
        return
    for size, f in figures["sizes"].items():
        print(
            f"{int(size):>9,} revisions, {f['shards']} shard(s): split {f['split_seconds']} s "
            f"(peak {f['split_peak_rss_mib']} MiB); slowest worker {f['worker_max_seconds']} s, all "
            f"{f['workers_total_seconds']} s one after another, "
            f"largest worker peak {f['worker_max_peak_rss_mib']} MiB; "
            f"one process {f['one_process_seconds']} s, peak {f['one_process_peak_rss_mib']} MiB"
        )
    if "worker_rss_growth" in figures:
        print(
            f"peak RSS growth {sizes[0]:,} -> {sizes[-1]:,}: a worker {figures['worker_rss_growth']:+.0%}, "
            f"one process {figures['one_process_rss_growth']:+.0%}"
        )
    for engine in ("mysql", "postgresql"):
        if engine in figures:
            f = figures[engine]
            print(
                f"{engine}: one process ({f['one_process_method']}) {f['one_process_seconds']} s; "
                f"{f['workers_parallel']} workers at a time ({f['workers_method']}) {f['workers_seconds']} s "
                f"= {f['ratio_workers_vs_one']}x"
            )


if __name__ == "__main__":
    main()

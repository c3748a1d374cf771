"""Simulator throughput: generating and writing the Kinesis stream output, against hashing and dumping alone.

Usage: python benchmarks/bench_simulate.py --size 1000000

The figure: revisions per second (wall and CPU) and the process's peak RSS for
`write_simulation(..., outputs={"kinesis"})` at N revisions (default knobs: two shards, KPL
aggregation, 5% duplicates, reordering). The baseline, from the same run: the least any writer
of the same revisions must do, `ion_hash` of each document's data and metadata plus one
`simpleion.dumps` of the revision, on the simulator's own documents (measured on at most 100,000
of them; the rate does not depend on N). The ratio is ours / baseline: the share of the time
that is not the unavoidable Ion work. Peak RSS must not grow with N (see
tests/unit/journal/test_simulate_memory.py).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from amazon.ion import simpleion

from journal.ion_hash import ion_hash
from journal.simulate import SimulationConfig, simulate_blocks, write_simulation

BASELINE_MAX = 100_000


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_simulation(size: int, outputs: frozenset[str], out: Path | None) -> dict[str, float]:
    """Time `write_simulation` at `size` revisions."""
    config = SimulationConfig(revisions=size, seed=1)
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as tmp:
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        summary = write_simulation(out or Path(tmp), config, outputs=outputs)
        wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    return {
        "revisions": summary.revisions,
        "kinesis_records": summary.kinesis_records,
        "wall_s": wall,
        "per_s": summary.revisions / wall,
        "cpu_per_s": summary.revisions / cpu,
        "peak_rss_mib": peak_rss_mib(),
    }


def run_baseline(size: int) -> float:
    """CPU revisions per second of hashing data and metadata and dumping each revision once."""
    revisions = [
        r
        for s in simulate_blocks(SimulationConfig(revisions=min(size, 2_000), seed=1))
        for r in s.block.revisions
    ]
    live = [r for r in revisions if r.data is not None]
    count = min(size, BASELINE_MAX)
    start = time.process_time()
    for i in range(count):
        revision = live[i % len(live)]
        ion_hash(revision.data)
        ion_hash(revision.metadata)
        simpleion.dumps(revision.ion, binary=True)
    return count / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="revisions to simulate")
    parser.add_argument(
        "--outputs",
        default="kinesis",
        help="comma-separated outputs to write (kinesis, firehose, export, truth)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="keep the output here (default: a temporary folder)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    outputs = frozenset(p.strip() for p in args.outputs.split(",") if p.strip())
    ours = run_simulation(args.size, outputs, args.out)
    base = run_baseline(args.size)
    ratio = ours["cpu_per_s"] / base
    if args.json:
        print(
            json.dumps(
                {
                    **{k: round(v, 3) for k, v in ours.items()},
                    "baseline_cpu_per_s": round(base),
                    "ratio": round(ratio, 3),
                }
            )
        )
        return
    what = ",".join(sorted(outputs))
    print(f"simulate + write {what}: {ours['revisions']:,.0f} revisions in {ours['wall_s']:.1f} s")
    print(
        f"  {ours['per_s']:,.0f} revisions/s wall, {ours['cpu_per_s']:,.0f}/s CPU; "
        f"peak RSS {ours['peak_rss_mib']:.0f} MiB"
    )
    print(f"baseline: {base:,.0f} revisions/s CPU (ion_hash of data and metadata + one dumps, same run)")
    print(f"ratio:    {ratio:.2f} (ours / baseline)")


if __name__ == "__main__":
    main()

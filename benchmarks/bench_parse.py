"""Stream record parsing throughput against bare `amazon.ion.simpleion.loads` of the same bytes.

Usage: python benchmarks/bench_parse.py --size 50000

The corpus is real QLDB stream records (testdata/qldb-real) re-encoded as Ion binary, as QLDB
streams deliver them: half BLOCK_SUMMARY, half REVISION_DETAILS. Both sides parse the same bytes
in the same run; the ratio is ours / baseline (goal >= 0.7). Also printed, against the same
baseline: the bare-value parse the archive transform uses (`bare=True`), and the framing check
that runs before every parse (`journal.ion_framing`) with its share of the baseline's time.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from amazon.ion import simpleion

from journal.ion_framing import ion_bytes_problem
from journal.records import parse_stream_records

REAL = Path(os.environ.get("QLDB_ARCHIVE_SHARED", Path(__file__).resolve().parents[2] / "shared")) / (
    "testdata/qldb-real/amazon-qldb-streams-dmv-sample-lambda-python"
)


def corpus(size: int) -> list[bytes]:
    """`size` binary stream records, alternating block summaries and revision details."""
    texts = [
        (REAL / "block_summary_record.ion").read_bytes(),
        (REAL / "revision_details_record.reconstructed.ion").read_bytes(),
    ]
    binaries = [simpleion.dumps(simpleion.loads(t), binary=True) for t in texts]
    return [binaries[i % 2] for i in range(size)]


def rate(fn: object, records: list[bytes]) -> float:
    """Records per second of the best of three passes."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i, data in enumerate(records):
            fn(data, i)  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return len(records) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50_000, help="records per pass")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    records = corpus(args.size)
    ours = rate(lambda d, i: parse_stream_records(d, source=str(i)), records)
    base = rate(lambda d, i: simpleion.loads(d, single_value=False), records)
    bare = rate(lambda d, i: parse_stream_records(d, source=str(i), bare=True), records)
    framing = rate(lambda d, i: ion_bytes_problem(d), records)
    figures = {
        "records": args.size,
        "ours_per_s": round(ours),
        "baseline_per_s": round(base),
        "ratio": round(ours / base, 3),
        "goal_ratio": 0.7,
        "bare_per_s": round(bare),
        "bare_ratio": round(bare / base, 3),
        "framing_us": round(1e6 / framing, 2),
        "framing_share_of_baseline": round(base / framing, 3),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"stream records parsed: {ours:,.0f}/s (parse_stream_records)")
        print(f"baseline:              {base:,.0f}/s (simpleion.loads, same bytes, same run)")
        print(f"ratio:                 {ours / base:.2f} (goal >= 0.70)")
        print(f"bare values:           {bare:,.0f}/s (bare=True, as the transform), ratio {bare / base:.2f}")
        print(f"framing check:         {1e6 / framing:.1f} us/record, {base / framing:.0%} of the baseline")


if __name__ == "__main__":
    main()

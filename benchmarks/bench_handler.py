"""Firehose transform throughput and memory against bare Ion parsing of the same records.

Usage: python benchmarks/bench_handler.py --size 30000 [--json]

Corpus: the DMV simulator's Firehose events (Kinesis source, so Firehose has de-aggregated the
KPL records: one Ion binary stream record per Firehose record), regrouped into batches of 3 MB of
record data, the largest Lambda processor buffer Firehose allows. Falls back to the real sample
records of testdata/qldb-real when the simulator is not installed.

Figures, all from the same run:
- handler: records/s per core (CPU time of the process, best of `--passes`) of `transform_event`
  on those batches (the response size limit is lifted for the measurement: at 3 MB a batch's
  response exceeds 6 MB, see `expansion`);
- baseline: records/s of `simpleion.loads(data, single_value=False)` on the same bytes;
- ratio: handler / baseline (goal >= 0.5), and handler >= 15,000 records/s;
- the same for the transform compiled by mypyc (`infra.native`), which is what an x86_64 Lambda
  bundle built on an x86_64 machine runs (an arm64 bundle built here runs the pure-Python
  figures): measured in a child process that imports the compiled modules, on the same batches;
- expansion: response bytes per input byte, overall and worst per record type, and the largest
  processor buffer (BufferSizeInMBs) whose worst-case response fits in 6 MiB;
- peak RSS of a fresh process running the Lambda handler on one 3 MB batch (goal < 256 MB),
  compiled where it can be.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # no per-batch log lines in the figures

from amazon.ion import simpleion

from firehose_transform.handler import MAX_RESPONSE_BYTES, transform_event

sys.path.insert(0, str(Path(__file__).resolve().parent))
from child_rss import PEAK_RSS_KIB_SOURCE

BATCH_BYTES = 3 * 1024 * 1024
SHARED = Path(os.environ.get("QLDB_ARCHIVE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
REAL = SHARED / "testdata/qldb-real/amazon-qldb-streams-dmv-sample-lambda-python"
UNLIMITED = 1 << 40


def simulated_records(size: int) -> tuple[list[dict[str, Any]], str | None, str]:
    """At least `size` Firehose event records from the simulator (or the real samples)."""
    try:
        from journal.simulate import SimulationConfig, write_simulation
    except ImportError:
        return real_records(size), "arn:aws:kinesis:us-east-1:1:stream/qldb", "real samples"
    with tempfile.TemporaryDirectory() as tmp:
        revisions = max(200, int(size / 1.5))
        while True:
            write_simulation(
                Path(tmp), SimulationConfig(revisions=revisions, seed=1), outputs=frozenset({"firehose"})
            )
            records: list[dict[str, Any]] = []
            arn = None
            for path in sorted((Path(tmp) / "firehose").glob("event-*.json")):
                event = json.loads(path.read_text())
                arn = event.get("sourceKinesisStreamArn")
                records += event["records"]
            if len(records) >= size:
                return records[:size], arn, f"DMV simulator ({revisions} revisions)"
            revisions = int(revisions * 1.5 * size / max(1, len(records))) + 1


def real_records(size: int) -> list[dict[str, Any]]:
    texts = [
        (REAL / n).read_bytes()
        for n in ("block_summary_record.ion", "revision_details_record.reconstructed.ion")
    ]
    datas = [simpleion.dumps(simpleion.loads(t), binary=True) for t in texts]
    return [
        {
            "recordId": str(i),
            "approximateArrivalTimestamp": 1576048851261,
            "data": base64.b64encode(datas[i % 2]).decode(),
        }
        for i in range(size)
    ]


def batches(records: list[dict[str, Any]], arn: str | None) -> list[dict[str, Any]]:
    """Firehose events of at most 3 MB of (decoded) record data each."""
    events: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for rec in records:
        n = len(base64.b64decode(rec["data"]))
        if current and size + n > BATCH_BYTES:
            events.append(current)  # type: ignore[arg-type]
            current, size = [], 0
        current.append(rec)
        size += n
    if current:
        events.append(current)  # type: ignore[arg-type]
    head = {
        "invocationId": "bench",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:1:deliverystream/d",
        "region": "us-east-1",
    }
    if arn:
        head["sourceKinesisStreamArn"] = arn
    return [dict(head, records=recs) for recs in events]


def best_rate(fn: Any, passes: int) -> float:
    """The least CPU time (seconds) `fn` took in `passes` runs.

    CPU time of this process, not wall time: "per core" is what is measured, and on a machine
    shared with other work the wall clock also counts the time spent waiting for a core.
    """
    best = float("inf")
    for _ in range(passes):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def expansion(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Response bytes per input byte: overall, and the worst record of each record type."""
    worst: dict[str, float] = defaultdict(float)
    total_in = total_out = 0
    for event in events:
        response = transform_event(event, max_response_bytes=UNLIMITED)
        total_out += len(json.dumps(response))
        for rec, result in zip(event["records"], response["records"], strict=True):
            raw = len(base64.b64decode(rec["data"]))
            total_in += raw
            if result["result"] != "Ok":
                continue
            first = json.loads(base64.b64decode(result["data"]).split(b"\n", 1)[0])
            entry = len(json.dumps(result)) + 2
            worst[first["record_type"]] = max(worst[first["record_type"]], entry / raw)
    user_worst = max(v for k, v in worst.items() if k != "CONTROL")
    return {
        "overall": round(total_out / total_in, 2),
        "worst_per_type": {k: round(v, 2) for k, v in sorted(worst.items())},
        "max_buffer_mb": round(MAX_RESPONSE_BYTES / user_worst / 1_000_000, 2),
    }


NATIVE_CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from firehose_transform.handler import transform_event
import journal.records, firehose_transform.normalise
assert journal.records.__file__.endswith(".so") and firehose_transform.normalise.__file__.endswith(".so")
events = json.load(open(sys.argv[2]))
best = float("inf")
for _ in range(int(sys.argv[3])):
    start = time.process_time()
    for event in events:
        transform_event(event, max_response_bytes=1 << 40)
    best = min(best, time.process_time() - start)
print(best)
"""


def native_path() -> tuple[str | None, str]:
    """The folder of the compiled transform (`infra.native`), or None, and what it is."""
    try:
        from infra.native import NativeBuildError, build_native
    except ImportError as exc:
        return None, f"infra.native unavailable ({exc})"
    try:
        return str(build_native().path), "compiled by mypyc"
    except NativeBuildError as exc:
        return None, str(exc)


def native_seconds(path: str, events: list[dict[str, Any]], passes: int) -> float:
    """Least CPU seconds the compiled transform takes over `events`, in a child process."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(events, f)
    try:
        env = dict(os.environ, POWERTOOLS_LOG_LEVEL="WARNING")
        out = subprocess.run(
            [sys.executable, "-c", NATIVE_CHILD, path, f.name, str(passes)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
    finally:
        os.unlink(f.name)
    return float(out.stdout.split()[-1])


def peak_rss_mb(event: dict[str, Any], path_first: str | None = None) -> tuple[float, float]:
    """(peak RSS of a process running the Lambda handler on `event`, its RSS after the imports)."""
    code = (
        "import json, sys\n"
        + f"sys.path.insert(0, {path_first!r})\n" * (path_first is not None)
        + PEAK_RSS_KIB_SOURCE
        + "peak = peak_rss_kib\n"
        "from firehose_transform.handler import lambda_handler\n"
        "before = peak()\n"
        "event = json.load(open(sys.argv[1]))\n"
        "class Ctx:\n"
        "    function_name = 'bench'; memory_limit_in_mb = 512; aws_request_id = 'r'\n"
        "    invoked_function_arn = 'arn:aws:lambda:us-east-1:1:function:bench'\n"
        "lambda_handler(event, Ctx())\n"
        "print(before, peak())\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(event, f)
    try:
        out = subprocess.run([sys.executable, "-c", code, f.name], capture_output=True, text=True, check=True)
    finally:
        os.unlink(f.name)
    before, peak = (int(x) for x in out.stdout.split()[-2:])
    return peak / 1024, before / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=20_000, help="records in the corpus")
    parser.add_argument("--passes", type=int, default=5, help="timed passes; the best one counts")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    records, arn, source = simulated_records(args.size)
    events = batches(records, arn)
    datas = [base64.b64decode(r["data"]) for r in records]

    def run_handler() -> None:
        for event in events:
            transform_event(event, max_response_bytes=UNLIMITED)

    def run_baseline() -> None:
        for data in datas:
            simpleion.loads(data, single_value=False)

    handler_s, baseline_s = float("inf"), float("inf")
    for _ in range(args.passes):  # interleaved, so both sides see the same machine load
        handler_s = min(handler_s, best_rate(run_handler, 1))
        baseline_s = min(baseline_s, best_rate(run_baseline, 1))
    ours, base = len(records) / handler_s, len(records) / baseline_s
    native, native_kind = native_path()
    compiled = None if native is None else len(records) / native_seconds(native, events, args.passes)
    rss, rss_before = peak_rss_mb(max(events, key=lambda e: len(e["records"])), native)
    exp = expansion(events)
    figures = {
        "corpus": source,
        "records": len(records),
        "batches": len(events),
        "input_mb": round(sum(map(len, datas)) / 1e6, 2),
        "handler_per_s": round(ours),
        "baseline_per_s": round(base),
        "ratio": round(ours / base, 3),
        "native_per_s": None if compiled is None else round(compiled),
        "native_ratio": None if compiled is None else round(compiled / base, 3),
        "native": native_kind,
        "goal_per_s": 15_000,
        "goal_ratio": 0.5,
        "peak_rss_mb": round(rss, 1),
        "rss_after_imports_mb": round(rss_before, 1),
        "goal_rss_mb": 256,
        "expansion": exp,
    }
    if args.json:
        print(json.dumps(figures))
        return
    mb, n = figures["input_mb"], len(events)
    print(f"corpus:      {len(records):,} records, {mb} MB in {n} batches ({source})")
    print(f"baseline:    {base:,.0f} records/s (simpleion.loads, same bytes, same run)")
    print(f"pure Python: {ours:,.0f} records/s per core, ratio {ours / base:.2f} (goals >= 15,000 and 0.50)")
    if compiled is None:
        print(f"compiled:    not measured: {native_kind}")
    else:
        print(
            f"compiled:    {compiled:,.0f} records/s per core, ratio {compiled / base:.2f} "
            "(the x86_64 Lambda bundle; goals >= 15,000 and 0.50)"
        )
    where = "compiled" if native else "pure Python"
    print(
        f"peak RSS:    {rss:.0f} MB on a 3 MB batch, {where} "
        f"({rss_before:.0f} MB after imports; goal < 256 MB)"
    )
    print(f"expansion:   x{exp['overall']} response/input; worst per record type {exp['worst_per_type']}")
    print(f"buffer:      BufferSizeInMBs <= {exp['max_buffer_mb']} keeps the worst case under 6 MiB")


if __name__ == "__main__":
    main()

"""Live replication throughput: Kinesis records applied per second and invocation, vs the per-record method.

Usage: python benchmarks/bench_live.py --size 20000 [--batches 100,1000] [--targets mysql]

On a simulated DMV ledger's Kinesis deliveries (two shards, KPL aggregation as QLDB streams
have it, duplicates and reordering), for each target (MariaDB by default):

- live: `restore.live.LiveReplicator.handle` on batches of 100 and of 1,000 Kinesis records of
  one shard (what an event source mapping with that ``BatchSize`` sends), converge order,
  current tables (created first, as by the restore that seeds a live database): decode, plan and
  one transaction per invocation. Records/s (and revisions/s) over the time spent in the
  handler, and the median invocation;
- baseline, the QLDB streaming lab's method, in the same run on the same records: decode each
  record, then one ``REPLACE`` per revision (``DELETE`` for deletions), autocommit
  (`bench_restore.baseline_per_record`).

Both decode with the same code (KPL, Ion, the JSON projection), which takes most of the time at
these batch sizes; the last figure compares the database writes alone: the handler's plan and
apply steps (`LiveResult.milliseconds`) against the baseline's statements.

Prints each figure, the baseline and their ratio. A target whose server is unreachable is
skipped with a note, except under CI=true, where that fails the run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_restore import baseline_per_record, fresh_database, reachable  # noqa: E402


def simulate(size: int, folder: Path) -> dict[str, list[Any]]:
    """Simulate `size` revisions; the Kinesis records per shard, in delivery order."""
    from journal.simulate import SimulationConfig, write_simulation
    from restore.live_local import read_kinesis_files

    write_simulation(folder, SimulationConfig(revisions=size, seed=3), outputs=frozenset({"kinesis"}))
    shards: dict[str, list[Any]] = dict(read_kinesis_files(folder / "kinesis"))
    return shards


def batches(shards: dict[str, list[Any]], size: int) -> list[list[Any]]:
    """Each shard's records cut into batches of `size`, shards one after another."""
    return [
        records[i : i + size] for _, records in sorted(shards.items()) for i in range(0, len(records), size)
    ]


def run_live(engine: str, shards: dict[str, list[Any]], batch_size: int) -> dict[str, Any]:
    """Apply every batch with the handler into a fresh database; timings of the handler calls."""
    from journal.simulate import ALL_TABLES
    from restore.identifiers import table_names
    from restore.live import LiveConfig, LiveReplicator
    from restore.live_local import kinesis_event
    from restore.targets import open_target

    url, drop = fresh_database(engine)
    seconds: list[float] = []
    writes = 0.0
    records = revisions = 0
    try:
        with open_target(url) as target:
            # the tables exist, as after the restore that seeds a live database (not timed)
            names = table_names(ALL_TABLES, target.capabilities.identifiers)
            target.ensure_schema(list(names.values()), history=False)
            replicator = LiveReplicator(target, LiveConfig())
            arn = "arn:aws:kinesis:us-east-1:123456789012:stream/qldb"
            for batch in batches(shards, batch_size):
                event = kinesis_event(batch, stream_arn=arn)
                start = time.perf_counter()
                result = replicator.handle(event)
                seconds.append(time.perf_counter() - start)
                assert not result.response["batchItemFailures"], result.response
                writes += (result.milliseconds["plan"] + result.milliseconds["apply"]) / 1000
                records += len(batch)
                revisions += result.counts()["revisions_applied"]
    finally:
        drop()
    total = sum(seconds)
    return {
        "batch_size": batch_size,
        "invocations": len(seconds),
        "records": records,
        "revisions": revisions,
        "seconds": round(total, 3),
        "records_per_second": round(records / total, 1),
        "revisions_per_second": round(revisions / total, 1),
        "median_invocation_ms": round(statistics.median(seconds) * 1000, 1),
        "write_seconds": round(writes, 3),
    }


def run_baseline(engine: str, shards: dict[str, list[Any]]) -> dict[str, Any]:
    """Decode every record (timed), then one autocommitted statement per revision (bench_restore's)."""
    from restore.live_plan import KinesisSource, decode_record

    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    records = 0
    for shard_id, shard in sorted(shards.items()):
        for i, r in enumerate(shard):
            source = KinesisSource(
                position=i,
                event_source_arn="arn",
                shard_id=shard_id,
                sequence_number=r.sequence_number,
                partition_key=r.partition_key,
                arrival=r.arrival,
                data_b64=r.data_b64,
            )
            records += 1
            for row in decode_record(source).revisions:
                rows.append(
                    {
                        "table_name": row.table_name,
                        "doc_id": row.doc_id,
                        "version": row.version,
                        "block_seq": row.block_seq,
                        "tx_time": row.tx_time,
                        "is_deleted": row.is_deleted,
                        "data_json": row.data_json,
                    }
                )
    decode_seconds = time.perf_counter() - start
    write_seconds = baseline_per_record(engine, rows)
    total = decode_seconds + write_seconds
    return {
        "records": records,
        "revisions": len(rows),
        "decode_seconds": round(decode_seconds, 3),
        "write_seconds": round(write_seconds, 3),
        "records_per_second": round(records / total, 1),
        "revisions_per_second": round(len(rows) / total, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000, help="revisions to simulate")
    parser.add_argument("--batches", default="100,1000", help="comma-separated BatchSize values")
    parser.add_argument("--targets", default="mysql", help="comma-separated: mysql, postgresql")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    from restore.live import logger

    logger.setLevel("WARNING")
    sizes = [int(b) for b in args.batches.split(",") if b]
    figures: dict[str, Any] = {"size": args.size}
    with tempfile.TemporaryDirectory() as tmp:
        shards = simulate(args.size, Path(tmp))
        figures["kinesis_records"] = sum(len(s) for s in shards.values())
        figures["shards"] = len(shards)
        for engine in [t for t in args.targets.split(",") if t]:
            if not reachable(engine):
                continue
            baseline = run_baseline(engine, shards)
            live = [run_live(engine, shards, size) for size in sizes]
            for f in live:
                f["ratio_vs_baseline"] = round(f["records_per_second"] / baseline["records_per_second"], 1)
                # both decode the same records with the same code: compare the writes alone too
                f["write_ratio_vs_baseline"] = round(baseline["write_seconds"] / f["write_seconds"], 1)
            figures[engine] = {"live": live, "baseline": baseline}
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"live replication of {args.size:,} simulated revisions ({figures['kinesis_records']:,} Kinesis "
        f"records, KPL-aggregated, {figures['shards']} shards), converge order, current tables, same run:"
    )
    for engine in ("mysql", "postgresql"):
        per_engine = figures.get(engine)
        if per_engine is None:
            continue
        b = per_engine["baseline"]
        print(
            f"  {engine} baseline (streaming lab: decode, one REPLACE per revision, autocommit): "
            f"{b['records_per_second']:,} records/s ({b['revisions_per_second']:,} revisions/s; "
            f"decode {b['decode_seconds']} s + writes {b['write_seconds']} s)"
        )
        for live in per_engine["live"]:
            print(
                f"  {engine} live, batches of {live['batch_size']:,}: "
                f"{live['records_per_second']:,} records/s "
                f"({live['revisions_per_second']:,} revisions/s) over {live['invocations']} invocations, "
                f"median {live['median_invocation_ms']} ms -> {live['ratio_vs_baseline']}x the baseline; "
                f"writes alone {live['write_seconds']} s -> "
                f"{live['write_ratio_vs_baseline']}x"
            )


if __name__ == "__main__":
    main()

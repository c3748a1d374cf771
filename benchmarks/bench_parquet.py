"""Archive size: Parquet bytes written by the local Firehose against the raw Ion bytes it archived.

Usage: python benchmarks/bench_parquet.py --size 1000000 [--json] [--keep DIR]

N revisions of the DMV simulator (default knobs: two shards, KPL aggregation, 5% duplicates,
reordering) are streamed, in memory, as the Firehose transformation events of a Kinesis-source
delivery stream, and archived through the local Firehose (`run_local_firehose`: the real handler,
dynamic partitioning, 64 MiB buffers, Snappy Parquet) into a temporary folder.

Figures, all from the same run:
- parquet: the bytes of every ``.parquet`` object written (the revision rows keep their
  lossless Ion text, `revision_ion`, next to the JSON projection);
- baseline, raw Ion: the bytes of the Ion binary stream records as Kinesis carried them, with the
  same duplicates: every Firehose event record's decoded data. With a Kinesis source Firehose
  has de-aggregated the KPL records, so each is exactly one QLDB stream record (REVISION_DETAILS,
  BLOCK_SUMMARY or CONTROL), and a duplicate delivery counts again, as it is archived again.
  The KPL aggregates' own bytes (framing and partition keys added) are printed for reference;
- ratio: parquet / raw Ion (goal <= 1.0): the archive, Ion text and JSON projection included,
  takes no more room than the Ion it holds.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # no per-batch log lines

from firehose_transform.local_firehose import run_local_firehose
from journal.simulate import (
    SimulationConfig,
    deliver,
    ledger_names,
    simulate_blocks,
    stage_rng,
    stream_records,
)
from journal.simulate.firehose import firehose_events


class Corpus:
    """The simulator's Firehose events for N revisions, generated as they are consumed, and their sizes."""

    def __init__(self, revisions: int) -> None:
        self.config = SimulationConfig(revisions=revisions, seed=1)
        self.raw_ion_bytes = 0
        self.kinesis_bytes = 0
        self.event_records = 0
        self.kinesis_records = 0

    def events(self) -> Iterator[dict[str, Any]]:
        """Firehose transformation events, wired as `write_simulation` wires its "firehose" output."""
        config = self.config
        names = ledger_names(config)
        blocks = (s.block for s in simulate_blocks(config))
        timed = stream_records(
            blocks, stream_arn=names.stream_arn, stream_id=names.stream_id, completed=config.stream_completed
        )

        def delivered() -> Iterator[Any]:
            for record in deliver(timed, config, stage_rng(config, "delivery")):
                self.kinesis_records += 1
                self.kinesis_bytes += len(record.data)
                yield record

        for event in firehose_events(
            delivered(),
            mode=config.firehose_mode,
            delivery_stream_arn=names.firehose_arn,
            source_stream_arn=names.kinesis_stream_arn,
            region=config.region,
            max_records=config.firehose_max_records,
            buffer_bytes=config.firehose_buffer_bytes,
            rng=stage_rng(config, "firehose"),
        ):
            parsed = json.loads(event.text)
            for rec in parsed["records"]:
                self.raw_ion_bytes += len(base64.b64decode(rec["data"]))
            self.event_records += len(parsed["records"])
            yield parsed


def parquet_bytes(root: Path) -> tuple[int, int, dict[str, int]]:
    """(total bytes, objects, bytes per record type) of the Parquet objects under `root`."""
    total = objects = 0
    per_type: dict[str, int] = {}
    for path in root.rglob("*.parquet"):
        size = path.stat().st_size
        total += size
        objects += 1
        kind = next((p.split("=", 1)[1] for p in path.parts if p.startswith("p_record_type=")), "?")
        per_type[kind] = per_type.get(kind, 0) + size
    return total, objects, dict(sorted(per_type.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=1_000_000, help="revisions to simulate")
    parser.add_argument("--keep", type=Path, default=None, help="write the archive here and keep it")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    corpus = Corpus(args.size)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-parquet-") as tmp:
        archive = args.keep or Path(tmp) / "archive"
        summary = run_local_firehose(corpus.events(), str(archive))
        wall = time.perf_counter() - start
        total, objects, per_type = parquet_bytes(archive)
    raw = corpus.raw_ion_bytes
    figures = {
        "revisions": args.size,
        "firehose_records": corpus.event_records,
        "kinesis_records": corpus.kinesis_records,
        "rows": summary.rows,
        "failed": summary.failed,
        "parquet_bytes": total,
        "parquet_objects": objects,
        "parquet_bytes_per_type": per_type,
        "raw_ion_bytes": raw,
        "kinesis_bytes": corpus.kinesis_bytes,
        "ratio": round(total / raw, 3),
        "goal_ratio": 1.0,
        "wall_s": round(wall, 1),
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"corpus:   {args.size:,} revisions -> {corpus.event_records:,} stream records delivered "
        f"({corpus.kinesis_records:,} Kinesis records), archived in {wall:,.0f} s"
    )
    print(f"parquet:  {total:,} bytes in {objects:,} objects (Snappy, Ion text kept); per type {per_type}")
    print(f"baseline: {raw:,} bytes of raw Ion binary stream records (duplicates included, same run)")
    print(f"          ({corpus.kinesis_bytes:,} bytes as KPL-aggregated Kinesis records)")
    print(f"ratio:    {total / raw:.3f} parquet / raw Ion (goal <= 1.0)")
    if summary.failed:
        print(f"warning:  {summary.failed:,} records failed and are not in the Parquet")


if __name__ == "__main__":
    main()

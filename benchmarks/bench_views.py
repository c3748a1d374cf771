"""The user view on the local engine against a full scan of the same Parquet: time and bytes read.

Usage: python benchmarks/bench_views.py --size 1000000 [--archive DIR]

Builds (or reuses) an archive of a simulated ledger, then times the user view and a full scan
(`SELECT * FROM revisions`, every column materialised) in the same run. Bytes read is the
Athena cost proxy: the compressed size of the Parquet column chunks of the columns the
engine's plan actually reads (DuckDB pushes projections through the views, as Trino does),
against every column. A view that reads few columns scans little; that is what Athena bills.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from athena.local import LocalEngine, to_duckdb
from firehose_transform.handler import logger
from firehose_transform.local_firehose import events_from_path, run_local_firehose
from journal.simulate import SimulationConfig, write_simulation

VIEW_QUERY = "SELECT table_name, doc_id, version, data_json FROM current"


def build_archive(size: int, root: Path) -> Path:
    """Simulate `size` revisions and archive them through the local Firehose."""
    write_simulation(root, SimulationConfig(revisions=size), outputs=frozenset({"firehose"}))
    archive = root / "archive"
    run_local_firehose(events_from_path(root / "firehose"), str(archive))
    return archive


def column_bytes(archive: Path) -> dict[str, int]:
    """Compressed bytes per column over every revision object of the archive."""
    sizes: dict[str, int] = {}
    for path in archive.rglob("p_record_type=revision_details/**/*.parquet"):
        meta = pq.ParquetFile(path).metadata
        for rg in range(meta.num_row_groups):
            group = meta.row_group(rg)
            for c in range(group.num_columns):
                col = group.column(c)
                sizes[col.path_in_schema] = sizes.get(col.path_in_schema, 0) + col.total_compressed_size
    return sizes


def scanned_columns(engine: LocalEngine, sql: str) -> set[str]:
    """The columns DuckDB's plan actually reads from the Parquet (projection pushdown through views)."""
    plan = "\n".join(str(r[1]) for r in engine.con.sql("EXPLAIN " + to_duckdb(sql)).fetchall())
    columns: set[str] = set()
    for line in plan.splitlines():
        if "Projections:" in line:
            listed = line.split("Projections:", 1)[1].strip(" │|")
            columns |= {c.strip() for c in listed.split(",") if c.strip()}
    return columns


def timed(engine: LocalEngine, sql: str) -> tuple[float, int]:
    """Best of three wall times of `sql`, and its row count."""
    best, rows = float("inf"), 0
    for _ in range(3):
        start = time.perf_counter()
        rows = engine.query(sql).num_rows
        best = min(best, time.perf_counter() - start)
    return best, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="revisions to simulate")
    parser.add_argument("--archive", type=Path, help="reuse this archive instead of building one")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    logger.setLevel("WARNING")  # the handler's per-batch INFO lines would drown the figures
    with tempfile.TemporaryDirectory() as tmp:
        archive = args.archive or build_archive(args.size, Path(tmp))
        sizes = column_bytes(archive)
        total_bytes = sum(sizes.values())
        with LocalEngine.open(archive) as engine:
            view_cols = scanned_columns(engine, VIEW_QUERY)
            view_s, docs = timed(engine, VIEW_QUERY)
            scan_s, rows = timed(engine, "SELECT * FROM revisions")
        view_bytes = sum(n for c, n in sizes.items() if c in view_cols)
    figures = {
        "revision_rows": rows,
        "current_docs": docs,
        "view_seconds": round(view_s, 3),
        "full_scan_seconds": round(scan_s, 3),
        "time_ratio": round(view_s / scan_s, 3),
        "view_bytes": view_bytes,
        "full_scan_bytes": total_bytes,
        "bytes_ratio": round(view_bytes / total_bytes, 3),
        "view_columns": sorted(c for c in view_cols if c in sizes),
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(f"user view (current): {docs:,} documents from {rows:,} revision rows in {view_s:.2f} s")
    print(f"full scan (baseline): {rows:,} rows, every column, in {scan_s:.2f} s")
    print(f"time ratio: {view_s / scan_s:.2f} (view / full scan)")
    share = view_bytes / total_bytes
    print(f"bytes read: view {view_bytes:,} of {total_bytes:,} ({share:.1%}; the Athena cost proxy)")
    print(f"columns the views read: {', '.join(figures['view_columns'])}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

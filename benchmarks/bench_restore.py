"""Restore throughput into MariaDB/MySQL and PostgreSQL, against two baselines from the same run.

Usage: python benchmarks/bench_restore.py --size 1000000 [--archive DIR] [--targets mysql,postgresql]

For each target, on a simulated DMV ledger archived through the local Firehose (duplicates
included):

- restore: ``qldb-archive restore --history`` (current + history tables) in a child process:
  wall time, revisions/s and the child's peak RSS; and ``qldb-archive restore`` (current tables
  only: what baselines A and B write), whose first run takes the final-state shortcut;
- baseline A, the QLDB streaming lab's method: one upsert per revision (``REPLACE`` on MySQL,
  ``INSERT ... ON CONFLICT`` on PostgreSQL; ``DELETE`` for deletions), autocommit, in block
  order, on the first `--sample` revisions, scaled to the full size. Goal: restore >= 20x faster;
- baseline B, bulk-loading only the final rows: the ``current`` view from DuckDB written to a
  file and loaded with ``LOAD DATA LOCAL INFILE`` / ``COPY`` into an empty table. Goal: restore
  time <= 2x baseline B (which writes ~1/5 of the rows and no history).

Peak RSS must stay under 1 GiB and flat with size: `--rss-sizes 100000,1000000` restores
archives of those sizes into SQLite and prints each child's peak RSS and time, at the default
memory limit and at each of `--rss-limits` (``--memory-limit`` values, e.g. ``160MB,128MB``),
with the growth from the smallest size to the largest: memory is bounded by the limit, and a
lower limit flattens it at a cost in time. Targets whose server is
unreachable are skipped with a note, except under CI=true, where that fails the run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_views import build_archive  # noqa: E402
from child_rss import PEAK_RSS_KIB_SOURCE  # noqa: E402

MYSQL_URL = os.environ.get("QLDB_ARCHIVE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
POSTGRESQL_URL = os.environ.get(
    "QLDB_ARCHIVE_TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def fresh_database(engine: str) -> tuple[str, Any]:
    """A new empty MySQL database or PostgreSQL schema; its URL and a function dropping it."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    if engine == "mysql":
        import pymysql

        parts = urlsplit(MYSQL_URL)
        con = pymysql.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
            autocommit=True,
        )
        con.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")

        def drop_mysql() -> None:
            con.cursor().execute(f"DROP DATABASE `{name}`")
            con.close()

        return urlunsplit(parts._replace(path=f"/{name}")), drop_mysql
    import psycopg

    pg = psycopg.connect(POSTGRESQL_URL, autocommit=True)
    pg.execute(f'CREATE SCHEMA "{name}"')

    def drop_pg() -> None:
        pg.execute(f'DROP SCHEMA "{name}" CASCADE')
        pg.close()

    separator = "&" if "?" in POSTGRESQL_URL else "?"
    return f"{POSTGRESQL_URL}{separator}options=-csearch_path%3D{name}", drop_pg


def child_restore(archive: Path, url: str, *extra: str, history: bool = True) -> dict[str, Any]:
    """Run the restore CLI in a child process: wall seconds, its report and its peak RSS (MiB)."""
    code = (
        "import json, sys\n" + PEAK_RSS_KIB_SOURCE + "from qldb_archive.cli import app\n"
        "try:\n"
        "    app(sys.argv[1:], standalone_mode=False)\n"
        "finally:\n"
        "    rss = peak_rss_kib() / 1024\n"
        "    print(json.dumps({'peak_rss_mib': rss}), file=sys.stderr)\n"
    )
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        command = [sys.executable, "-c", code, "restore", str(archive), url, "-q"]
        command += ["--history"] if history else []
        command += ["--report", report.name, *extra]
        start = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"restore into {url} failed:\n{proc.stderr}")
        doc = json.loads(Path(report.name).read_text())
    rss = json.loads(proc.stderr.strip().splitlines()[-1])["peak_rss_mib"]
    return {"seconds": seconds, "revisions": doc["revisions_applied"], "peak_rss_mib": rss, "report": doc}


def sample_revisions(archive: Path, limit: int) -> list[dict[str, Any]]:
    """The first `limit` distinct revisions in block order (what the per-record lab method applies)."""
    from athena.local import LocalEngine

    with LocalEngine.open(archive) as engine:
        rows: list[dict[str, Any]] = engine.query(
            "SELECT table_name, doc_id, version, block_seq, tx_time, is_deleted, data_json FROM history "
            f"ORDER BY block_seq, doc_id, version LIMIT {int(limit)}"
        ).to_pylist()
    return rows


def baseline_per_record(engine: str, rows: list[dict[str, Any]]) -> float:
    """The streaming lab's method: one autocommitted upsert (or delete) per revision; seconds."""
    url, drop = fresh_database(engine)
    tables = sorted({r["table_name"] for r in rows})
    try:
        if engine == "mysql":
            import pymysql

            parts = urlsplit(url)
            con: Any = pymysql.connect(
                host=parts.hostname,
                port=parts.port or 3306,
                user=parts.username,
                password=parts.password or "",
                database=parts.path.lstrip("/"),
                autocommit=True,
                charset="utf8mb4",
            )
            cur = con.cursor()
            for t in tables:
                cur.execute(
                    f"CREATE TABLE `{t}` (doc_id VARCHAR(128) PRIMARY KEY, version BIGINT, "
                    "tx_time DATETIME(3), data JSON) ENGINE=InnoDB"
                )
            start = time.perf_counter()
            for r in rows:
                if r["is_deleted"]:
                    cur.execute(f"DELETE FROM `{r['table_name']}` WHERE doc_id = %s", (r["doc_id"],))
                else:
                    cur.execute(
                        f"REPLACE INTO `{r['table_name']}` (doc_id, version, tx_time, data) "
                        "VALUES (%s, %s, %s, %s)",
                        (r["doc_id"], r["version"], r["tx_time"], r["data_json"]),
                    )
            seconds = time.perf_counter() - start
        else:
            import psycopg

            con = psycopg.connect(url, autocommit=True)
            for t in tables:
                con.execute(
                    f'CREATE TABLE "{t}" (doc_id TEXT PRIMARY KEY, version BIGINT, '
                    "tx_time TIMESTAMP(3), data JSONB)"
                )
            start = time.perf_counter()
            for r in rows:
                if r["is_deleted"]:
                    con.execute(f'DELETE FROM "{r["table_name"]}" WHERE doc_id = %s', (r["doc_id"],))
                else:
                    con.execute(
                        f'INSERT INTO "{r["table_name"]}" (doc_id, version, tx_time, data) '
                        "VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (doc_id) DO UPDATE SET version = excluded.version, "
                        "tx_time = excluded.tx_time, data = excluded.data",
                        (r["doc_id"], r["version"], r["tx_time"], r["data_json"]),
                    )
            seconds = time.perf_counter() - start
        con.close()
        return seconds
    finally:
        drop()


def baseline_bulk_final(engine: str, archive: Path) -> tuple[float, int]:
    """Compute the final rows (DuckDB ``current``) and bulk-load them into one table; seconds, rows."""
    from athena.local import LocalEngine

    url, drop = fresh_database(engine)
    try:
        start = time.perf_counter()
        with LocalEngine.open(archive) as local:
            final = local.query(
                "SELECT doc_id, version, block_seq, tx_time, data_json FROM current"
            ).to_pylist()
        with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False, encoding="utf-8") as out:
            for r in final:  # the text format both servers read: tab-separated, \N for NULL, \\ for \
                fields = [r["doc_id"], r["version"], r["block_seq"], r["tx_time"], r["data_json"]]
                out.write("\t".join(_tsv(v) for v in fields) + "\n")
            path = out.name
        if engine == "mysql":
            import pymysql

            parts = urlsplit(url)
            con: Any = pymysql.connect(
                host=parts.hostname,
                port=parts.port or 3306,
                user=parts.username,
                password=parts.password or "",
                database=parts.path.lstrip("/"),
                local_infile=True,
                charset="utf8mb4",
            )
            cur = con.cursor()
            cur.execute(
                "CREATE TABLE final_rows (doc_id VARCHAR(128) PRIMARY KEY, version BIGINT, block_seq BIGINT, "
                "tx_time DATETIME(3), data JSON) ENGINE=InnoDB"
            )
            cur.execute(f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE final_rows CHARACTER SET utf8mb4")
            con.commit()
        else:
            import psycopg

            con = psycopg.connect(url)
            con.execute(
                "CREATE TABLE final_rows (doc_id TEXT PRIMARY KEY, version BIGINT, block_seq BIGINT, "
                "tx_time TIMESTAMP(3), data JSONB)"
            )
            with con.cursor().copy("COPY final_rows FROM STDIN") as copy, open(path, encoding="utf-8") as src:
                for line in src:
                    copy.write(line)
            con.commit()
        con.close()
        os.unlink(path)
        return time.perf_counter() - start, len(final)
    finally:
        drop()


def _tsv(value: object) -> str:
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def reachable(engine: str) -> bool:
    """Whether the engine's server answers; under CI an unreachable server fails the run."""
    try:
        _, drop = fresh_database(engine)
        drop()
        return True
    except Exception as exc:
        if os.environ.get("CI") == "true":
            raise SystemExit(f"{engine} server unreachable under CI: {exc}") from None
        print(f"[skip] {engine}: server unreachable ({type(exc).__name__}); set QLDB_ARCHIVE_TEST_*_URL")
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="revisions to simulate")
    parser.add_argument("--archive", type=Path, help="reuse this archive instead of building one")
    parser.add_argument("--targets", default="mysql,postgresql", help="comma-separated: mysql, postgresql")
    parser.add_argument("--sample", type=int, default=50_000, help="revisions for baseline A")
    parser.add_argument("--rss-sizes", default="", help="comma-separated sizes for the RSS check (SQLite)")
    parser.add_argument(
        "--rss-limits", default="", help="comma-separated --memory-limit values to repeat the RSS check at"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    from firehose_transform.handler import logger

    logger.setLevel("WARNING")
    figures: dict[str, Any] = {"size": args.size}
    with tempfile.TemporaryDirectory() as tmp:
        archive = args.archive or build_archive(args.size, Path(tmp) / "main")
        sample = sample_revisions(archive, args.sample)
        for engine in [t for t in args.targets.split(",") if t]:
            if not reachable(engine):
                continue
            url, drop = fresh_database(engine)
            try:
                ours = child_restore(archive, url)
            finally:
                drop()
            url, drop = fresh_database(engine)
            try:
                current_only = child_restore(archive, url, history=False)
            finally:
                drop()
            per_record = baseline_per_record(engine, sample)
            scaled = per_record * ours["revisions"] / max(1, len(sample))
            bulk_s, final_rows = baseline_bulk_final(engine, archive)
            figures[engine] = {
                "restore_seconds": round(ours["seconds"], 2),
                "revisions": ours["revisions"],
                "revisions_per_second": round(ours["revisions"] / ours["seconds"], 1),
                "restore_peak_rss_mib": round(ours["peak_rss_mib"], 1),
                "baseline_a_sample": len(sample),
                "baseline_a_sample_seconds": round(per_record, 2),
                "baseline_a_scaled_seconds": round(scaled, 1),
                "speedup_vs_a": round(scaled / ours["seconds"], 1),
                "baseline_b_seconds": round(bulk_s, 2),
                "baseline_b_rows": final_rows,
                "ratio_vs_b": round(ours["seconds"] / bulk_s, 2),
                "current_only_seconds": round(current_only["seconds"], 2),
                "current_only_method": current_only["report"].get("method"),
                "current_only_peak_rss_mib": round(current_only["peak_rss_mib"], 1),
                "current_only_speedup_vs_a": round(scaled / current_only["seconds"], 1),
                "current_only_ratio_vs_b": round(current_only["seconds"] / bulk_s, 2),
            }
        sizes = [int(s) for s in args.rss_sizes.split(",") if s]
        archives = {
            size: archive if size == args.size else build_archive(size, Path(tmp) / f"rss-{size}")
            for size in sizes
        }
        by_limit: dict[str, dict[str, dict[str, float]]] = {}
        for limit in ["default", *[x for x in args.rss_limits.split(",") if x]] if sizes else []:
            extra = () if limit == "default" else ("--memory-limit", limit)
            by_limit[limit] = {}
            for size, sized in archives.items():
                result = child_restore(sized, f"sqlite:///{tmp}/rss-{limit}-{size}.db", *extra)
                by_limit[limit][str(size)] = {
                    "peak_rss_mib": round(result["peak_rss_mib"], 1),
                    "seconds": round(result["seconds"], 2),
                }
        rss = {size: f["peak_rss_mib"] for size, f in by_limit.get("default", {}).items()}
        if rss:
            figures["sqlite_peak_rss_mib_by_size"] = rss
            figures["sqlite_rss_by_memory_limit"] = by_limit
    if args.json:
        print(json.dumps(figures))
        return
    print(f"restore of {args.size:,} simulated revisions (current + history), same run:")
    for engine in ("mysql", "postgresql"):
        f = figures.get(engine)
        if f is None:
            continue
        print(
            f"  {engine}: {f['revisions']:,} revisions in {f['restore_seconds']} s = "
            f"{f['revisions_per_second']:,}/s, peak RSS {f['restore_peak_rss_mib']} MiB"
        )
        print(
            f"    baseline A (one upsert per revision, autocommit): {f['baseline_a_sample']:,} in "
            f"{f['baseline_a_sample_seconds']} s, scaled {f['baseline_a_scaled_seconds']} s -> "
            f"restore is {f['speedup_vs_a']}x faster (goal >= 20)"
        )
        print(
            f"    baseline B (bulk-load the {f['baseline_b_rows']:,} final rows): "
            f"{f['baseline_b_seconds']} s -> "
            f"restore / B = {f['ratio_vs_b']} (goal <= 2)"
        )
        print(
            f"    current tables only (what A and B write; {f['current_only_method']}): "
            f"{f['current_only_seconds']} s, peak RSS {f['current_only_peak_rss_mib']} MiB -> "
            f"{f['current_only_speedup_vs_a']}x faster than A, {f['current_only_ratio_vs_b']} x B"
        )
    for limit, by_size in by_limit.items():
        runs = list(by_size.values())
        growth = f" ({runs[-1]['peak_rss_mib'] / runs[0]['peak_rss_mib'] - 1:+.0%})" if len(runs) > 1 else ""
        print(
            f"  peak RSS by archive size (SQLite, --memory-limit {limit}): "
            + ", ".join(f"{k}: {v['peak_rss_mib']} MiB in {v['seconds']} s" for k, v in by_size.items())
            + growth
        )


if __name__ == "__main__":
    main()

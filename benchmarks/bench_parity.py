"""Parity at scale: bucketed checksums against a full-table comparison, same run, same databases.

Usage: python benchmarks/bench_parity.py --size 1000000 [--archive DIR] [--targets sqlite,mysql,postgresql]

Builds (or reuses) an archive whose user view holds about `--size` documents (an insert-heavy
simulated DMV ledger), restores it into each target, then for 0 and for 10 injected differences
(missing, extra, stale version, content changed with its hash) measures:

- cold parity: `restore.parity.check_parity` without a cache, wall time and rows moved (bucket
  sums and rows read from both sides);
- warm parity: the same with `cache=`, a cache made beforehand from the archive without its
  newest revision objects (a copy of it for each run): the hourly run, objects having arrived
  since the last one (the report says how many, and their revisions);
- baseline, the full comparison: every (doc_id, version, content_hash) read from the target and
  from the archive (DuckDB), compared in Python.

Goals: rows moved <= 1% of the documents, parity time <= 0.3x the full comparison. The run also
checks that all three find exactly the injected differences. Under CI=true an unreachable server
fails the run; elsewhere it is skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_restore import fresh_database, reachable  # noqa: E402


def build_archive(documents: int, root: Path) -> Path:
    """Simulate an insert-heavy ledger with about `documents` live documents and archive it."""
    from firehose_transform.handler import logger
    from firehose_transform.local_firehose import events_from_path, run_local_firehose
    from journal.simulate import SimulationConfig, write_simulation
    from journal.simulate.config import OperationMix

    logger.setLevel("WARNING")
    config = SimulationConfig(
        revisions=int(documents * 1.12), mix=OperationMix(insert=0.9, update=0.1, delete=0.0, redact=0.0)
    )
    write_simulation(root, config, outputs=frozenset({"firehose"}))
    archive = root / "archive"
    run_local_firehose(events_from_path(root / "firehose"), str(archive))
    return archive


def build_stale_cache(archive: Path, root: Path) -> Path:
    """A cache made from `archive` without its newest revision objects (1 in 15, at least one).

    The partial archive links the other objects (same size and modification time, as an
    immutable object keeps), so the full archive's run finds the cache's objects unchanged.
    """
    from athena.local import LocalEngine, revision_objects
    from restore.parity_cache import prepare_archive_index

    objects = revision_objects(archive)
    by_arrival = sorted((o.key for o in objects), key=lambda k: k.rsplit("/", 1)[-1])  # names carry the time
    left_out = max(len(objects) // 15, 1) if len(objects) > 1 else 0
    newest = set(by_arrival[len(by_arrival) - left_out :])
    partial = root / "partial"
    for path in archive.rglob("*.parquet"):
        key = path.relative_to(archive).as_posix()
        if key not in newest:
            link = partial / key
            link.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, link)
            except OSError:
                shutil.copy2(path, link)
    cache = root / "cache"
    kept = revision_objects(partial)
    with LocalEngine.open(partial, revision_keys=[o.key for o in kept]) as engine:
        prepare_archive_index(engine, kept, archive=partial, cache=str(cache))
    return cache


def full_comparison(archive: Path, url: str) -> tuple[float, int, set[tuple[str, str]]]:
    """Every document from both sides, compared in Python: seconds, rows moved, differences."""
    from athena.local import LocalEngine
    from restore.identifiers import table_names
    from restore.parity import classify_rows
    from restore.targets import open_target

    start = time.perf_counter()
    found: set[tuple[str, str]] = set()
    moved = 0
    with LocalEngine.open(archive) as engine, open_target(url) as target:
        archive_rows: dict[str, dict[str, tuple[int, str | None]]] = {}
        for r in engine.query(
            "SELECT table_name, doc_id, version, lower(to_hex(sha256(to_utf8(data_json)))) AS h FROM current"
        ).to_pylist():
            archive_rows.setdefault(r["table_name"], {})[r["doc_id"]] = (r["version"], r["h"])
        names = table_names(archive_rows, target.capabilities.identifiers)
        for table, rows in archive_rows.items():
            quoted = target.capabilities.quote(names[table].current)
            target_rows = {
                doc_id: (int(version), h)
                for doc_id, version, h in target.query(
                    f"SELECT doc_id, version, content_hash FROM {quoted}", ()
                )
            }
            moved += len(rows) + len(target_rows)
            found |= {(d.kind, d.doc_id) for d in classify_rows(table, rows, target_rows)}
    return time.perf_counter() - start, moved, found


def inject(url: str, count: int, seed: int) -> set[tuple[str, str]]:
    """Change `count` documents behind the restore's back; the differences a check must find."""
    from restore.content import content_hash
    from restore.identifiers import table_names
    from restore.targets import open_target

    rng = random.Random(seed)
    expected: set[tuple[str, str]] = set()
    with open_target(url) as target:
        engine = target.capabilities.engine
        names = table_names(["Person"], target.capabilities.identifiers)["Person"]
        table = target.capabilities.quote(names.current)
        rows = target.query(f"SELECT doc_id, version FROM {table} WHERE version >= 1", ())
        picked = rng.sample(sorted(rows), count)
        source = next(r[0] for r in sorted(rows) if r not in picked)  # copied into the extra documents
        mark = "?" if engine == "sqlite" else "%s"
        params: tuple[Any, ...]
        for i, (doc_id, _version) in enumerate(picked):
            kind = ("missing", "extra", "stale_version", "content_differs")[i % 4]
            if kind == "missing":
                sql, params = f"DELETE FROM {table} WHERE doc_id = {mark}", (doc_id,)
            elif kind == "extra":
                doc_id = f"BenchExtra{i:012d}"
                sql = (
                    f"INSERT INTO {table} (doc_id, version, block_seq, tx_time, data, content_hash) "
                    f"SELECT {mark}, 0, block_seq, tx_time, data, content_hash FROM {table} "
                    f"WHERE doc_id = {mark}"
                )
                params = (doc_id, source)
            elif kind == "stale_version":
                sql, params = f"UPDATE {table} SET version = version - 1 WHERE doc_id = {mark}", (doc_id,)
            else:
                text = json.dumps({"changed": i})
                cast = f"CAST({mark} AS jsonb)" if engine == "postgresql" else mark
                sql = f"UPDATE {table} SET data = {cast}, content_hash = {mark} WHERE doc_id = {mark}"
                params = (text, content_hash(text), doc_id)
            expected.add((kind, doc_id))
            _write(target, sql, params)
    return expected


def _write(target: Any, sql: str, params: tuple[Any, ...]) -> None:
    engine = target.capabilities.engine
    if engine == "sqlite":
        target._con.execute(sql, params)
    elif engine == "mysql":
        with target._conn.cursor() as cur:
            cur.execute(sql, params)
        target._conn.commit()
    else:
        target._conn.execute(sql, params)
        target._conn.commit()


def measure(archive: Path, url: str, expected: set[tuple[str, str]], stale_cache: Path) -> dict[str, Any]:
    """Cold parity, warm parity and the full comparison on the target as it is; all must find `expected`."""
    from restore.parity import check_parity

    start = time.perf_counter()
    cold = check_parity(archive, url)
    cold_s = time.perf_counter() - start
    cache = stale_cache.with_name("cache-run")
    shutil.rmtree(cache, ignore_errors=True)
    shutil.copytree(stale_cache, cache)
    start = time.perf_counter()
    warm = check_parity(archive, url, cache=str(cache))
    warm_s = time.perf_counter() - start
    full_s, full_moved, full_found = full_comparison(archive, url)
    for name, report in (("cold", cold), ("warm", warm)):
        got = {(d["kind"], d["doc_id"]) for t in report.to_json()["tables"] for d in t["differences"]}
        if got != expected or full_found != expected:
            raise SystemExit(
                f"wrong differences: {name} parity {sorted(got)}, full {sorted(full_found)}, "
                f"want {sorted(expected)}"
            )
    if warm.cache.mode != "warm":
        raise SystemExit(f"the warm run was not warm: {warm.cache.summary()}")
    documents = sum(t.archive_documents for t in cold.tables)
    return {
        "documents": documents,
        "cold_seconds": round(cold_s, 2),
        "cold_rows_moved": cold.rows_moved,
        "cold_time_ratio": round(cold_s / full_s, 3),
        "warm_seconds": round(warm_s, 2),
        "warm_rows_moved": warm.rows_moved,
        "warm_time_ratio": round(warm_s / full_s, 3),
        "warm_new_objects": warm.cache.new_objects,
        "warm_new_revisions": warm.cache.new_revisions,
        "rows_moved_share": round(max(cold.rows_moved, warm.rows_moved) / documents, 5),
        "full_seconds": round(full_s, 2),
        "full_rows_moved": full_moved,
    }


def _nothing() -> None:
    """Dropping a SQLite file: the temporary folder goes away by itself."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="documents in the user view (about)")
    parser.add_argument("--archive", type=Path, help="reuse this archive instead of building one")
    parser.add_argument("--targets", default="sqlite,mysql,postgresql", help="comma-separated targets")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--scratch", type=Path, help="temporary files here (the databases, caches)")
    args = parser.parse_args()
    from restore.runner import RestoreOptions, run_restore

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=args.scratch) as tmp:
        archive = args.archive or build_archive(args.size, Path(tmp) / "sim")
        stale_cache = build_stale_cache(archive, Path(tmp) / "stale")
        for engine in [t for t in args.targets.split(",") if t]:
            if engine != "sqlite" and not reachable(engine):
                continue
            if engine == "sqlite":
                url, drop = f"sqlite:///{tmp}/parity.db", _nothing
            else:
                url, drop = fresh_database(engine)
            try:
                run_restore(archive, url, RestoreOptions(batch_revisions=20_000, chunk_revisions=200_000))
                equal = measure(archive, url, set(), stale_cache)
                expected = inject(url, 10, seed=7)
                different = measure(archive, url, expected, stale_cache)
            finally:
                drop()
            figures[engine] = {"equal": equal, "ten_differences": different}
    if args.json:
        print(json.dumps(figures))
        return
    for engine, f in figures.items():
        for label, m in (("0 differences", f["equal"]), ("10 differences", f["ten_differences"])):
            print(
                f"{engine}, {m['documents']:,} documents, {label}: "
                f"cold parity {m['cold_seconds']} s, {m['cold_rows_moved']:,} rows moved, "
                f"ratio {m['cold_time_ratio']}; warm parity ({m['warm_new_objects']} new objects, "
                f"{m['warm_new_revisions']:,} revisions since the cache) {m['warm_seconds']} s, "
                f"{m['warm_rows_moved']:,} rows moved, ratio {m['warm_time_ratio']}; "
                f"full comparison {m['full_seconds']} s, {m['full_rows_moved']:,} rows "
                f"(goals: rows moved <= 1%, here {m['rows_moved_share']:.3%}; ratio <= 0.3)"
            )


if __name__ == "__main__":
    main()

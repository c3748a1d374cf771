"""The demo: every local part of the pipeline in sequence, each step reported with where its output is."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from athena.local import LocalEngine
from firehose_transform.local_firehose import events_from_path, run_local_firehose
from journal.proofs import read_digest_files
from journal.simulate import SimulationConfig, write_simulation
from journal.verify import verify_paths
from restore.archive_verify import verify_archive
from restore.parity import check_parity
from restore.runner import RestoreOptions, run_restore

if TYPE_CHECKING:
    from journal.progress import ProgressReporter

__all__ = ["run_demo"]

Echo = Callable[[str], None]


def _save_digest(out: Path) -> Path:
    """The simulated ledger's digest as `aws qldb get-digest` printed it: what a team saved while QLDB ran."""
    summary = json.loads((out / "truth" / "summary.json").read_text())
    tip = summary["tip"]
    path = out / "get-digest.json"
    tip_ion = f'{{strandId:"{tip["strandId"]}",sequenceNo:{tip["sequenceNo"]}}}'
    path.write_text(
        json.dumps({"Digest": summary["digest"], "DigestTipAddress": {"IonText": tip_ion}}) + "\n"
    )
    return path


def _show_queries(archive: Path, echo: Echo) -> None:
    """A few of the questions the views answer, on DuckDB (the same SQL Athena runs)."""
    with LocalEngine.open(archive) as engine:
        counts = engine.query(
            "SELECT table_name, COUNT(*) AS documents FROM current GROUP BY table_name ORDER BY table_name"
        ).to_pylist()
        echo("   current documents: " + ", ".join(f"{r['table_name']} {r['documents']:,}" for r in counts))
        health = engine.query(
            "SELECT SUM(revisions) AS revisions, SUM(duplicate_copies) AS duplicates, "
            "SUM(version_gaps) AS gaps FROM health"
        ).to_pylist()[0]
        echo(
            f"   history: {health['revisions']:,} revisions, {health['duplicates']:,} duplicate deliveries "
            f"folded, {health['gaps']:,} version gaps"
        )
        busiest = engine.query(
            "SELECT table_name, doc_id, COUNT(*) AS versions FROM history "
            "GROUP BY table_name, doc_id ORDER BY versions DESC, doc_id LIMIT 1"
        ).to_pylist()
        if busiest:
            b = busiest[0]
            rows = engine.history(b["table_name"], b["doc_id"]).to_pylist()
            kinds = [
                f"v{r['version']} @ block {r['block_seq']}"
                + (" deleted" if r["is_deleted"] else " redacted" if r["is_redacted"] else "")
                for r in rows
            ]
            more = f", ... {len(kinds) - 4} more" if len(kinds) > 4 else ""
            echo(f"   history of {b['table_name']} {b['doc_id']}: {', '.join(kinds[:4])}{more}")
            middle = rows[len(rows) // 2]["block_seq"]
            state = engine.current(b["table_name"], as_of_block=middle).to_pylist()
            echo(f"   {b['table_name']} as of block {middle:,}: {len(state):,} documents")
    echo(f'   (try: qldb-archive query "SELECT * FROM health" --archive {archive})')


def run_demo(out: Path, *, revisions: int, echo: Echo, progress: ProgressReporter) -> bool:
    """Simulate a ledger into `out`, archive, query, restore, check parity, verify; True when all passed."""
    start = time.perf_counter()
    echo(f"1. simulate a DMV ledger ({revisions:,} revisions, duplicates, reordering, KPL aggregation)")
    summary = write_simulation(out, SimulationConfig(revisions=revisions), progress=progress)
    for line in summary.summary_lines():
        echo(f"   {line}")
    digest = _save_digest(out)
    echo(f"   written to {out}/ (kinesis/, firehose/, export/, truth/); the ledger's digest in {digest}")

    archive = out / "archive"
    echo("2. archive the stream through the real Firehose Lambda handler into Parquet")
    run = run_local_firehose(events_from_path(out / "firehose"), str(archive), progress=progress)
    rows = ", ".join(f"{n:,} {kind}" for kind, n in sorted(run.rows.items())) or "none new (already archived)"
    echo(f"   {run.records:,} Firehose records: {run.ok:,} ok, {run.failed:,} failed; rows: {rows}")
    echo(f"   written to {archive}/ ({run.objects_written:,} Parquet objects, {run.bytes_written:,} bytes)")
    ok = run.failed == 0

    echo("3. query the archive: the Athena views, on DuckDB")
    _show_queries(archive, echo)

    database = out / "restored.db"
    url = f"sqlite:///{database}"
    echo("4. restore the archive into SQLite: current and history tables, de-duplicated, in block order")
    for stale in out.glob("restored.db*"):  # the demo's own output from an earlier run
        stale.unlink()
    restored = run_restore(archive, url, RestoreOptions(history=True), progress=progress)
    for line in restored.summary_lines()[1:]:
        echo(f"   {line.strip()}")
    echo(f"   written to {database} (`sqlite3 {database} .tables`)")
    ok = ok and restored.completed

    echo("5. parity: prove the restored database equals the archive (checksums, then rows that differ)")
    parity = check_parity(archive, url)
    echo(f"   {parity.summary_lines()[0]}")
    ok = ok and parity.equal

    echo("6. verify the archive itself against the ledger's digest: every revision and block hash, the chain")
    report = verify_archive(archive, digests=read_digest_files([digest]), progress=progress)
    for line in report.summary_lines()[:2]:
        echo(f"   {line.strip()}")
    echo(f"   ({'all checks passed' if report.ok else 'FAILED'}; `qldb-archive verify {archive} {digest}`)")
    ok = ok and report.ok

    echo("7. verify the journal export the same way")
    exported = verify_paths([out / "export", digest], progress=progress)
    for line in exported.summary_lines()[:2]:
        echo(f"   {line.strip()}")
    verdict = "all checks passed" if exported.ok else "FAILED"
    echo(f"   ({verdict}; `qldb-archive verify {out / 'export'} {digest}`)")
    ok = ok and exported.ok

    elapsed = time.perf_counter() - start
    echo(f"done in {elapsed:.1f} s: {'all checks passed' if ok else 'CHECKS FAILED'}")
    return ok

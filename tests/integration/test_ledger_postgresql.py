"""Ledger-grade PostgreSQL: simulated ledger -> archive -> ``?mode=ledger`` restore -> verify.

Expected values come from the simulator's truth (truth/history.jsonl, final.jsonl, summary.json:
its revision hashes, block count, tip and digest), never from the code under test. Tampering is
done the way a privileged user would: disabling the append-only trigger, changing a byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from qldb_archive.cli import app
from restore.identifiers import table_names
from restore.ledger_verify import LedgerCheck, verify_target
from restore.runner import RestoreOptions, run_restore
from restore.targets import open_target
from restore.targets.postgresql_ledger import LEDGER_BLOCKS_TABLE, PostgresLedgerTarget
from tests.integration.test_restore_acceptance import assert_current_equals, expected_current, utc

if TYPE_CHECKING:
    from tests.integration.conftest import SimulatedArchive

HOSTILE = 'Robert"); DROP TABLE "Person";--'


def ledger(url: str) -> str:
    return f"{url}&mode=ledger"


def digest_file(sim: SimulatedArchive, folder: Path, *, digest: str | None = None) -> Path:
    """A saved `aws qldb get-digest` output for the simulated ledger's tip (from its truth)."""
    summary = json.loads((sim.sim / "truth" / "summary.json").read_text())
    tip = summary["tip"]
    path = folder / "get-digest.json"
    text = f'{{strandId:"{tip["strandId"]}",sequenceNo:{tip["sequenceNo"]}}}'
    path.write_text(
        json.dumps({"Digest": digest or summary["digest"], "DigestTipAddress": {"IonText": text}})
    )
    return path


def restore_ledger(sim: SimulatedArchive, url: str, **options: Any) -> None:
    report = run_restore(sim.archive, ledger(url), RestoreOptions(batch_revisions=400, **options))
    assert report.completed


def tamper(url: str, table: str, statement: str, params: tuple[Any, ...] = ()) -> None:
    """Run an UPDATE on an append-only table with its trigger disabled (as its owner could)."""
    with psycopg.connect(url.split("&mode=")[0], autocommit=True) as conn:
        t = sql.Identifier(table)
        conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER qldb_ledger_append_only").format(t))
        conn.execute(sql.SQL(statement).format(t=t), params)
        conn.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER qldb_ledger_append_only").format(t))


def test_ledger_restore_verifies_against_archive_and_digest(
    simulated_archive: SimulatedArchive, postgresql_url: str, tmp_path: Path
) -> None:
    # GIVEN an archive with duplicates, reordering, deletes and redactions, restored in ledger mode
    restore_ledger(simulated_archive, postgresql_url)
    truth = simulated_archive.truth("history")
    summary = json.loads((simulated_archive.sim / "truth" / "summary.json").read_text())
    # WHEN the database is verified against the archive and the saved digest
    report = verify_target(
        postgresql_url,
        archive=str(simulated_archive.archive),
        digest_paths=[digest_file(simulated_archive, tmp_path)],
    )
    # THEN everything verified, the digest included
    assert report.ok, "\n".join(report.summary_lines())
    assert {c.check.value: c.status.value for c in report.journal.checks}["digest"] == "passed"
    assert report.blocks == summary["blocks"]
    assert report.revisions == len(truth)
    # AND history holds every revision's QLDB hash, current tables the truth's final state
    with open_target(ledger(postgresql_url)) as target:
        assert isinstance(target, PostgresLedgerTarget)
        names = table_names({t["table"] for t in truth}, target.capabilities.identifiers)
        hashes = {
            (h.doc_id, h.version): h.revision_hash for n in names.values() for h in target.fetch_history(n)
        }
        assert hashes == {(t["doc_id"], t["version"]): t["revision_hash"] for t in truth}
        assert_current_equals(target, expected_current(truth))


def test_update_delete_and_truncate_on_history_and_blocks_are_refused(
    simulated_archive: SimulatedArchive, postgresql_url: str
) -> None:
    restore_ledger(simulated_archive, postgresql_url)
    with psycopg.connect(postgresql_url, autocommit=True) as conn:
        for table in ("Person_history", LEDGER_BLOCKS_TABLE):
            t = sql.Identifier(table)
            for statement in (
                sql.SQL("UPDATE {} SET block_seq = block_seq + 1").format(t),
                sql.SQL("DELETE FROM {}").format(t),
                sql.SQL("TRUNCATE {}").format(t),
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                    conn.execute(statement)
        rows = conn.execute('SELECT count(*) FROM "Person_history"').fetchone()
    assert rows is not None
    assert rows[0] == sum(1 for t in simulated_archive.truth("history") if t["table"] == "Person")


def _live_person_revision(url: str) -> tuple[str, int, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            'SELECT doc_id, version, block_seq FROM "Person_history" '
            'WHERE NOT is_deleted AND NOT is_redacted ORDER BY doc_id COLLATE "C", version LIMIT 1'
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


@pytest.mark.parametrize(
    ("column", "statement"),
    [
        # one character of the document's data, inside the lossless Ion (the GovId value's first letter)
        (
            "revision_ion",
            "UPDATE {t} SET revision_ion = overlay(revision_ion PLACING "
            "CASE WHEN substr(revision_ion, position('GovId:\"' IN revision_ion) + 7, 1) = 'Z' "
            "THEN 'Y' ELSE 'Z' END "
            "FROM position('GovId:\"' IN revision_ion) + 7 FOR 1) WHERE doc_id = %s AND version = %s",
        ),
        # one character of the JSON data column
        (
            "data",
            "UPDATE {t} SET data = jsonb_set(data, '{{GovId}}', to_jsonb(overlay(data->>'GovId' PLACING "
            "CASE WHEN left(data->>'GovId', 1) = 'Z' THEN 'Y' ELSE 'Z' END FROM 1 FOR 1))) "
            "WHERE doc_id = %s AND version = %s",
        ),
        # one character of the stored revision hash
        (
            "revision_hash",
            "UPDATE {t} SET revision_hash = overlay(revision_hash PLACING "
            "CASE WHEN left(revision_hash, 1) = 'A' THEN 'B' ELSE 'A' END FROM 1 FOR 1) "
            "WHERE doc_id = %s AND version = %s",
        ),
    ],
)
def test_one_byte_changed_in_a_history_row_is_found_and_named(
    simulated_archive: SimulatedArchive, postgresql_url: str, column: str, statement: str
) -> None:
    # GIVEN a verified ledger restore
    restore_ledger(simulated_archive, postgresql_url)
    doc_id, version, block_seq = _live_person_revision(postgresql_url)
    # WHEN one character of one history row changes
    tamper(postgresql_url, "Person_history", statement, (doc_id, version))
    report = verify_target(postgresql_url, archive=str(simulated_archive.archive), digest_paths=[])
    # THEN verify fails and names that document, version and block
    assert not report.ok
    named = [f for f in report.findings if (f.doc_id, f.version, f.block_seq) == (doc_id, version, block_seq)]
    assert named, "\n".join(report.summary_lines())
    assert all(f.table == "Person" for f in named)
    if column == "revision_hash":
        assert LedgerCheck.ARCHIVE in {f.check for f in named}
    else:
        assert LedgerCheck.COLUMNS in {f.check for f in named}
    if column == "revision_ion":  # the recomputed revision hash no longer matches: the journal's own rule
        failed = [f for f in report.journal.findings if f.outcome.value == "failed"]
        assert [(f.check.value, f.doc_id, f.version) for f in failed] == [("revision_hash", doc_id, version)]


def test_a_changed_block_hash_breaks_the_chain_at_that_block(
    simulated_archive: SimulatedArchive, postgresql_url: str
) -> None:
    restore_ledger(simulated_archive, postgresql_url)
    tamper(
        postgresql_url,
        LEDGER_BLOCKS_TABLE,
        "UPDATE {t} SET block_hash = overlay(block_hash PLACING "
        "CASE WHEN left(block_hash, 1) = 'A' THEN 'B' ELSE 'A' END FROM 1 FOR 1) WHERE block_seq = %s",
        (100,),
    )
    report = verify_target(postgresql_url, archive=None, digest_paths=[])
    assert not report.ok
    failed = {(f.check.value, f.block.block_seq if f.block else None) for f in report.journal.findings}
    assert ("block_hash", 100) in failed
    assert ("chain", 101) in failed


def test_a_wrong_digest_fails(
    simulated_archive: SimulatedArchive, postgresql_url: str, tmp_path: Path
) -> None:
    restore_ledger(simulated_archive, postgresql_url)
    wrong = digest_file(simulated_archive, tmp_path, digest="A" * 43 + "=")
    report = verify_target(postgresql_url, archive=None, digest_paths=[wrong])
    assert not report.ok
    assert {c.check.value: c.status.value for c in report.journal.checks}["digest"] == "failed"


def test_hostile_table_name_stays_quoted_and_verifies(
    simulated_archive: SimulatedArchive, postgresql_url: str
) -> None:
    restore_ledger(simulated_archive, postgresql_url, table_map={"Person": HOSTILE})
    with psycopg.connect(postgresql_url, autocommit=True) as conn:
        tables = {
            r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        }
    assert {HOSTILE, HOSTILE + "_history", "Vehicle_history"} <= tables
    assert "Person" not in tables
    report = verify_target(postgresql_url, archive=str(simulated_archive.archive), digest_paths=[])
    assert report.ok, "\n".join(report.summary_lines())


def test_resume_and_incremental_add_nothing_twice(
    simulated_archive: SimulatedArchive, postgresql_url: str
) -> None:
    # GIVEN a ledger restored up to the time of block 300, then caught up incrementally
    moment = next(t["tx_time"] for t in simulated_archive.truth("history") if t["block_seq"] == 300)
    restore_ledger(simulated_archive, postgresql_url, as_of_time=utc(moment))
    partial = verify_target(postgresql_url, archive=str(simulated_archive.archive), digest_paths=[])
    assert partial.ok, "\n".join(partial.summary_lines())
    assert partial.blocks >= 300
    assert partial.archive_after > 0
    restore_ledger(simulated_archive, postgresql_url, incremental=True)
    restore_ledger(simulated_archive, postgresql_url, incremental=True)  # nothing new: nothing written
    # THEN it verifies as a whole, every block and revision once
    report = verify_target(postgresql_url, archive=str(simulated_archive.archive), digest_paths=[])
    assert report.ok, "\n".join(report.summary_lines())
    assert report.revisions == len(simulated_archive.truth("history"))
    assert report.archive_after == 0
    assert report.blocks > partial.blocks


def test_ledger_mode_refuses_a_table_selection(
    simulated_archive: SimulatedArchive, postgresql_url: str
) -> None:
    from restore.errors import RestoreError

    with pytest.raises(RestoreError, match="whole journal"):
        run_restore(simulated_archive.archive, ledger(postgresql_url), RestoreOptions(tables=("Person",)))


def test_cli_verify_exit_codes(
    simulated_archive: SimulatedArchive, new_postgresql_url: Callable[[], str], tmp_path: Path
) -> None:
    postgresql_url = new_postgresql_url()
    restore_ledger(simulated_archive, postgresql_url)
    runner = CliRunner()
    args = ["verify", ledger(postgresql_url), "--archive", str(simulated_archive.archive), "--quiet"]
    digest = ["--digest", str(digest_file(simulated_archive, tmp_path))]
    ok = runner.invoke(app, [*args, *digest, "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["ok"] is True
    doc_id, version, _ = _live_person_revision(postgresql_url)
    tamper(
        postgresql_url,
        "Person_history",
        "UPDATE {t} SET tx_id = tx_id || 'x' WHERE doc_id = %s AND version = %s",
        (doc_id, version),
    )
    bad = runner.invoke(app, args)
    assert bad.exit_code == 1
    assert f"Person/{doc_id} version {version}" in bad.output
    empty = runner.invoke(app, ["verify", new_postgresql_url(), "--quiet"])
    assert empty.exit_code == 2
    assert "no ledger-mode restore" in empty.output

"""The blocks table and the health view: zero gaps on the simulator's archive, exactly the gaps made.

Expected counts come from the simulator's truth (history.jsonl, the summary's block count) and
from the rows the test removes or copies, never from the code under test.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from athena.ddl import blocks_columns, render_blocks_ddl
from athena.local import LocalEngine
from firehose_transform.schema import PARTITION_KEYS, RecordType, columns_for, glue_types

if TYPE_CHECKING:
    from .conftest import Archived

GAP_COLUMNS = ("conflicts", "version_gaps", "missing_versions", "block_seq_gaps", "missing_blocks")


def test_blocks_ddl_covers_the_schema_and_projection() -> None:
    ddl = render_blocks_ddl(database="qldb", location="s3://b/a", ledgers=["vehicle-registration"])
    tree = sqlglot.parse_one(ddl, read="athena")
    assert isinstance(tree, exp.Create)
    table = tree.find(exp.Table)
    assert table is not None
    assert (table.db, table.name) == ("qldb", "blocks")
    types = {c.name: c.args["kind"].sql("hive").lower() for c in tree.find_all(exp.ColumnDef)}
    expected = {c.name: glue_types()[c.name] for c in columns_for(RecordType.BLOCK_SUMMARY)}
    assert types == expected | {k.name: "string" for k in PARTITION_KEYS}
    assert [c.name for c in blocks_columns()] == list(expected)
    assert "'projection.p_record_type.values'='block_summary'" in ddl
    assert "'projection.p_table.values'='_block'" in ddl  # the sentinel, not sanitised to %5Fblock
    assert "'projection.p_ledger.values'='vehicle-registration'" in ddl
    assert "'storage.location.template'='s3://b/a/p_ledger=${p_ledger}/p_record_type=" in ddl


def test_blocks_table_holds_every_block(archived: Archived, engine: LocalEngine) -> None:
    rows = engine.query("SELECT DISTINCT block_seq FROM blocks ORDER BY block_seq")
    assert rows.column("block_seq").to_pylist() == list(range(archived.summary.blocks))
    assert {t["block_seq"] for t in archived.truth("history")} <= set(range(archived.summary.blocks))


def health_rows(engine: LocalEngine) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = engine.query("SELECT * FROM health").to_pylist()
    return rows


def test_health_of_a_sound_archive(archived: Archived, engine: LocalEngine) -> None:
    truth = archived.truth("history")
    rows = health_rows(engine)
    per_table = {r["table_name"]: r["revisions"] for r in rows if r["table_name"] is not None}
    assert per_table == dict(Counter(t["table"] for t in truth))
    for row in rows:
        assert all(row[c] == 0 for c in GAP_COLUMNS), row
    archived_rows = engine.query("SELECT COUNT(*) AS n FROM revisions").column("n")[0].as_py()
    assert sum(r["duplicate_copies"] for r in rows) == archived_rows - len(truth) > 0
    assert all(r["tx_date"].isoformat() == "2019-12-11" for r in rows)


def rewrite(folder: Path, keep: Any) -> int:
    """Filter every Parquet object under `folder` with `keep` (rows -> mask); return rows removed."""
    removed = 0
    for path in sorted(folder.rglob("*.parquet")):
        rows = pq.read_table(path)
        kept = rows.filter(keep(rows))
        removed += rows.num_rows - kept.num_rows
        if kept.num_rows != rows.num_rows:
            pq.write_table(kept, path)
    return removed


def test_health_finds_exactly_the_gaps_made(archived: Archived, tmp_path: Path) -> None:
    truth = archived.truth("history")
    versions: dict[str, set[int]] = {}
    for t in truth:
        versions.setdefault(t["doc_id"], set()).add(t["version"])
    # GIVEN a copy of the archive without version 1 of a document that has a version 2...
    doc = next(t for t in truth if t["version"] == 1 and 2 in versions[t["doc_id"]])
    archive = tmp_path / "archive"
    shutil.copytree(archived.archive, archive)
    revisions = next(archive.glob("p_ledger=*/p_record_type=revision_details"))
    removed = rewrite(
        revisions,
        lambda r: pc.invert(pc.and_(pc.equal(r["doc_id"], doc["doc_id"]), pc.equal(r["version"], 1))),
    )
    assert removed >= 1
    # ...without two consecutive blocks in the middle of the journal...
    gap_at = archived.summary.blocks // 2
    blocks = next(archive.glob("p_ledger=*/p_record_type=block_summary"))
    assert rewrite(blocks, lambda r: pc.invert(pc.is_in(r["block_seq"], pa.array([gap_at, gap_at + 1])))) >= 2
    # ...and with one more copy of a revision that had a single copy
    with LocalEngine.open(archived.archive) as before:
        base = {r["table_name"]: r for r in health_rows(before) if r["table_name"]}
        single = before.query(
            "SELECT * FROM history WHERE copies = 1 AND doc_id <> ? LIMIT 1", [doc["doc_id"]]
        )
    target = single.to_pylist()[0]
    part = next(revisions.glob(f"p_table={target['table_name']}/p_date=*"))
    for path in sorted(part.glob("*.parquet")):
        rows = pq.read_table(path)
        mask = pc.and_(
            pc.equal(rows["doc_id"], target["doc_id"]), pc.equal(rows["version"], target["version"])
        )
        if rows.filter(mask).num_rows:
            pq.write_table(rows.filter(mask), part / "extra.parquet")
            break
    # WHEN the health view runs
    with LocalEngine.open(archive) as engine:
        rows = health_rows(engine)
    # THEN it reports exactly that version gap, that block gap and that duplicate
    got = {r["table_name"]: r for r in rows}
    for table, row in got.items():
        if table is None:
            assert (row["block_seq_gaps"], row["missing_blocks"]) == (1, 2)
            assert (row["version_gaps"], row["revisions"]) == (0, 0)
            continue
        gap = table == doc["table"]
        assert (row["version_gaps"], row["missing_versions"]) == ((1, 1) if gap else (0, 0)), table
        assert row["revisions"] == base[table]["revisions"] - gap
        extra_copies = (table == target["table_name"]) - (removed - 1 if gap else 0)
        assert row["duplicate_copies"] == base[table]["duplicate_copies"] + extra_copies, table
        assert (row["block_seq_gaps"], row["conflicts"]) == (0, 0)

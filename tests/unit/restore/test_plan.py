"""The pure restore plan: batches of whole blocks, shards, refusals, names, checkpoints."""

from __future__ import annotations

import datetime as dt

import pytest

from restore.batch import RevisionRow, batch_effects
from restore.checkpoint import Checkpoint, RunIdentity, resume_point
from restore.errors import CheckpointError, ConflictError, GapError, IdentifierError, RestoreError
from restore.identifiers import IdentifierRules, parse_table_map, table_names
from restore.plan import NO_BLOCK_CUT, Gap, RestorePlan, check_plan, in_shard, parse_shard, split_batches

T0 = dt.datetime(2024, 1, 1)


def row(
    doc_id: str, version: int, block_seq: int, *, deleted: bool = False, redacted: bool = False
) -> RevisionRow:
    return RevisionRow(
        table_name="T",
        doc_id=doc_id,
        version=version,
        block_seq=block_seq,
        tx_id="tx",
        tx_time=T0,
        revision_hash=f"h{doc_id}{version}{redacted}",
        data_hash="d" if redacted else None,
        is_deleted=deleted,
        is_redacted=redacted,
        data_json=None if deleted or redacted else "{}",
        content_hash=None,
    )


def test_batches_never_split_a_block() -> None:
    rows = [row(f"d{i}", 0, i // 3) for i in range(10)]  # blocks of 3 revisions
    batches = list(split_batches(rows, 4))
    assert [len(b.rows) for b in batches] == [6, 4]
    assert [(b.first_block_seq, b.last_block_seq) for b in batches] == [(0, 1), (2, 3)]
    assert [r for b in batches for r in b.rows] == rows


def test_effects_keep_the_newest_and_let_deletions_win() -> None:
    effects = batch_effects(
        [row("a", 0, 1), row("a", 2, 3), row("a", 1, 2), row("b", 0, 1), row("b", 1, 2, deleted=True)]
    )["T"]
    assert [(r.doc_id, r.version) for r in effects.upserts] == [("a", 2)]
    assert [(r.doc_id, r.version) for r in effects.tombstones] == [("b", 1)]
    assert [(r.doc_id, r.version) for r in effects.history] == [
        ("a", 0),
        ("a", 1),
        ("a", 2),
        ("b", 0),
        ("b", 1),
    ]


def test_a_redacted_copy_wins_over_its_unredacted_twin() -> None:
    effects = batch_effects([row("a", 0, 1), row("a", 0, 1, redacted=True), row("a", 0, 1)])["T"]
    assert [r.is_redacted for r in effects.history] == [True]
    assert [r.is_redacted for r in effects.upserts] == [True]


def test_shards_partition_documents() -> None:
    ids = [f"doc-{i}" for i in range(2000)]
    owners = [[i for i in range(1, 5) if in_shard(d, (i, 4))] for d in ids]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(1 for o in owners if o == [i]) for i in range(1, 5)]
    assert min(sizes) > 400
    assert all(in_shard(d, (1, 1)) for d in ids)


@pytest.mark.parametrize("text", ["0/2", "3/2", "a/b", "2", "1/0"])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(RestoreError, match="i/n"):
        parse_shard(text)


def plan(**kwargs: object) -> RestorePlan:
    base: dict[str, object] = {
        "tables": (),
        "block_cut": NO_BLOCK_CUT,
        "gaps": (),
        "conflicts": (),
        "chunks": (),
        "start_after": -1,
    }
    base.update(kwargs)
    return RestorePlan(**base)  # type: ignore[arg-type]


def test_conflicts_always_stop_gaps_unless_allowed() -> None:
    with pytest.raises(ConflictError, match="T/a version 3"):
        check_plan(plan(conflicts=(("T", "a", 3),)), allow_gaps=True)
    gap = Gap("missing_versions", "T", "a", 7, "versions 1-1 missing before version 2")
    with pytest.raises(GapError, match="T/a at block 7"):
        check_plan(plan(gaps=(gap,)), allow_gaps=False)
    check_plan(plan(gaps=(gap,)), allow_gaps=True)


def test_identifier_rules_per_engine() -> None:
    mysql = IdentifierRules(max_length=64, bmp_only=True)
    postgres = IdentifierRules(max_length=63, unit="bytes")
    assert table_names(["Ünïcødé;`\"'"], mysql)["Ünïcødé;`\"'"].history == "Ünïcødé;`\"'_history"
    with pytest.raises(IdentifierError, match="U\\+FFFF"):
        table_names(["emoji😀"], mysql)
    name = "é" * 28  # 56 bytes + "_history" = 64 bytes > 63, but 36 characters
    with pytest.raises(IdentifierError, match="64 bytes long"):
        table_names([name], postgres)
    assert table_names([name], mysql)[name].current == name
    with pytest.raises(IdentifierError, match="restore's own tables"):
        table_names(["qldb_restore_checkpoint"], mysql)
    with pytest.raises(IdentifierError, match="white space"):
        table_names([" padded"], mysql)
    mapped = table_names(["x" * 70], mysql, parse_table_map(["x" * 70 + "=short"]))
    assert mapped["x" * 70].current == "short"


IDENTITY = RunIdentity(tables=(), history=True, as_of_block=None, as_of_time=None, shard="1/1")


def saved(last: int, *, completed: bool, identity: RunIdentity = IDENTITY, fmt: int = 1) -> Checkpoint:
    return Checkpoint(
        restore_id="restore", identity=identity, last_block_seq=last, completed=completed, format_version=fmt
    )


def test_resume_points() -> None:
    assert resume_point(saved(41, completed=False), IDENTITY, resume=True, incremental=False) == 41
    with pytest.raises(CheckpointError, match="--resume"):
        resume_point(saved(41, completed=False), IDENTITY, resume=False, incremental=False)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        resume_point(None, IDENTITY, resume=True, incremental=False)
    other = RunIdentity(tables=("T",), history=True, as_of_block=None, as_of_time=None, shard="1/1")
    with pytest.raises(CheckpointError, match="other options"):
        resume_point(saved(41, completed=False), other, resume=True, incremental=False)
    with pytest.raises(CheckpointError, match="upgrade"):
        resume_point(saved(41, completed=False, fmt=2), IDENTITY, resume=True, incremental=False)
    later = RunIdentity(
        tables=(), history=True, as_of_block=None, as_of_time="2024-01-01T00:00:00", shard="1/1"
    )
    assert resume_point(saved(9, completed=True), later, resume=False, incremental=True) == 9

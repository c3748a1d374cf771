"""The simulated journal: determinism, hashes, Ion realism, redaction and the ground truth.

Expected values are recomputed with the shared primitives (`journal.ion_hash`, `journal.merkle`)
from what the simulator wrote, or read from its truth files; never taken from simulator internals.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from amazon.ion import simpleion
from amazon.ion.core import IonType, TimestampPrecision
from amazon.ion.simple_types import IonPyNull

from journal.export import read_export
from journal.ion_hash import ion_hash
from journal.merkle import IncrementalMerkle, dot, merkle
from journal.records import Block, Revision, RevisionKind
from journal.simulate import (
    ALL_OUTPUTS,
    EMPTY_DATA_HASH,
    OperationMix,
    SimulationConfig,
    SimulationConfigError,
    SimulationSummary,
    simulate_blocks,
    write_simulation,
)

if TYPE_CHECKING:
    from journal.ion_values import IonValue

SMALL = SimulationConfig(revisions=3_000, seed=11, mix=OperationMix(redact=0.05))


@dataclass(frozen=True)
class Run:
    out: Path
    summary: SimulationSummary


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("sim")
    return Run(out, write_simulation(out, SMALL))


@pytest.fixture(scope="module")
def blocks() -> list[Block]:
    return [s.block for s in simulate_blocks(SMALL)]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def all_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def walk(value: IonValue) -> Iterator[IonValue]:
    yield value
    if isinstance(value, IonPyNull):
        return
    if value.ion_type is IonType.STRUCT:
        for _, v in value.items():
            yield from walk(v)
    elif value.ion_type in (IonType.LIST, IonType.SEXP):
        for v in value:
            yield from walk(v)


# --- determinism ------------------------------------------------------------------------------


def test_same_config_gives_byte_identical_outputs(tmp_path: Path) -> None:
    config = SimulationConfig(revisions=400, seed=5)
    write_simulation(tmp_path / "a", config)
    write_simulation(tmp_path / "b", config)
    a, b = all_files(tmp_path / "a"), all_files(tmp_path / "b")
    assert {k.split("/")[0] for k in a} == ALL_OUTPUTS
    assert a == b


def test_another_seed_gives_other_outputs(tmp_path: Path) -> None:
    write_simulation(tmp_path / "a", SimulationConfig(revisions=200, seed=5), outputs=frozenset({"truth"}))
    write_simulation(tmp_path / "b", SimulationConfig(revisions=200, seed=6), outputs=frozenset({"truth"}))
    history_a = (tmp_path / "a/truth/history.jsonl").read_bytes()
    history_b = (tmp_path / "b/truth/history.jsonl").read_bytes()
    assert history_a != history_b


def test_delivery_knobs_do_not_change_the_journal(tmp_path: Path) -> None:
    plain = SimulationConfig(revisions=300, seed=9, shards=1, duplicate_rate=0.0, out_of_order_window=0)
    faulty = SimulationConfig(revisions=300, seed=9, shards=5, duplicate_rate=0.3, out_of_order_window=40)
    write_simulation(tmp_path / "a", plain, outputs=frozenset({"truth", "kinesis"}))
    write_simulation(tmp_path / "b", faulty, outputs=frozenset({"truth", "kinesis"}))
    for name in ("history.jsonl", "final.jsonl"):
        assert (tmp_path / "a/truth" / name).read_bytes() == (tmp_path / "b/truth" / name).read_bytes()


def test_a_rerun_into_the_same_folder_leaves_no_stale_files(tmp_path: Path) -> None:
    write_simulation(tmp_path, SimulationConfig(revisions=300, seed=1, shards=4, export_blocks_per_object=10))
    write_simulation(
        tmp_path, SimulationConfig(revisions=300, seed=1, shards=1, export_blocks_per_object=1000)
    )
    assert len(list((tmp_path / "kinesis").iterdir())) == 1
    assert len(list((tmp_path / "export").rglob("*.ion"))) == 1


# --- the journal -------------------------------------------------------------------------------


def test_revision_count_and_sequence_numbers(blocks: list[Block]) -> None:
    assert sum(len(b.revisions) for b in blocks) == SMALL.revisions
    assert [b.block_seq for b in blocks] == list(range(len(blocks)))
    assert all(b.transaction_info is None for b in blocks[: SMALL.system_blocks])
    ddl = blocks[SMALL.system_blocks : SMALL.system_blocks + len(SMALL.tables)]
    for block, table in zip(ddl, SMALL.tables, strict=True):
        info: IonValue = block.transaction_info
        texts = [str(s["statement"]) for s in info["statements"]]
        assert texts[0] == f"CREATE TABLE {table}"
        assert all(t.startswith(f"CREATE INDEX ON {table} (") for t in texts[1:])
        assert not block.revisions
        assert all(s.doc_id is None for s in block.summaries)


def test_times_increase_in_milliseconds(blocks: list[Block]) -> None:
    stamps = [b.timestamp for b in blocks]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)
    for block in blocks:
        stamp: IonValue = block.timestamp
        assert stamp.precision == TimestampPrecision.SECOND
        assert stamp.fractional_precision == 3
        for revision in block.revisions:
            assert revision.tx_time <= block.timestamp
        if block.transaction_info is not None:
            starts = [s["startTime"] for s in block.transaction_info["statements"]]
            assert starts == sorted(starts)
            assert all(s <= r.tx_time for s in starts for r in block.revisions)


def test_transactions_respect_qldb_limits(blocks: list[Block]) -> None:
    for block in blocks:
        assert len(block.revisions) <= SMALL.max_documents_per_transaction <= 40
        assert len({r.doc_id for r in block.revisions}) == len(block.revisions)
        if block.redaction_info is not None:
            assert len(block.redaction_info["revisions"]) == 1  # one redaction per transaction
            assert not block.revisions


def test_hash_chain_holds(blocks: list[Block]) -> None:
    digest = IncrementalMerkle()
    previous = b""
    for block in blocks:
        # GIVEN a block as the simulator emitted it
        entries = list(block.entries_hash_list)
        # THEN every hash is what QLDB-FORMATS.md says
        assert block.previous_block_hash == previous
        assert merkle(entries) == block.entries_hash
        assert dot(block.entries_hash, block.previous_block_hash) == block.block_hash
        assert entries[1] == merkle([s.revision_hash for s in block.summaries])
        if block.transaction_info is None:
            assert len(entries) == 3
        else:
            assert entries[3] == ion_hash(block.transaction_info)
            for statement in block.transaction_info["statements"]:
                assert bytes(statement["statementDigest"]) == ion_hash(statement["statement"])
        if block.redaction_info is not None:
            assert len(entries) == 5
            assert entries[4] == ion_hash(block.redaction_info)
        for revision in block.revisions:
            assert revision.revision_hash == expected_revision_hash(revision)
        previous = block.block_hash
        digest.add(block.block_hash)
    assert digest.root() == merkle([b.block_hash for b in blocks])


def expected_revision_hash(revision: Revision) -> bytes:
    if revision.data is not None:
        return dot(ion_hash(revision.metadata), ion_hash(revision.data))
    if revision.data_hash is not None:
        return dot(ion_hash(revision.metadata), revision.data_hash)
    return dot(ion_hash(revision.metadata), hashlib.sha256(b"").digest())  # unconfirmed candidate H1


def test_deleted_revision_hash_is_candidate_h1(blocks: list[Block]) -> None:
    deleted = [r for b in blocks for r in b.revisions if r.kind is RevisionKind.DELETED]
    assert deleted
    assert hashlib.sha256(b"").digest() == EMPTY_DATA_HASH
    assert all("data" not in r.ion and "dataHash" not in r.ion for r in deleted)


def test_versions_follow_each_other_and_deletes_are_final(blocks: list[Block]) -> None:
    last: dict[str, Revision] = {}
    for block in blocks:
        for revision in block.revisions:
            before = last.get(revision.doc_id)
            assert revision.version == (0 if before is None else before.version + 1)
            assert before is None or before.kind is not RevisionKind.DELETED
            assert revision.metadata["id"] == revision.doc_id
            assert revision.metadata["txId"] == block.tx_id
            last[revision.doc_id] = revision


def test_transaction_info_maps_documents_to_statements(blocks: list[Block]) -> None:
    shared = 0
    for block in blocks:
        if not block.revisions:
            continue
        info: IonValue = block.transaction_info
        texts = [str(s["statement"]) for s in info["statements"]]
        docs = info["documents"]
        assert sorted(docs) == sorted(r.doc_id for r in block.revisions)
        for revision in block.revisions:
            entry = docs[revision.doc_id]
            assert (str(entry["tableName"]), str(entry["tableId"])) == (
                revision.table_name,
                revision.table_id,
            )
            for i in entry["statements"]:
                assert revision.table_name in texts[i]
                assert "?" in texts[i]
        refs = Counter(i for r in block.revisions for i in docs[r.doc_id]["statements"])
        shared += any(n > 1 for n in refs.values())
    assert shared  # some statements insert several documents


def test_redactions_target_inactive_revisions_and_show_as_redacted(blocks: list[Block]) -> None:
    by_key = {(r.doc_id, r.version): (b, r) for b in blocks for r in b.revisions}
    redactions = [b for b in blocks if b.redaction_info is not None]
    assert redactions
    for block in redactions:
        redaction: IonValue = block.redaction_info
        (request,) = redaction["revisions"]
        key = (str(request["documentId"]), int(request["version"]))
        target_block, target = by_key[key]
        assert target.kind is RevisionKind.REDACTED
        assert target_block.block_seq < block.block_seq
        assert int(request["blockAddress"]["sequenceNo"]) == target_block.block_seq
        assert str(request["tableId"]) == target.table_id
        newer_block, _ = by_key[(key[0], key[1] + 1)]  # only inactive revisions can be redacted
        assert newer_block.block_seq < block.block_seq
        assert "data" not in target.ion
        assert bytes(target.ion["dataHash"]) == target.data_hash
    redacted = sum(r.kind is RevisionKind.REDACTED for b in blocks for r in b.revisions)
    assert redacted == len(redactions)


def test_system_revisions_are_hash_only_leaves(blocks: list[Block]) -> None:
    user_blocks_with_system = 0
    for block in blocks:
        items = block.ion["revisions"]
        assert len(items) == len(block.summaries)
        for item, summary in zip(items, block.summaries, strict=True):
            if summary.doc_id is None:
                assert list(item) == ["hash"]
        user_blocks_with_system += bool(block.revisions) and any(s.doc_id is None for s in block.summaries)
    assert user_blocks_with_system


def test_ids_are_22_base62_characters(blocks: list[Block]) -> None:
    ids = {b.tx_id for b in blocks} | {r.doc_id for b in blocks for r in b.revisions}
    ids |= {b.address.strand_id for b in blocks} | {r.table_id or "" for b in blocks for r in b.revisions}
    assert all(len(i) == 22 and i.isalnum() and i.isascii() for i in ids)


def test_ion_values_are_realistic(blocks: list[Block]) -> None:
    seen: Counter[str] = Counter()
    for block in blocks:
        for revision in block.revisions:
            if revision.data is None:
                continue
            for v in walk(revision.data):
                if isinstance(v, IonPyNull):
                    seen[f"null.{v.ion_type.name.lower()}"] += 1
                elif v.ion_type is IonType.DECIMAL:
                    seen[f"decimal exp {v.as_tuple().exponent}"] += 1
                elif v.ion_type is IonType.TIMESTAMP:
                    seen[f"timestamp {TimestampPrecision(v.precision).name}"] += 1
                else:
                    seen[v.ion_type.name] += 1
    for kind in ("decimal exp -2", "decimal exp -1", "decimal exp 0", "timestamp DAY", "timestamp MINUTE"):
        assert seen[kind], kind
    for kind in (
        "timestamp SECOND",
        "timestamp MONTH",
        "null.string",
        "null.timestamp",
        "SYMBOL",
        "LIST",
        "INT",
    ):
        assert seen[kind], kind
    assert seen["STRUCT"] > seen["LIST"] > 0  # nested Owners structs, SecondaryOwners lists


def test_values_hash_the_same_after_an_ion_round_trip(blocks: list[Block]) -> None:
    for block in blocks[:400]:
        reloaded = simpleion.loads(simpleion.dumps(block.ion, binary=True))
        assert ion_hash(reloaded) == ion_hash(block.ion)
        assert simpleion.dumps(reloaded, binary=True) == simpleion.dumps(block.ion, binary=True)


# --- ground truth --------------------------------------------------------------------------------


def test_history_holds_every_revision_once_in_block_order(run: Run, blocks: list[Block]) -> None:
    history = read_jsonl(run.out / "truth/history.jsonl")
    assert [(h["doc_id"], h["version"]) for h in history] == [
        (r.doc_id, r.version) for b in blocks for r in b.revisions
    ]
    assert [h["block_seq"] for h in history] == sorted(h["block_seq"] for h in history)
    for row, revision in zip(history, (r for b in blocks for r in b.revisions), strict=True):
        assert base64.b64decode(row["revision_hash"]) == revision.revision_hash
        assert row["kind"] == revision.kind.value
        assert (row["data"] is None) == (revision.data is None)
        if row["data"] is not None:
            assert ion_hash(simpleion.loads(row["data"])) == ion_hash(revision.data)
        assert row["tx_time"].endswith("Z")
        assert len(row["tx_time"]) == 24


def test_final_state_is_the_last_version_of_each_live_document(run: Run) -> None:
    history = read_jsonl(run.out / "truth/history.jsonl")
    last: dict[str, dict[str, Any]] = {}
    for row in history:
        last[row["doc_id"]] = row
    expected = {k: v for k, v in last.items() if v["kind"] != "deleted"}
    final = read_jsonl(run.out / "truth/final.jsonl")
    assert len(final) == len({f["doc_id"] for f in final})
    assert {f["doc_id"]: f for f in final} == expected


def test_summary_matches_the_history(run: Run, blocks: list[Block]) -> None:
    summary = json.loads((run.out / "truth/summary.json").read_text())
    assert summary == run.summary.to_json()
    history = read_jsonl(run.out / "truth/history.jsonl")
    counts: dict[str, Counter[str]] = {}
    for row in history:
        counts.setdefault(row["table"], Counter())[row["kind"]] += 1
    assert {t: {k: n for k, n in c.items() if n} for t, c in summary["counts"].items()} == {
        t: dict(c) for t, c in counts.items()
    }
    assert summary["revisions"] == len(history) == SMALL.revisions
    assert summary["blocks"] == len(blocks)
    assert summary["tip"] == {"strandId": blocks[-1].address.strand_id, "sequenceNo": blocks[-1].block_seq}
    assert base64.b64decode(summary["tip_block_hash"]) == blocks[-1].block_hash
    assert base64.b64decode(summary["digest"]) == merkle([b.block_hash for b in blocks])
    assert sum(summary["final_documents"].values()) == len(read_jsonl(run.out / "truth/final.jsonl"))


def test_export_holds_the_same_journal(run: Run, blocks: list[Block]) -> None:
    exported = list(read_export(run.out / "export"))
    assert [b.block_hash for b in exported] == [b.block_hash for b in blocks]
    assert [len(b.revisions) for b in exported] == [len(b.revisions) for b in blocks]


def test_summary_lines_and_json(run: Run) -> None:
    lines = run.summary.summary_lines()
    assert lines
    assert f"{SMALL.revisions:,} revisions" in lines[0]
    json.dumps(run.summary.to_json())


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"revisions": 0}, "revisions"),
        ({"max_documents_per_transaction": 41}, "max_documents_per_transaction"),
        ({"tables": ("Person", "Boat")}, "tables"),
        ({"duplicate_rate": 1.5}, "duplicate_rate"),
        ({"export_format": "CSV"}, "export_format"),
        ({"firehose_max_records": 501}, "firehose_max_records"),
        ({"insert": 0.0}, "mix.insert"),
        ({"redact": 2.0}, "mix.redact"),
    ],
)
def test_bad_settings_name_their_field(changes: dict[str, Any], field: str) -> None:
    build = OperationMix if field.startswith("mix.") else SimulationConfig
    with pytest.raises(SimulationConfigError) as err:
        build(**changes)
    assert err.value.field == field
    assert field in str(err.value)


def test_unknown_output_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SimulationConfigError, match="parquet"):
        write_simulation(tmp_path, SimulationConfig(revisions=10), outputs=frozenset({"parquet"}))


def test_table_subset_and_operation_mix(tmp_path: Path) -> None:
    config = SimulationConfig(
        revisions=500,
        seed=2,
        tables=("Vehicle",),
        mix=OperationMix(insert=1.0, update=0.0, delete=0.0, redact=0.0),
    )
    summary = write_simulation(tmp_path, config, outputs=frozenset({"truth"}))
    assert summary.counts == {"Vehicle": {"live": 500, "deleted": 0, "redacted": 0}}
    history = read_jsonl(tmp_path / "truth/history.jsonl")
    assert {h["version"] for h in history} == {0}


def test_output_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; "
        "from journal.simulate import SimulationConfig, write_simulation; "
        "write_simulation(Path(sys.argv[1]), SimulationConfig(revisions=150, seed=4))"
    )
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / hash_seed)], env=env, check=True, timeout=120
        )
    assert all_files(tmp_path / "1") == all_files(tmp_path / "2")


def test_settled_documents_are_in_blocks_already_yielded() -> None:
    seen: set[str] = set()
    last_seq = -1
    for simulated in simulate_blocks(SimulationConfig(revisions=1_500, seed=3, live_documents=100)):
        last_seq = simulated.block.block_seq
        for revision in simulated.settled:
            assert revision.block_seq <= last_seq
            assert revision.kind is RevisionKind.LIVE
            assert revision.doc_id not in seen
            seen.add(revision.doc_id)
    assert len(seen) > 100  # documents were retired from the working set as it filled up

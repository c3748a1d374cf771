"""Property: any permutation of any duplicated subset of revisions, applied in chunks, converges.

The reference is the same revisions applied once each, in block order, in one batch. Revisions
come from the simulator's ground truth (lives, deletes and redactions of a DMV ledger).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from functools import cache
from pathlib import Path

from amazon.ion import simpleion
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firehose_transform.normalise import ion_to_json
from journal.simulate import SimulationConfig, write_simulation
from restore.batch import RevisionBatch, RevisionRow
from restore.checkpoint import Checkpoint, RunIdentity
from restore.content import content_hash
from restore.identifiers import table_names
from restore.targets.sqlite import SqliteTarget

IDENTITY = RunIdentity(tables=(), history=True, as_of_block=None, as_of_time=None, shard="1/1")
CHECKPOINT = Checkpoint(restore_id="restore", identity=IDENTITY, last_block_seq=0, completed=False)


@cache
def pool() -> tuple[RevisionRow, ...]:
    """The revisions of a small simulated ledger, from its truth."""
    with tempfile.TemporaryDirectory() as tmp:
        write_simulation(Path(tmp), SimulationConfig(revisions=120, seed=3), outputs=frozenset({"truth"}))
        lines = (Path(tmp) / "truth" / "history.jsonl").read_text().splitlines()
    rows = []
    for line in lines:
        t = json.loads(line)
        data_json = None if t["data"] is None else json.dumps(ion_to_json(simpleion.loads(t["data"])))
        rows.append(
            RevisionRow(
                table_name=t["table"],
                doc_id=t["doc_id"],
                version=t["version"],
                block_seq=t["block_seq"],
                tx_id=t["tx_id"],
                tx_time=dt.datetime.fromisoformat(t["tx_time"].replace("Z", "+00:00")).replace(tzinfo=None),
                revision_hash=t["revision_hash"],
                data_hash="x" if t["kind"] == "redacted" else None,
                is_deleted=t["kind"] == "deleted",
                is_redacted=t["kind"] == "redacted",
                data_json=data_json,
                content_hash=content_hash(data_json),
            )
        )
    kinds = {(r.is_deleted, r.is_redacted) for r in rows}
    assert kinds == {(False, False), (True, False), (False, True)}, "the pool lacks a kind of revision"
    return tuple(rows)


def final_state(rows: list[RevisionRow], chunk: int, folder: str, name: str) -> tuple[object, ...]:
    target = SqliteTarget(f"sqlite:///{folder}/{name}.db")
    names = table_names({r.table_name for r in pool()}, target.capabilities.identifiers)
    target.ensure_schema(list(names.values()), history=True)
    for start in range(0, len(rows), chunk):
        part = tuple(rows[start : start + chunk])
        target.apply(
            RevisionBatch(part, part[0].block_seq, part[-1].block_seq), names, CHECKPOINT, history=True
        )
    state = tuple(
        (list(target.fetch_current(n)), list(target.fetch_history(n))) for _, n in sorted(names.items())
    )
    target.close()
    return state


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_order_any_duplicates_any_chunks_converge(data: st.DataObject) -> None:
    revisions = pool()
    subset = data.draw(
        st.lists(st.sampled_from(range(len(revisions))), min_size=1, max_size=250), label="subset"
    )
    shuffled = data.draw(st.permutations(subset), label="order")
    chunk = data.draw(st.integers(min_value=1, max_value=40), label="chunk")
    ordered = sorted(
        set(subset), key=lambda i: (revisions[i].block_seq, revisions[i].doc_id, revisions[i].version)
    )
    with tempfile.TemporaryDirectory() as folder:
        expected = final_state([revisions[i] for i in ordered], len(ordered), folder, "ordered")
        got = final_state([revisions[i] for i in shuffled], chunk, folder, "shuffled")
    assert got == expected

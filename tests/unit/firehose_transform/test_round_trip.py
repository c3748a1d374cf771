"""Round trip on simulated ledgers: every revision row re-verifies from its Ion text, counts match.

Expected values come from the simulator's ground truth (truth/history.jsonl, summary), never
from the code under test.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from amazon.ion import simpleion

from firehose_transform.handler import transform_event
from firehose_transform.schema import arrow_schema, ndjson_to_arrow
from journal.ion_hash import ion_hash
from journal.merkle import dot, merkle
from journal.simulate import EMPTY_DATA_HASH

Rows = Callable[[dict[str, Any]], list[dict[str, Any]]]


def transform_all(sim: Any, ok_rows: Rows) -> tuple[list[dict[str, Any]], Counter[str], bytes]:
    rows: list[dict[str, Any]] = []
    results: Counter[str] = Counter()
    ndjson = b""
    for event in sim.events():
        response = transform_event(event)
        assert [r["recordId"] for r in response["records"]] == [r["recordId"] for r in event["records"]]
        for result in response["records"]:
            results[result["result"]] += 1
            rows += ok_rows(result)
            ndjson += base64.b64decode(result["data"])
    return rows, results, ndjson


def recompute(row: dict[str, Any]) -> bytes:
    revision = simpleion.loads(row["revision_ion"])
    md_hash = ion_hash(revision["metadata"])
    if row["is_redacted"]:
        return dot(md_hash, base64.b64decode(row["data_hash"]))
    if row["is_deleted"]:
        return dot(md_hash, EMPTY_DATA_HASH)  # the simulator's convention (hypothesis H1)
    return dot(md_hash, ion_hash(revision["data"]))


def check_ledger(sim: Any, ok_rows: Rows) -> list[dict[str, Any]]:
    # GIVEN a simulated ledger's Firehose events (duplicates, reordering, deletes, redactions)
    # WHEN every event goes through the handler
    rows, results, ndjson = transform_all(sim, ok_rows)
    # THEN nothing fails, and the rows convert to Arrow with the archive schema
    assert set(results) == {"Ok"}
    assert ndjson_to_arrow(ndjson).schema.equals(arrow_schema())
    truth = {(t["doc_id"], t["version"]): t for t in sim.history()}
    revisions = [r for r in rows if r["record_type"] == "REVISION_DETAILS"]
    # AND every revision of the truth is there (duplicates may repeat it), and only those
    assert {(r["doc_id"], r["version"]) for r in revisions} == set(truth)
    for row in revisions:
        t = truth[(row["doc_id"], row["version"])]
        assert (row["table_name"], row["table_id"], row["block_seq"], row["tx_id"], row["tx_time"]) == (
            t["table"],
            t["table_id"],
            t["block_seq"],
            t["tx_id"],
            t["tx_time"],
        )
        assert (row["is_deleted"], row["is_redacted"]) == (t["kind"] == "deleted", t["kind"] == "redacted")
        assert row["revision_hash"] == t["revision_hash"]
        # AND the hash recomputes from the lossless Ion text alone
        assert base64.b64encode(recompute(row)).decode() == t["revision_hash"], (
            row["doc_id"],
            row["version"],
        )
        if t["data"] is not None:
            data = simpleion.loads(row["revision_ion"])["data"]
            assert simpleion.dumps(data, binary=True) == simpleion.dumps(
                simpleion.loads(t["data"]), binary=True
            )
            assert row["data_json"] is not None
        else:
            assert row["data_json"] is None
    # AND every block is there, its hashes chain and its entries hash recomputes
    blocks = {r["block_seq"]: r for r in rows if r["record_type"] == "BLOCK_SUMMARY"}
    assert len(blocks) == sim.summary.blocks
    for seq, block in blocks.items():
        if seq > 0:
            assert block["previous_block_hash"] == blocks[seq - 1]["block_hash"]
        entries = [base64.b64decode(h) for h in block["entries_hash_list"]]
        assert merkle(entries) == base64.b64decode(block["entries_hash"])
        if block["transaction_info_ion"] is not None:
            assert ion_hash(simpleion.loads(block["transaction_info_ion"])) in entries
    tip = blocks[max(blocks)]
    assert tip["block_hash"] == base64.b64encode(sim.summary.tip_block_hash).decode()
    return rows


def test_kinesis_source_round_trip(simulated: Any, ok_rows: Rows) -> None:
    rows = check_ledger(simulated, ok_rows)
    counts = Counter(r["record_type"] for r in rows)
    # Counts per record type equal the input's: one row per Firehose record (Firehose
    # de-aggregated the KPL records), control records included.
    assert sum(counts.values()) == simulated.summary.firehose_records
    assert counts["CONTROL"] >= 1


def test_direct_put_round_trip(simulated_direct_put: Any, ok_rows: Rows) -> None:
    """Direct PUT: the records are still KPL aggregates, de-aggregated by the handler."""
    rows = check_ledger(simulated_direct_put, ok_rows)
    assert len(rows) > simulated_direct_put.summary.firehose_records  # several rows per recordId
    per_record = Counter(r["firehose_record_id"] for r in rows)
    for rid in per_record:
        indexes = sorted(r["record_index"] for r in rows if r["firehose_record_id"] == rid)
        assert indexes == list(range(per_record[rid]))
    assert all(r["kinesis_partition_key"] for r in rows)


def test_partition_keys_match_the_rows(simulated: Any) -> None:
    for event in simulated.events()[:2]:
        for result in transform_event(event)["records"]:
            keys = result["metadata"]["partitionKeys"]
            for line in base64.b64decode(result["data"]).splitlines():
                row = json.loads(line)
                assert keys["p_ledger"] == row["ledger"] == "vehicle-registration"
                assert keys["p_record_type"] == row["record_type"].lower()
                if row["record_type"] == "REVISION_DETAILS":
                    assert keys["p_table"] == row["table_name"]
                    assert keys["p_date"] == row["tx_time"][:10]
                elif row["record_type"] == "BLOCK_SUMMARY":
                    assert keys["p_table"] == "_block"
                    assert keys["p_date"] == row["block_timestamp"][:10]
                else:
                    assert keys["p_table"] == "_control"

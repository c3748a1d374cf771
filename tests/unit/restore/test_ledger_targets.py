"""The ledger targets' pure parts: DDL parsing, transaction packing, the version guard, URLs, blocks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest

from restore.batch import RevisionBatch
from restore.errors import UnsupportedTargetError
from restore.identifiers import IdentifierRules, table_names
from restore.ledger_archive import BlockRow, ExpectedData, attach_blocks
from restore.ledger_hashes import compare_data_hash_maps
from restore.ledger_verify import is_database_url
from restore.targets.postgresql_ledger import is_ledger_url, plain_url
from restore.targets.qldb import (
    MAX_DOCUMENTS_PER_TRANSACTION,
    _Refused,
    decide,
    pack_transactions,
    parse_ddl,
    parse_qldb_url,
    replay_steps,
    update_statements,
)


@pytest.mark.parametrize(
    ("statement", "parsed"),
    [
        ("CREATE TABLE Person", ("table", "Person", None)),
        (
            "create table VehicleRegistration WITH (aws_tags = `{'team': 'x'}`)",
            ("table", "VehicleRegistration", None),
        ),
        ('CREATE TABLE "we""ird name"', ("table", 'we"ird name', None)),
        ("CREATE INDEX ON Person (GovId)", ("index", "Person", "GovId")),
        ('CREATE INDEX ON "Person" ( "Gov Id" );', ("index", "Person", "Gov Id")),
        ("CREATE INDEX ON Person (Address.City)", None),  # QLDB indexes top-level fields only
        ("DROP TABLE Person", None),
        ("INSERT INTO Person ?", None),
        ("CREATE TABLE Person; DROP TABLE Vehicle", None),
    ],
)
def test_parse_ddl(statement: str, parsed: tuple[str, str, str | None] | None) -> None:
    assert parse_ddl(statement) == parsed


def step(doc_id: str, kind: str = "live", nbytes: int = 0, table: str = "T") -> dict[str, Any]:
    return {"table": table, "id": doc_id, "block": 1, "kind": kind, "ion": "A" * (nbytes * 4 // 3)}


def test_pack_counts_tombstones_and_keeps_a_document_once_per_transaction() -> None:
    deletes = [step(f"d{i}", "deleted") for i in range(30)]
    groups = pack_transactions(deletes)
    assert all(2 * len(g) <= MAX_DOCUMENTS_PER_TRANSACTION - 1 for g in groups)
    assert sum(len(g) for g in groups) == 30
    assert [len(g) for g in pack_transactions([step("a"), step("b"), step("a")])] == [2, 1]
    assert [len(g) for g in pack_transactions([step("a"), step("a", table="U")])] == [2]


def test_pack_respects_the_byte_quota() -> None:
    groups = pack_transactions([step(f"d{i}", nbytes=120_000) for i in range(39)])
    assert len(groups) == 2
    assert all(sum(len(s["ion"]) * 3 // 4 for s in g) <= 4_000_000 for g in groups)


def test_update_statements_quote_every_name() -> None:
    hostile = 'x"; DROP'
    statements = update_statements(hostile, ["a b", "_source_version"], ['c"d'])
    assert statements == [
        'UPDATE "x""; DROP" AS d SET d."a b" = ?, d."_source_version" = ? WHERE d."_source_id" = ?',
        'UPDATE "x""; DROP" AS d REMOVE d."c""d" WHERE d."_source_id" = ?',
    ]


@pytest.mark.parametrize(
    ("version", "held", "tombstone", "action"),
    [
        (0, None, None, "insert"),
        (1, 0, None, "change"),
        (0, 0, None, "skip"),
        (2, 5, None, "skip"),
        (1, None, 1, "skip"),
    ],
)
def test_decide(version: int, held: int | None, tombstone: int | None, action: str) -> None:
    assert decide(version, held, tombstone, "here") == action


@pytest.mark.parametrize(
    ("version", "held", "tombstone", "reason"),
    [
        (3, 1, None, "version 2 is missing"),
        (5, 1, None, "versions 2-4 are missing"),
        (2, None, None, "no earlier version"),
        (4, None, 2, "deleted this document at version 2"),
    ],
)
def test_decide_refuses_gaps(version: int, held: int | None, tombstone: int | None, reason: str) -> None:
    with pytest.raises(_Refused, match=reason) as caught:
        decide(version, held, tombstone, "document D version 3 (block 9)")
    assert caught.value.where == "document D version 3 (block 9)"


def test_qldb_url() -> None:
    u = parse_qldb_url(
        "qldb://new-ledger?region=eu-west-1&endpoint_url=http://127.0.0.1:1&python=/p/bin/python"
    )
    assert (u.ledger, u.region, u.endpoint_url, str(u.python)) == (
        "new-ledger",
        "eu-west-1",
        "http://127.0.0.1:1",
        "/p/bin/python",
    )
    with pytest.raises(UnsupportedTargetError, match="qldb://LEDGER"):
        parse_qldb_url("qldb:///no-ledger")


def test_ledger_urls() -> None:
    assert is_ledger_url("postgresql://u@h/db?options=-csearch_path%3Ds&mode=ledger")
    assert plain_url("postgresql://u@h/db?mode=ledger&options=-csearch_path%3Ds") == (
        "postgresql://u@h/db?options=-csearch_path%3Ds"
    )
    with pytest.raises(UnsupportedTargetError, match="mode=ledger"):
        is_ledger_url("postgresql://u@h/db?mode=fast")
    assert is_database_url("postgres+psycopg://u@h/db")
    assert not is_database_url("./sim/kinesis")


def block(seq: int) -> BlockRow:
    return BlockRow(
        block_seq=seq,
        strand_id="S",
        tx_id=f"t{seq}",
        block_timestamp=dt.datetime(2020, 1, 1),
        block_hash=f"h{seq}",
        entries_hash="e",
        previous_block_hash="",
        entries_hash_list=(),
        statements_json=None,
        revision_summaries_json=None,
        transaction_info_ion=None,
        redaction_info_ion=None,
    )


def test_attach_blocks_gives_every_block_to_one_batch_in_order() -> None:
    batches = [RevisionBatch((), 3, 4), RevisionBatch((), 7, 7)]
    out = attach_blocks(batches, [block(s) for s in range(1, 11)])
    assert [[b.block_seq for b in x.blocks] for x in out] == [[1, 2, 3, 4], [5, 6, 7], [8, 9, 10]]
    assert [(x.first_block_seq, x.last_block_seq) for x in out] == [(1, 4), (5, 7), (8, 10)]
    assert out[-1].rows == ()
    assert attach_blocks([], []) == []


def test_compare_data_hashes_counts_every_difference() -> None:
    expected = [ExpectedData("T", f"d{i}", 1, b"h%d" % i) for i in range(60)]
    actual = {("T", f"d{i}"): b"h%d" % i for i in range(3, 60)} | {("T", "d3"): b"x", ("U", "e"): b"h"}
    report = compare_data_hash_maps(expected, actual)
    assert (report.documents, report.matched) == (60, 56)
    assert (report.differ_count, report.missing_count, report.extra_count) == (1, 3, 1)
    assert not report.ok
    assert report.differ[0].startswith("T/d3 version 1: data hash")
    assert report.extra == ("U/e",)
    assert compare_data_hash_maps(expected[:1], {("T", "d0"): b"h0"}).ok


def test_a_table_created_but_never_written_is_created_in_the_new_ledger() -> None:
    # GIVEN a block whose statements create two tables, one of which no revision ever wrote
    created = dataclasses.replace(
        block(1),
        statements_json=json.dumps(
            [
                {"statement": "CREATE TABLE Person"},
                {"statement": 'CREATE TABLE "Empty ""one"""'},
                {"statement": "CREATE INDEX ON Person (GovId)"},
            ]
        ),
    )
    names = table_names(["Person"], IdentifierRules(max_length=128))
    # WHEN the batch's steps are made THEN both tables are created, the empty one under its own name
    steps = list(replay_steps(RevisionBatch((), 1, 1, blocks=(created,)), names))
    assert [(s["ddl"], s["table"], s["field"]) for s in steps] == [
        ("table", "Person", None),
        ("table", 'Empty "one"', None),
        ("index", "Person", "GovId"),
    ]

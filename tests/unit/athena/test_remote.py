"""Athena as the plan's engine: the parameters as Athena substitutes them, the calls, the answers.

Athena cannot run here. What can be checked: that each plan query with its ``?`` values replaced
by the literals `execution_parameter` renders (as Athena replaces them) answers exactly as the
same query with bound parameters, on the local engine (DuckDB, the project's Athena twin); and
that `AthenaEngine` sends what Athena takes and reads what it returns (moto's Athena).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import sqlglot

from athena.local import LocalEngine
from athena.remote import AthenaEngine, execution_parameter, render_unload
from restore.plan_sql import render_plan_query

if TYPE_CHECKING:
    from tests.unit.athena.conftest import Archived


def substituted(sql: str, params: Sequence[object]) -> str:
    """The statement Athena runs: each ``?`` replaced, in order, by its ExecutionParameters text."""
    parts = sql.split("?")
    assert len(parts) == len(params) + 1, "one value per ?"
    out = parts[0]
    for value, rest in zip(params, parts[1:], strict=True):
        out += execution_parameter(value) + rest
    return out


@pytest.fixture(scope="module")
def gappy(archived: Archived, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    """The archive less every copy of one middle version and one block's summary: every kind of gap."""
    truth = archived.truth("history")
    victim = next(
        t
        for t in truth
        if t["version"] == 1 and any(u["doc_id"] == t["doc_id"] and u["version"] == 2 for u in truth)
    )
    lost_block = sorted({t["block_seq"] for t in truth})[len(truth) // 20]
    copy = tmp_path_factory.mktemp("gappy") / "archive"
    shutil.copytree(archived.archive, copy)
    for path in copy.rglob("*.parquet"):
        table = pq.read_table(path)
        if "p_record_type=block_summary" in str(path):
            drop = pc.equal(table["block_seq"], lost_block)
        else:
            drop = pc.and_(pc.equal(table["doc_id"], victim["doc_id"]), pc.equal(table["version"], 1))
        kept = table.filter(pc.invert(pc.fill_null(drop, False)))
        if kept.num_rows != table.num_rows:
            pq.write_table(kept, path)
    with LocalEngine.open(copy) as opened:
        yield opened


HOSTILE = ["it's", 'a"b', "x'); DROP TABLE revisions; --", "Fahrzeug_Größe", "Person"]


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("plan_tables", [10**9, [], []]),
        ("plan_tables", [400, ["Person", "Vehicle"], ["Person", "Vehicle"]]),
        ("plan_tables", [10**9, HOSTILE, HOSTILE]),
        ("plan_conflicts", [10**9, [], []]),
        ("plan_block_range", [300]),
        ("plan_block_for_time", [dt.datetime(2030, 1, 1)]),
        ("plan_block_for_time", [dt.datetime(2019, 1, 1, tzinfo=dt.UTC)]),
        ("split_revisions", [3, 3, 3, 500, ["Vehicle", "it's"], ["Vehicle", "it's"]]),
        ("split_blocks", [200]),
    ],
)
def test_athena_substitution_answers_as_the_bound_query(
    engine: LocalEngine, query: str, params: list[object]
) -> None:
    sql = render_plan_query(query, database="main")
    bound = engine.query(sql, params)
    literal = engine.query(substituted(sql, params), [])
    assert bound.num_rows > 0 or query == "plan_conflicts"  # the simulated ledger has no conflict
    assert literal.to_pylist() == bound.to_pylist()


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("plan_version_gaps", [10**9, [], []]),
        ("plan_unsummarised", [10**9, [], []]),
        ("plan_missing_revisions", [0, 10**6] * 3),
    ],
)
def test_athena_substitution_finds_the_same_gaps(
    gappy: LocalEngine, query: str, params: list[object]
) -> None:
    sql = render_plan_query(query, database="main")
    bound = gappy.query(sql, params)
    assert bound.num_rows > 0
    assert gappy.query(substituted(sql, params), []).to_pylist() == bound.to_pylist()


def test_a_time_parameter_is_the_same_instant_whatever_its_zone(engine: LocalEngine) -> None:
    sql = render_plan_query("plan_block_for_time", database="main")
    moments = engine.query("SELECT tx_time FROM main.history ORDER BY tx_time LIMIT 1 OFFSET 200").column(0)
    naive = moments[0].as_py()
    zoned = naive.replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=-5)))
    assert engine.query(substituted(sql, [zoned]), []).to_pylist() == engine.query(sql, [naive]).to_pylist()


def test_parameters_render_as_trino_literals() -> None:
    assert execution_parameter("it's") == "'it''s'"
    assert execution_parameter(True) == "true"
    assert execution_parameter(-3) == "-3"
    assert execution_parameter(None) == "NULL"
    assert execution_parameter(["a", "b'c"]) == "ARRAY['a', 'b''c']"
    assert (
        execution_parameter(dt.datetime(2020, 5, 6, 7, 8, 9, 123000)) == "TIMESTAMP '2020-05-06 07:08:09.123'"
    )
    for value in ("x'y", ["a", "it's"], dt.datetime(2020, 1, 1)):
        sqlglot.parse_one(f"SELECT {execution_parameter(value)}", read="athena")  # a literal Athena parses
    with pytest.raises(ValueError, match="longer than Athena takes"):
        execution_parameter(["t" * 100] * 20)
    with pytest.raises(ValueError, match="no Athena literal"):
        execution_parameter(1.5)


def test_unload_refuses_what_it_cannot_quote() -> None:
    with pytest.raises(ValueError, match="s3:// prefix"):
        render_unload("SELECT 1", output="/tmp/out")
    with pytest.raises(ValueError, match="s3:// prefix"):
        render_unload("SELECT 1", output="s3://b/it's/")
    with pytest.raises(ValueError, match="plain names"):
        render_unload("SELECT 1", output="s3://b/p/", partitioned_by=["a b"])
    inner = render_plan_query("split_revisions", database="qldb")
    sql = render_unload(inner, output="s3://b/split/revisions/", partitioned_by=["p_shard"])
    assert sql.endswith("partitioned_by = ARRAY['p_shard'])")
    assert sql.startswith("UNLOAD (\n" + inner + "\n) TO 's3://b/split/revisions/'")


@pytest.fixture
def moto_athena(moto_aws: None) -> Any:
    import boto3

    client = boto3.client("athena", region_name="us-east-1")
    client.create_work_group(Name="restore", Configuration={})
    return client


def _queue_result(
    rows: Sequence[Sequence[str | None]],
    columns: list[tuple[str, str]],
    api: str = "http://motoapi.amazonaws.com",
) -> None:
    """Queue one answer for moto's Athena (in-process, or a moto server at `api`): it runs no SQL."""
    import requests

    result = {
        "rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows],
        "column_info": [
            {"Name": n, "Type": t, "CatalogName": "hive", "SchemaName": "", "TableName": "", "Label": n}
            for n, t in columns
        ],
    }
    body: dict[str, Any] = {"account_id": "123456789012", "region": "us-east-1", "results": [result]}
    requests.post(f"{api}/moto-api/static/athena/query-results", json=body, timeout=10).raise_for_status()


def test_query_sends_parameters_and_reads_typed_rows(moto_athena: Any) -> None:
    # GIVEN an answer with a header row, a NULL and typed columns
    columns = [
        ("table_name", "varchar"),
        ("documents", "bigint"),
        ("first_block", "bigint"),
        ("ok", "boolean"),
    ]
    _queue_result(
        [
            ["table_name", "documents", "first_block", "ok"],
            ["Person", "152", None, "true"],
            ["it's", "3", "7", "false"],
        ],
        columns,
    )
    athena = AthenaEngine(moto_athena, "restore", "qldb", poll_seconds=0)
    # WHEN a plan query runs with parameters
    sql = render_plan_query("plan_tables", database="qldb")
    table = athena.query(sql, [500, ["it's"], ["it's"]], what="plan_tables")
    # THEN the rows come back typed, the header row dropped
    assert table.to_pylist() == [
        {"table_name": "Person", "documents": 152, "first_block": None, "ok": True},
        {"table_name": "it's", "documents": 3, "first_block": 7, "ok": False},
    ]
    # AND Athena got the statement, database, workgroup and the parameters as literals
    run = moto_athena.list_query_executions(WorkGroup="restore")["QueryExecutionIds"]
    sent = moto_athena.get_query_execution(QueryExecutionId=run[0])["QueryExecution"]
    assert sent["Query"] == sql
    assert sent["QueryExecutionContext"]["Database"] == "qldb"
    assert sent["WorkGroup"] == "restore"
    assert sent["ExecutionParameters"] == ["500", "ARRAY['it''s']", "ARRAY['it''s']"]


def test_unload_runs_the_unload_statement(moto_athena: Any) -> None:
    athena = AthenaEngine(moto_athena, "restore", "qldb", poll_seconds=0)
    inner = render_plan_query("split_blocks", database="qldb")
    query_id = athena.unload(inner, [42], output="s3://work/split/blocks/")
    sent = moto_athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert sent["Query"] == render_unload(inner, output="s3://work/split/blocks/")
    assert sent["ExecutionParameters"] == ["42"]

"""Deployment: the rendered plan (SQL parses as Athena, the workgroup is encrypted and capped) and
idempotency, against an in-memory stand-in of Athena and Glue and against moto.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
import sqlglot
from botocore.exceptions import ClientError
from sqlglot import exp

from athena.deploy import (
    MIN_BYTES_SCANNED_CUTOFF,
    DeployPlan,
    TypedViewSpec,
    clients_from_session,
    deploy,
    render_plan,
    render_workgroup,
    steps_sql,
)
from athena.errors import DeployError
from athena.typed import TypedColumn
from athena.views import QUERY_NAMES, VIEW_NAMES

PLAN = DeployPlan(
    database="qldb",
    location="s3://archive-bucket/qldb/",
    workgroup="qldb-archive",
    results_location="s3://results-bucket/athena/",
    ledgers=("vehicle-registration",),
    tables=("Person", "Vehicle"),
    typed_views=(TypedViewSpec("Vehicle", (TypedColumn("Year", "Year", "bigint"),)),),
)


def test_plan_steps_in_order() -> None:
    steps = render_plan(PLAN)
    assert [s.kind for s in steps[:4]] == ["workgroup", "database", "table", "table"]
    assert [s.name for s in steps if s.kind == "table"] == ["qldb.revisions", "qldb.blocks"]
    views = [s.name for s in steps if s.kind == "view"]
    assert views == [f"qldb.{n}" for n in VIEW_NAMES] + ["qldb.vehicle_typed"]
    assert [s.name for s in steps if s.kind == "named_query"] == [f"qldb.{n}" for n in QUERY_NAMES]
    assert {s.action for s in steps} == {"planned"}


def test_every_statement_parses_as_athena() -> None:
    steps = render_plan(PLAN)
    for step in steps:
        if step.sql is None:
            continue
        tree = sqlglot.parse_one(step.sql, read="athena")
        expected = {
            "database": exp.Create,
            "table": exp.Create,
            "view": exp.Create,
            "named_query": exp.Select,
        }
        assert isinstance(tree, expected[step.kind]), step.name
    script = steps_sql(steps)
    assert len(sqlglot.parse(script, read="athena")) == sum(s.sql is not None for s in steps)
    assert script.startswith("-- database qldb\nCREATE DATABASE IF NOT EXISTS `qldb`;")


def test_workgroup_is_encrypted_enforced_and_capped() -> None:
    config = render_workgroup(PLAN)["Configuration"]
    assert config["ResultConfiguration"] == {
        "OutputLocation": "s3://results-bucket/athena/",
        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
    }
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == 10 * 1024**3
    assert config["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}
    kms = DeployPlan(
        database="qldb",
        location="s3://a/",
        workgroup="w",
        results_location="s3://r/",
        encryption="SSE_KMS",
        kms_key="arn:aws:kms:us-east-1:111122223333:key/k",
    )
    assert render_workgroup(kms)["Configuration"]["ResultConfiguration"]["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": "arn:aws:kms:us-east-1:111122223333:key/k",
    }


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"encryption": "SSE_KMS"}, "kms_key"),
        ({"bytes_scanned_cutoff": MIN_BYTES_SCANNED_CUTOFF - 1}, "minimum"),
        ({"results_location": "/tmp/results"}, "s3://"),
    ],
)
def test_unusable_plans(changes: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {
        "database": "qldb",
        "location": "s3://a/",
        "workgroup": "w",
        "results_location": "s3://r/",
    }
    with pytest.raises(DeployError, match=match):
        render_plan(DeployPlan(**(args | changes)))


def test_dry_run_calls_nothing() -> None:
    assert deploy(PLAN, dry_run=True) == render_plan(PLAN)
    with pytest.raises(DeployError, match="no AWS clients"):
        deploy(PLAN)


def not_found(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "absent"}}, "Get")


class FakeAws:
    """Athena and Glue in memory, with AWS's absent-resource errors; records every mutating call."""

    def __init__(self) -> None:
        self.workgroups: dict[str, dict[str, Any]] = {}
        self.databases: set[str] = set()
        self.named: dict[str, dict[str, Any]] = {}
        self.queries: list[str] = []
        self.calls: list[str] = []

    def get_work_group(self, **kw: Any) -> dict[str, Any]:
        if kw["WorkGroup"] not in self.workgroups:
            raise not_found("InvalidRequestException")
        wg = self.workgroups[kw["WorkGroup"]]
        # AWS answers with defaults the request did not set
        return {"WorkGroup": {"Name": kw["WorkGroup"], "Configuration": wg | {"RequesterPaysEnabled": False}}}

    def create_work_group(self, **kw: Any) -> dict[str, Any]:
        self.calls.append("create_work_group")
        self.workgroups[kw["Name"]] = kw["Configuration"]
        return {}

    def update_work_group(self, **kw: Any) -> dict[str, Any]:
        self.calls.append("update_work_group")
        upd = kw["ConfigurationUpdates"]
        wg = self.workgroups[kw["WorkGroup"]]
        wg["ResultConfiguration"] = upd["ResultConfigurationUpdates"]
        wg["BytesScannedCutoffPerQuery"] = upd["BytesScannedCutoffPerQuery"]
        return {}

    def start_query_execution(self, **kw: Any) -> dict[str, Any]:
        assert kw["WorkGroup"] in self.workgroups
        self.queries.append(kw["QueryString"])
        return {"QueryExecutionId": str(len(self.queries))}

    def get_query_execution(self, **kw: Any) -> dict[str, Any]:
        return {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}}

    def list_named_queries(self, **kw: Any) -> dict[str, Any]:
        ids = [q for q, v in self.named.items() if v["WorkGroup"] == kw["WorkGroup"]]
        start = int(kw.get("NextToken", 0))
        page = {"NamedQueryIds": ids[start : start + 2]}
        return page | ({"NextToken": str(start + 2)} if start + 2 < len(ids) else {})

    def get_named_query(self, **kw: Any) -> dict[str, Any]:
        return {"NamedQuery": self.named[kw["NamedQueryId"]] | {"NamedQueryId": kw["NamedQueryId"]}}

    def create_named_query(self, **kw: Any) -> dict[str, Any]:
        self.calls.append("create_named_query")
        qid = uuid.uuid4().hex
        self.named[qid] = dict(kw)
        return {"NamedQueryId": qid}

    def update_named_query(self, **kw: Any) -> dict[str, Any]:
        self.calls.append("update_named_query")
        self.named[kw["NamedQueryId"]]["QueryString"] = kw["QueryString"]
        return {}

    def get_database(self, **kw: Any) -> dict[str, Any]:
        if kw["Name"] not in self.databases:
            raise not_found("EntityNotFoundException")
        return {"Database": {"Name": kw["Name"]}}

    def create_database(self, **kw: Any) -> dict[str, Any]:
        self.calls.append("create_database")
        self.databases.add(kw["DatabaseInput"]["Name"])
        return {}


def test_deploy_twice_creates_nothing_twice() -> None:
    aws = FakeAws()
    # WHEN the plan is deployed twice
    first = deploy(PLAN, athena=aws, glue=aws, poll_seconds=0)
    calls_after_first = list(aws.calls)
    second = deploy(PLAN, athena=aws, glue=aws, poll_seconds=0)
    # THEN the first run creates every resource, the second only re-runs idempotent SQL
    assert {s.kind: s.action for s in first if s.kind in ("workgroup", "database")} == {
        "workgroup": "created",
        "database": "created",
    }
    assert [s.action for s in first if s.kind == "named_query"] == ["created"] * len(QUERY_NAMES)
    assert aws.calls == calls_after_first
    assert {s.action for s in second if s.kind in ("workgroup", "database", "named_query")} == {"unchanged"}
    assert {s.action for s in second if s.kind in ("table", "view")} == {"ran"}
    assert len(aws.named) == len(QUERY_NAMES)
    assert all(
        q.startswith(("CREATE EXTERNAL TABLE IF NOT EXISTS", "CREATE OR REPLACE VIEW")) for q in aws.queries
    )


def test_changed_settings_are_updated_in_place() -> None:
    aws = FakeAws()
    deploy(PLAN, athena=aws, glue=aws, poll_seconds=0)
    qid = next(q for q, v in aws.named.items() if v["Name"] == "qldb.document_history")
    aws.named[qid]["QueryString"] = "SELECT 1"
    changed = dataclasses.replace(PLAN, bytes_scanned_cutoff=2**30)
    steps = deploy(changed, athena=aws, glue=aws, poll_seconds=0)
    actions = {s.name: s.action for s in steps}
    assert actions["qldb-archive"] == "updated"
    assert actions["qldb.document_history"] == "updated"
    assert aws.workgroups["qldb-archive"]["BytesScannedCutoffPerQuery"] == 2**30
    assert len(aws.named) == len(QUERY_NAMES)


def test_a_failed_statement_names_its_step() -> None:
    aws = FakeAws()
    aws.get_query_execution = lambda **kw: {  # type: ignore[method-assign]
        "QueryExecution": {"Status": {"State": "FAILED", "StateChangeReason": "no permission"}}
    }
    with pytest.raises(DeployError, match=r"qldb\.revisions: query 1 FAILED: no permission"):
        deploy(PLAN, athena=aws, glue=aws, poll_seconds=0)


@pytest.fixture
def moto_clients(moto_aws: None) -> tuple[Any, Any]:
    import boto3

    return clients_from_session(boto3.Session(region_name="us-east-1"))


def test_deploy_on_moto_is_idempotent(moto_clients: tuple[Any, Any]) -> None:
    athena, glue = moto_clients
    first = deploy(PLAN, athena=athena, glue=glue, poll_seconds=0)
    second = deploy(PLAN, athena=athena, glue=glue, poll_seconds=0)
    assert {s.action for s in first if s.kind in ("workgroup", "database", "named_query")} == {"created"}
    assert {s.action for s in second if s.kind in ("workgroup", "database", "named_query")} == {"unchanged"}
    assert [w["Name"] for w in athena.list_work_groups()["WorkGroups"]].count("qldb-archive") == 1
    assert len(athena.list_named_queries(WorkGroup="qldb-archive")["NamedQueryIds"]) == len(QUERY_NAMES)
    assert glue.get_database(Name="qldb")["Database"]["Name"] == "qldb"
    config = athena.get_work_group(WorkGroup="qldb-archive")["WorkGroup"]["Configuration"]
    assert config["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}

"""CloudFormation custom resource: run the Athena view statements, in order, and wait for each.

Why a custom resource: CloudFormation has no Athena view resource, and a Glue ``VIRTUAL_VIEW``
table needs the Presto view encoding with every output column typed by hand, which would retype
what `athena/sql/*.sql` already says. An ``AwsCustomResource`` calling StartQueryExecution would
return before the statement ran, so a bad view would deploy "successfully". This handler runs
each ``CREATE OR REPLACE VIEW`` (rendered at synth time by `athena.deploy.render_views`) in the
workgroup, polls ``GetQueryExecution`` until it ends, and fails the deployment, naming the view
and Athena's reason, when one fails. Create and Update run every statement (they are idempotent);
Update also drops the views no longer listed; Delete drops every view and never fails the stack.

Runs on the Lambda Python runtime with its boto3; no other dependency.
Properties: ``Database``, ``WorkGroup``, ``Views`` (a list of ``{"Name", "Sql"}``).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from typing import Any, Final, Protocol

__all__ = ["handler", "run_statement"]

logger = logging.getLogger()
logger.setLevel(logging.INFO)

POLL_SECONDS: Final = 1.0
RESERVE_MS: Final = 30_000
"""Stop starting statements when less than this remains: a response must still be sent."""


class AthenaClient(Protocol):
    """The two boto3 Athena methods used."""

    def start_query_execution(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_query_execution(self, **kwargs: Any) -> dict[str, Any]: ...


class Context(Protocol):
    """The Lambda context methods used."""

    log_stream_name: str

    def get_remaining_time_in_millis(self) -> int: ...


class ViewError(Exception):
    """A view statement failed; names the view and Athena's reason."""


def run_statement(athena: AthenaClient, sql: str, *, name: str, database: str, workgroup: str) -> str:
    """Run one statement in `workgroup` and wait for it; return the query execution id.

    Raises:
        ViewError: the query failed or was cancelled.
    """
    qid: str = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": database}, WorkGroup=workgroup
    )["QueryExecutionId"]
    while True:
        status = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
        if status["State"] == "SUCCEEDED":
            return qid
        if status["State"] in ("FAILED", "CANCELLED"):
            reason = status.get("StateChangeReason", "no reason given")
            raise ViewError(f"view {database}.{name}: query {qid} {status['State']}: {reason}")
        time.sleep(POLL_SECONDS)


def _views(props: dict[str, Any]) -> list[tuple[str, str]]:
    return [(str(v["Name"]), str(v["Sql"])) for v in props.get("Views", [])]


def apply(event: dict[str, Any], context: Context, athena: AthenaClient) -> None:
    """Do what the request asks (module docstring); raise on a failed create or update."""
    props = event["ResourceProperties"]
    database, workgroup = props["Database"], props["WorkGroup"]
    views = _views(props)
    kind = event["RequestType"]
    if kind in ("Create", "Update"):
        for name, sql in views:
            if context.get_remaining_time_in_millis() < RESERVE_MS:
                raise ViewError(f"out of time before view {database}.{name}: deploy again")
            run_statement(athena, sql, name=name, database=database, workgroup=workgroup)
            logger.info(json.dumps({"view": name, "action": "created"}))
        if kind == "Update":
            old = event.get("OldResourceProperties", {})
            kept = {n for n, _ in views} if old.get("Database") == database else set()
            for name, _ in reversed(_views(old)):
                if name not in kept:
                    _drop(athena, name, database=old["Database"], workgroup=old["WorkGroup"])
        return
    for name, _ in reversed(views):
        _drop(athena, name, database=database, workgroup=workgroup)


def _drop(athena: AthenaClient, name: str, *, database: str, workgroup: str) -> None:
    try:
        run_statement(
            athena,
            f"DROP VIEW IF EXISTS {database}.{name}",
            name=name,
            database=database,
            workgroup=workgroup,
        )
    except Exception as exc:  # a delete never blocks the stack: the database goes with it
        logger.warning(json.dumps({"view": name, "action": "drop failed", "reason": str(exc)}))


def _respond(event: dict[str, Any], context: Context, status: str, reason: str = "") -> None:
    props = event["ResourceProperties"]
    body = json.dumps(
        {
            "Status": status,
            "Reason": (reason or f"see log stream {context.log_stream_name}")[:1000],
            "PhysicalResourceId": event.get("PhysicalResourceId") or f"{props['Database']}-views",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": {},
        }
    ).encode()
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


def handler(event: dict[str, Any], context: Context) -> None:
    """Lambda entry point: apply the request, then always answer CloudFormation."""
    import boto3

    try:
        apply(event, context, boto3.client("athena"))
    except Exception as exc:  # any failure must reach CloudFormation, or the stack hangs for an hour
        logger.exception("views failed")
        _respond(event, context, "FAILED", str(exc))
        return
    _respond(event, context, "SUCCESS")

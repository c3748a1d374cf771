"""Deploy the archive's Athena layer to AWS: workgroup, database, tables, views, named queries.

`deploy` runs one idempotent step per resource, in dependency order, and `render_plan` (what
``--dry-run`` prints) returns the same steps without calling AWS. Each step has a ``render_*``
twin giving its SQL or request:

1. workgroup (`render_workgroup`): Athena engine v3, results encrypted (SSE_S3 or SSE_KMS),
   the workgroup's settings enforced over the client's, and a per-query bytes-scanned cutoff
   (the cost guard: https://docs.aws.amazon.com/athena/latest/ug/workgroups-setting-control-limits-cloudwatch.html).
   Created when missing, updated when the settings we own differ, else left alone.
2. database (`render_database`): a Glue database, created when ``get_database`` finds none.
3. tables (`render_tables`): ``CREATE EXTERNAL TABLE IF NOT EXISTS`` of revisions and blocks.
   Trap: IF NOT EXISTS never changes an existing table; after new ledgers or tables (the
   projection enums), drop the table first (data stays in S3) and deploy again.
4. views (`render_views`): ``CREATE OR REPLACE VIEW`` of every view, then the typed views given.
5. named queries (`render_named_queries`): the point-in-time and history queries (``?``
   parameters: run them with ``ExecutionParameters``; the point-in-time ones take the block or
   time twice, e.g. ``['5000', '5000']``), named ``<database>.<query>``; created
   when missing, updated when their SQL differs, never duplicated.

SQL runs through ``start_query_execution`` in the workgroup, waited on until it ends. The
clients are boto3 ``athena`` and ``glue`` clients (`clients_from_session`), or anything with
the same methods (`AthenaApi`, `GlueApi`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypedDict

from athena.ddl import DEFAULT_DATE_RANGE, render_blocks_ddl, render_revisions_ddl
from athena.errors import DeployError
from athena.typed import TypedColumn, render_typed_view, typed_view_name
from athena.views import QUERY_NAMES, VIEW_NAMES, check_database_name, render_query, render_view

if TYPE_CHECKING:
    import boto3

__all__ = [
    "ENGINE_VERSION",
    "MIN_BYTES_SCANNED_CUTOFF",
    "AthenaApi",
    "DeployPlan",
    "DeployStep",
    "GlueApi",
    "StepAction",
    "StepKind",
    "TypedViewSpec",
    "WorkgroupRequest",
    "clients_from_session",
    "deploy",
    "render_database",
    "render_named_queries",
    "render_plan",
    "render_tables",
    "render_views",
    "render_workgroup",
    "steps_sql",
]

logger = logging.getLogger(__name__)

ENGINE_VERSION: Final = "Athena engine version 3"
MIN_BYTES_SCANNED_CUTOFF: Final = 10 * 1024 * 1024
"""Athena's smallest BytesScannedCutoffPerQuery (10 MB)."""

StepKind = Literal["workgroup", "database", "table", "view", "named_query"]
StepAction = Literal["planned", "created", "updated", "unchanged", "ran"]


class AthenaApi(Protocol):
    """The boto3 Athena client methods `deploy` calls."""

    def get_work_group(self, **kwargs: Any) -> dict[str, Any]: ...  # noqa: D102
    def create_work_group(self, **kwargs: Any) -> dict[str, Any]: ...  # noqa: D102
    def update_work_group(self, **kwargs: Any) -> dict[str, Any]: ...  # noqa: D102
    def start_query_execution(self, **kwargs: Any) -> dict[str, Any]: ...  # noqa: D102
    def get_query_execution(self, **kwargs: Any) -> dict[str, Any]: ...  # noqa: D102
    def list_named_queries(self, **kwargs: Any) -> dict[str, Any]: ...  # noqa: D102
    def get_named_query(self, **kwargs: Any) -> dict[str, Any]: ...  # noqa: D102
    def create_named_query(self, **kwargs: Any) -> dict[str, Any]: ...  # noqa: D102
    def update_named_query(self, **kwargs: Any) -> dict[str, Any]: ...  # noqa: D102


class GlueApi(Protocol):
    """The boto3 Glue client methods `deploy` calls."""

    def get_database(self, **kwargs: Any) -> dict[str, Any]: ...  # noqa: D102
    def create_database(self, **kwargs: Any) -> dict[str, Any]: ...  # noqa: D102


class WorkgroupRequest(TypedDict):
    """The ``CreateWorkGroup`` request (boto3 keyword arguments)."""

    Name: str
    Description: str
    Configuration: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TypedViewSpec:
    """A typed view to deploy: the QLDB table and its columns (`athena.typed.infer_table_columns`)."""

    table_name: str
    columns: tuple[TypedColumn, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeployPlan:
    """What to deploy.

    Attributes:
        database: the Glue database (lower-case letters, digits, underscores).
        location: the archive root, ``s3://bucket/prefix/``.
        workgroup: the Athena workgroup to create or update, and run the SQL in.
        results_location: ``s3://`` prefix for query results.
        encryption: results encryption, ``SSE_S3`` or ``SSE_KMS``.
        kms_key: the KMS key ARN or id; required with ``SSE_KMS``.
        bytes_scanned_cutoff: the per-query data limit in bytes (at least 10 MB).
        ledgers: ledger names for the partition projection; None: injected.
        tables: QLDB table names for the partition projection; None: injected.
        date_range: the ``p_date`` projection range.
        typed_views: typed views to create after the views.
    """

    database: str
    location: str
    workgroup: str
    results_location: str
    encryption: Literal["SSE_S3", "SSE_KMS"] = "SSE_S3"
    kms_key: str | None = None
    bytes_scanned_cutoff: int = 10 * 1024**3
    ledgers: tuple[str, ...] | None = None
    tables: tuple[str, ...] | None = None
    date_range: tuple[str, str] = DEFAULT_DATE_RANGE
    typed_views: tuple[TypedViewSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class DeployStep:
    """One deployment step and what became of it.

    Attributes:
        kind: the resource kind.
        name: the resource name (view and table names qualified by the database).
        sql: the statement it runs (Athena SQL), or None for an API-only step.
        request: the API request for API steps (workgroup, database, named query), else empty.
        action: ``planned`` (dry run), ``created``, ``updated``, ``unchanged`` or ``ran`` (SQL that
            is idempotent by itself: IF NOT EXISTS, OR REPLACE).
    """

    kind: StepKind
    name: str
    sql: str | None
    request: dict[str, Any] = field(default_factory=dict)
    action: StepAction = "planned"


def _check_plan(plan: DeployPlan) -> None:
    check_database_name(plan.database)
    if plan.encryption == "SSE_KMS" and not plan.kms_key:
        raise DeployError(
            "workgroup", plan.workgroup, reason="SSE_KMS needs kms_key", hint="pass the key ARN"
        )
    if plan.bytes_scanned_cutoff < MIN_BYTES_SCANNED_CUTOFF:
        raise DeployError(
            "workgroup",
            plan.workgroup,
            reason=f"bytes_scanned_cutoff {plan.bytes_scanned_cutoff} is below Athena's minimum",
            hint=f"use at least {MIN_BYTES_SCANNED_CUTOFF} bytes",
        )
    for path, what in ((plan.location, "location"), (plan.results_location, "results_location")):
        if not path.startswith("s3://"):
            raise DeployError(
                "plan", what, reason=f"{path!r} is not an s3:// URL", hint="give s3://bucket/prefix/"
            )


def render_workgroup(plan: DeployPlan) -> WorkgroupRequest:
    """The ``CreateWorkGroup`` request: engine v3, encrypted results, enforced settings, a cutoff.

    >>> plan = DeployPlan(database="qldb", location="s3://a/", workgroup="wg", results_location="s3://r/")
    >>> render_workgroup(plan)["Configuration"]["ResultConfiguration"]["EncryptionConfiguration"]
    {'EncryptionOption': 'SSE_S3'}
    """
    _check_plan(plan)
    encryption: dict[str, str] = {"EncryptionOption": plan.encryption}
    if plan.encryption == "SSE_KMS" and plan.kms_key:
        encryption["KmsKey"] = plan.kms_key
    return {
        "Name": plan.workgroup,
        "Description": f"qldb-archive queries over {plan.database}",
        "Configuration": {
            "ResultConfiguration": {
                "OutputLocation": plan.results_location,
                "EncryptionConfiguration": encryption,
            },
            "EnforceWorkGroupConfiguration": True,
            "PublishCloudWatchMetricsEnabled": True,
            "BytesScannedCutoffPerQuery": plan.bytes_scanned_cutoff,
            "EngineVersion": {"SelectedEngineVersion": ENGINE_VERSION},
        },
    }


def render_database(plan: DeployPlan) -> str:
    """The database step as SQL (what ``--dry-run`` prints; `deploy` calls Glue ``create_database``)."""
    return f"CREATE DATABASE IF NOT EXISTS `{check_database_name(plan.database)}`"


def render_tables(plan: DeployPlan) -> dict[str, str]:
    """Table name -> its ``CREATE EXTERNAL TABLE IF NOT EXISTS`` (revisions, then blocks)."""
    db, loc, dates = plan.database, plan.location, plan.date_range
    return {
        "revisions": render_revisions_ddl(
            database=db, location=loc, ledgers=plan.ledgers, tables=plan.tables, date_range=dates
        ),
        "blocks": render_blocks_ddl(database=db, location=loc, ledgers=plan.ledgers, date_range=dates),
    }


def render_views(plan: DeployPlan) -> dict[str, str]:
    """View name -> its ``CREATE OR REPLACE VIEW``, in creation order (typed views last)."""
    views = {name: render_view(name, database=plan.database) for name in VIEW_NAMES}
    for spec in plan.typed_views:
        views[typed_view_name(spec.table_name)] = render_typed_view(
            spec.table_name, spec.columns, database=plan.database
        )
    return views


def render_named_queries(plan: DeployPlan) -> dict[str, str]:
    """Named query name (``<database>.<query>``) -> its SQL (``?`` parameters)."""
    return {f"{plan.database}.{name}": render_query(name, database=plan.database) for name in QUERY_NAMES}


def render_plan(plan: DeployPlan) -> list[DeployStep]:
    """Every step `deploy` would take, in order, with action ``planned`` (the ``--dry-run`` output).

    Raises:
        DeployError: an unusable plan (KMS without a key, a cutoff below 10 MB, a non-S3 path).
        InvalidNameError: a database or typed view name Glue cannot take.
    """
    _check_plan(plan)
    wg = render_workgroup(plan)
    steps = [DeployStep("workgroup", plan.workgroup, None, dict(wg))]
    steps.append(
        DeployStep(
            "database", plan.database, render_database(plan), {"DatabaseInput": {"Name": plan.database}}
        )
    )
    steps += [DeployStep("table", f"{plan.database}.{n}", sql) for n, sql in render_tables(plan).items()]
    steps += [DeployStep("view", f"{plan.database}.{n}", sql) for n, sql in render_views(plan).items()]
    for name, sql in render_named_queries(plan).items():
        request = {"Name": name, "Database": plan.database, "QueryString": sql, "WorkGroup": plan.workgroup}
        steps.append(DeployStep("named_query", name, sql, request))
    return steps


def clients_from_session(
    session: boto3.Session | None = None, *, endpoint_url: str | None = None
) -> tuple[AthenaApi, GlueApi]:
    """Athena and Glue clients from a boto3 session (the default session when None)."""
    import boto3

    session = session or boto3.Session()
    athena: AthenaApi = session.client("athena", endpoint_url=endpoint_url)
    glue: GlueApi = session.client("glue", endpoint_url=endpoint_url)
    return athena, glue


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def _subset(wanted: object, actual: object) -> bool:
    """True when every key of `wanted` is in `actual` with the same value (AWS adds defaults)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(_subset(v, actual.get(k)) for k, v in wanted.items())
    return wanted == actual


def _deploy_workgroup(step: DeployStep, athena: AthenaApi) -> StepAction:
    request = step.request
    from botocore.exceptions import ClientError

    try:  # AWS: InvalidRequestException when absent; moto: {"WorkGroup": null}
        existing = athena.get_work_group(WorkGroup=step.name).get("WorkGroup")
    except ClientError as exc:
        if _error_code(exc) != "InvalidRequestException":
            raise
        existing = None
    if not existing:
        athena.create_work_group(**request)
        return "created"
    config = request["Configuration"]
    if _subset(config, existing.get("Configuration")):
        return "unchanged"
    athena.update_work_group(
        WorkGroup=step.name,
        ConfigurationUpdates={
            "ResultConfigurationUpdates": config["ResultConfiguration"],
            "EnforceWorkGroupConfiguration": config["EnforceWorkGroupConfiguration"],
            "PublishCloudWatchMetricsEnabled": config["PublishCloudWatchMetricsEnabled"],
            "BytesScannedCutoffPerQuery": config["BytesScannedCutoffPerQuery"],
            "EngineVersion": config["EngineVersion"],
        },
    )
    return "updated"


def _deploy_database(step: DeployStep, glue: GlueApi) -> StepAction:
    from botocore.exceptions import ClientError

    try:
        glue.get_database(Name=step.name)
        return "unchanged"
    except ClientError as exc:
        if _error_code(exc) != "EntityNotFoundException":
            raise
    glue.create_database(**step.request)
    return "created"


def _run_sql(step: DeployStep, plan: DeployPlan, athena: AthenaApi, poll_seconds: float) -> StepAction:
    assert step.sql is not None
    qid = athena.start_query_execution(
        QueryString=step.sql, QueryExecutionContext={"Database": plan.database}, WorkGroup=plan.workgroup
    )["QueryExecutionId"]
    while True:
        status = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
        state = status["State"]
        if state == "SUCCEEDED":
            return "ran"
        if state in ("FAILED", "CANCELLED"):
            raise DeployError(
                step.kind,
                step.name,
                reason=f"query {qid} {state}: {status.get('StateChangeReason', 'no reason given')}",
                hint="fix the cause and deploy again (every step is idempotent)",
            )
        time.sleep(poll_seconds)


def _named_queries(athena: AthenaApi, workgroup: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"WorkGroup": workgroup}
    while True:
        page = athena.list_named_queries(**kwargs)
        for qid in page.get("NamedQueryIds", []):
            query = athena.get_named_query(NamedQueryId=qid)["NamedQuery"]
            found.setdefault(query["Name"], query)
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def _deploy_named_query(
    step: DeployStep, existing: dict[str, dict[str, Any]], athena: AthenaApi
) -> StepAction:
    request = step.request
    current = existing.get(step.name)
    if current is None:
        athena.create_named_query(**request)
        return "created"
    if (
        current.get("QueryString") == request["QueryString"]
        and current.get("Database") == request["Database"]
    ):
        return "unchanged"
    athena.update_named_query(
        NamedQueryId=current["NamedQueryId"], Name=step.name, QueryString=request["QueryString"]
    )
    return "updated"


def deploy(
    plan: DeployPlan,
    *,
    athena: AthenaApi | None = None,
    glue: GlueApi | None = None,
    dry_run: bool = False,
    poll_seconds: float = 1.0,
) -> list[DeployStep]:
    """Deploy `plan`, step by step; each step is idempotent, so a failed run is simply re-run.

    Args:
        plan: what to deploy.
        athena: an Athena client (`clients_from_session`); unused when `dry_run`.
        glue: a Glue client; unused when `dry_run`.
        dry_run: return the steps (`render_plan`) and call nothing.
        poll_seconds: the wait between query status checks.

    Returns:
        The steps in order, each with what happened (``created``, ``updated``, ``unchanged``, ``ran``).

    Raises:
        DeployError: an unusable plan, or a statement Athena failed (the step is named).
        botocore.exceptions.ClientError: an AWS call failed otherwise (permissions...).
    """
    steps = render_plan(plan)
    if dry_run:
        return steps
    if athena is None or glue is None:
        raise DeployError("plan", plan.database, reason="no AWS clients", hint="pass athena= and glue=")
    done: list[DeployStep] = []
    named: dict[str, dict[str, Any]] | None = None
    for step in steps:
        if step.kind == "workgroup":
            action = _deploy_workgroup(step, athena)
        elif step.kind == "database":
            action = _deploy_database(step, glue)
        elif step.kind == "named_query":
            named = _named_queries(athena, plan.workgroup) if named is None else named
            action = _deploy_named_query(step, named, athena)
        else:
            action = _run_sql(step, plan, athena, poll_seconds)
        logger.info("deploy step", extra={"kind": step.kind, "step": step.name, "action": action})
        done.append(DeployStep(step.kind, step.name, step.sql, step.request, action))
    return done


def steps_sql(steps: Sequence[DeployStep]) -> str:
    """The SQL of `steps` as one script, ``;``-terminated, for ``athena sql`` / ``--dry-run`` output."""
    return "\n\n".join(f"-- {s.kind} {s.name}\n{s.sql};" for s in steps if s.sql is not None)

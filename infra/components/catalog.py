"""The Glue database and tables, the Athena workgroup, its results bucket, the views and named queries.

Nothing here is retyped: the columns come from `firehose_transform.schema` (through
`athena.ddl`), the partition projection from `athena.ddl.projection_properties`, the workgroup
configuration from `athena.deploy.render_workgroup`, and the view and query SQL from
`athena.deploy.render_views` / `render_named_queries`, the same functions ``qldb-archive athena
deploy`` uses, on one `DeployPlan`.

Tables:

- ``revisions`` and ``blocks``: what the views read, with partition projection (no crawler).
- ``archive_rows``: every archive column, the union of all record types. Firehose's record
  format conversion reads this one schema (it drops JSON fields the table does not name, so a
  per-record-type table would lose columns). Not partitioned: it is a schema, not for queries.

Views: a custom resource (`infra.runtime.athena_views`) runs each ``CREATE OR REPLACE VIEW`` in
the workgroup and waits for it, failing the deployment with Athena's reason; see that module
for why neither a Glue ``VIRTUAL_VIEW`` nor an ``AwsCustomResource`` is used. The named queries
are ``AWS::Athena::NamedQuery`` resources.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from athena.ddl import BLOCKS_TABLE, REVISIONS_TABLE, blocks_columns, projection_properties, revisions_columns
from athena.deploy import DeployPlan, render_named_queries, render_views, render_workgroup
from firehose_transform.schema import COLUMNS, PARTITION_KEYS, Column, RecordType, glue_types
from infra.components.nag import acknowledge, objects_of
from infra.components.private_bucket import expiring_bucket

__all__ = ["SCHEMA_TABLE", "Catalog", "glue_columns"]

SCHEMA_TABLE: Final = "archive_rows"
"""The Glue table Firehose's format conversion reads: every column of the archive schema."""

_PARQUET_STORAGE: Final[dict[str, Any]] = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}
_RUNTIME_DIR: Final = Path(__file__).resolve().parent.parent / "runtime"


def glue_columns(columns: Sequence[Column]) -> list[dict[str, str]]:
    """Glue ``Column`` structures (name, type, comment) of `columns`, types from `glue_types()`."""
    types = glue_types()
    return [{"Name": c.name, "Type": types[c.name], "Comment": c.doc[:255]} for c in columns]


class Catalog(Construct):
    """The Glue and Athena side of the archive.

    Attributes:
        plan: the `DeployPlan` everything here is rendered from.
        database: the Glue database.
        schema_table: the table Firehose's format conversion reads.
        schema_table_name: its name (`SCHEMA_TABLE`).
        results_bucket: Athena query results (SSE-KMS, expired after 30 days).
        workgroup: the Athena workgroup.
        views: the custom resource creating the views.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        archive: s3.IBucket,
        archive_prefix: str,
        key: kms.IKey,
        access_logs: s3.IBucket,
        database: str,
        workgroup: str,
        bytes_scanned_cutoff: int,
        ledgers: tuple[str, ...] | None,
        tables: tuple[str, ...] | None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        location = f"s3://{archive.bucket_name}/{archive_prefix}"
        self.results_bucket = expiring_bucket(
            self,
            "Results",
            key=key,
            access_logs=access_logs,
            log_prefix="athena-results/",
            rule_id="expire-results",
            expiry_days=30,
            versioned=True,
        )
        self.plan = DeployPlan(
            database=database,
            location=location,
            workgroup=workgroup,
            results_location=f"s3://{self.results_bucket.bucket_name}/",
            encryption="SSE_KMS",
            kms_key=key.key_arn,
            bytes_scanned_cutoff=bytes_scanned_cutoff,
            ledgers=ledgers,
            tables=tables,
        )
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=database, description="qldb-archive: the QLDB journal archive (Parquet)"
            ),
        )
        self.revisions_table = self._table(
            REVISIONS_TABLE,
            columns=revisions_columns(),
            description="QLDB REVISION_DETAILS rows of the qldb-archive Parquet archive",
            location=location,
            projection=projection_properties(location, ledgers=ledgers, tables=tables),
        )
        self.blocks_table = self._table(
            BLOCKS_TABLE,
            columns=blocks_columns(),
            description="QLDB BLOCK_SUMMARY rows of the qldb-archive Parquet archive",
            location=location,
            projection=projection_properties(location, record_type=RecordType.BLOCK_SUMMARY, ledgers=ledgers),
        )
        self.schema_table_name = SCHEMA_TABLE
        self.schema_table = self._table(
            SCHEMA_TABLE,
            columns=COLUMNS,
            description="Every archive column: the schema Firehose's Parquet conversion reads. Not queried.",
            location=location,
            projection=None,
        )
        request = render_workgroup(self.plan)
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=request["Name"],
            description=request["Description"],
            state="ENABLED",
            recursive_delete_option=True,
        )
        # The API's Configuration and CloudFormation's WorkGroupConfiguration share their field names.
        self.workgroup.add_property_override("WorkGroupConfiguration", request["Configuration"])
        self.named_queries = []
        for name, sql in render_named_queries(self.plan).items():
            query = athena.CfnNamedQuery(
                self,
                f"Query{_pascal(name.split('.', 1)[1])}",
                name=name,
                database=database,
                query_string=sql,
                work_group=self.workgroup.ref,
                description=f"qldb-archive parameterised query {name} (run with ExecutionParameters)",
            )
            query.node.add_dependency(self.database)
            self.named_queries.append(query)
        self.views = self._views(key)

    def _table(
        self,
        name: str,
        *,
        columns: Sequence[Column],
        description: str,
        location: str,
        projection: dict[str, str] | None,
    ) -> glue.CfnTable:
        partitioned = projection is not None
        parameters = {"EXTERNAL": "TRUE", "classification": "parquet", **(projection or {})}
        table_input: dict[str, Any] = {
            "Name": name,
            "Description": description,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": parameters,
            "StorageDescriptor": {"Columns": glue_columns(columns), "Location": location, **_PARQUET_STORAGE},
        }
        if partitioned:
            table_input["PartitionKeys"] = [
                {"Name": k.name, "Type": "string", "Comment": k.doc} for k in PARTITION_KEYS
            ]
        table = glue.CfnTable(
            self,
            f"Table{_pascal(name)}",
            catalog_id=Stack.of(self).account,
            database_name=self.plan.database,
            table_input=glue.CfnTable.TableInputProperty(name=name),
        )
        table.add_property_override("TableInput", table_input)  # CloudFormation field names, as Glue's API
        table.node.add_dependency(self.database)
        return table

    def _views(self, key: kms.IKey) -> CustomResource:
        stack = Stack.of(self)
        database, wg = self.plan.database, self.plan.workgroup
        views = render_views(self.plan)
        log_group = logs.LogGroup(
            self, "ViewsLogs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.DESTROY
        )
        role = iam.Role(
            self,
            "ViewsRole",
            description="qldb-archive: creates the Athena views of the archive database",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )

        def glue_arn(resource: str, name: str) -> str:
            return stack.format_arn(service="glue", resource=resource, resource_name=name)

        policy = iam.Policy(
            self,
            "ViewsPolicy",
            statements=[
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
                iam.PolicyStatement(
                    sid="RunViewStatements",
                    actions=["athena:StartQueryExecution", "athena:GetQueryExecution"],
                    resources=[stack.format_arn(service="athena", resource="workgroup", resource_name=wg)],
                ),
                iam.PolicyStatement(
                    sid="ViewsInCatalog",
                    actions=[
                        "glue:GetDatabase",
                        "glue:GetTable",
                        "glue:GetTables",
                        "glue:CreateTable",
                        "glue:UpdateTable",
                        "glue:DeleteTable",
                    ],
                    resources=[
                        stack.format_arn(service="glue", resource="catalog"),
                        glue_arn("database", database),
                        *(
                            glue_arn("table", f"{database}/{t}")
                            for t in (REVISIONS_TABLE, BLOCKS_TABLE, *views)
                        ),
                    ],
                ),
                iam.PolicyStatement(
                    sid="QueryResultsBucket",
                    actions=["s3:GetBucketLocation", "s3:ListBucket"],
                    resources=[self.results_bucket.bucket_arn],
                ),
                iam.PolicyStatement(
                    sid="QueryResultsObjects",
                    actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=[self.results_bucket.arn_for_objects("*")],
                ),
                iam.PolicyStatement(
                    sid="QueryResultsKey",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[key.key_arn],
                ),
            ],
        )
        policy.attach_to_role(role)
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "Athena writes each query's results under a generated object name in the "
            "workgroup's enforced results bucket; only that bucket's objects are allowed.",
            finding=objects_of(self.results_bucket),
        )
        function = lambda_.Function(
            self,
            "ViewsFunction",
            description="qldb-archive: runs CREATE OR REPLACE VIEW for the archive views (custom resource)",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="athena_views.handler",
            code=lambda_.Code.from_asset(str(_RUNTIME_DIR), exclude=["__pycache__", "__init__.py"]),
            timeout=Duration.minutes(10),
            role=role,
            log_group=log_group,
        )
        function.node.add_dependency(policy)
        resource = CustomResource(
            self,
            "Views",
            service_token=function.function_arn,
            resource_type="Custom::AthenaViews",
            properties={
                "Database": database,
                "WorkGroup": wg,
                "Views": [{"Name": name, "Sql": sql} for name, sql in views.items()],
            },
        )
        for dep in (self.workgroup, self.revisions_table, self.blocks_table, self.database):
            resource.node.add_dependency(dep)
        return resource


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))

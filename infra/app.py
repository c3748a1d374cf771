"""The CDK app: one stack of the whole pipeline, one construct per concern, wired by constructor arguments.

    QLDB ledger (legacy) -> Kinesis (KMS) -> Firehose -> transform Lambda -> Parquet in S3 (Object Lock)
                                                                  Glue tables, Athena workgroup, views
                               restore and split jobs (Fargate, on demand), parity job (scheduled)
                     (optional) -> live replication Lambda -> the target database (in the jobs' VPC)
                                                  alarms -> SNS

Run from ``infra/`` with ``cdk synth`` / ``cdk deploy`` (cdk.json runs ``python -m infra.app`` from
the repository root); docs/deploy.md lists the context keys (`infra.settings`). cdk-nag's
AwsSolutions checks run on every synth: a finding without a justified suppression fails it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.bundle import LIVE_DISTRIBUTIONS, LIVE_PACKAGES, build_lambda_bundle
from infra.components.alarms import Alarms
from infra.components.archive_bucket import ArchiveBucket
from infra.components.catalog import Catalog
from infra.components.firehose import DeliveryStream
from infra.components.jobs import Jobs
from infra.components.live_replication import LiveReplication
from infra.components.stream import JournalStream, LegacyQldbStream
from infra.components.transform_lambda import TransformLambda
from infra.settings import Settings, settings_from_context

if TYPE_CHECKING:
    from aws_cdk import aws_ecs as ecs
    from constructs import Construct

__all__ = ["STACK_NAME", "ArchiveStack", "build_app", "main"]

STACK_NAME: Final = "QldbArchive"
FEATURE_FLAGS: Final[dict[str, object]] = {
    # Server access logs delivered under a bucket policy, not the legacy LogDeliveryWrite ACL, so
    # every bucket can disable ACLs (BucketOwnerEnforced).
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
}
"""CDK feature flags the stack relies on (cdk.json sets them too; the tests get them here)."""


class ArchiveStack(cdk.Stack):
    """The pipeline: stream, archive bucket, transform, delivery stream, catalog, jobs, alarms.

    Attributes:
        settings: what was deployed.
        journal, legacy_stream, archive, transform, delivery, catalog, jobs, alarms: the parts.
        live: the live replication (its code: `live_bundle`), or None when ``live_replication`` is off.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        bundle: Path,
        live_bundle: Path | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.settings = s = settings
        self.journal = JournalStream(
            self,
            "Journal",
            mode=s.stream_mode,
            shard_count=s.shard_count,
            retention_hours=s.stream_retention_hours,
        )
        self.legacy_stream = (
            LegacyQldbStream(
                self,
                "LegacyQldbStream",
                journal=self.journal,
                ledger_name=s.qldb_ledger_name,
                inclusive_start_time=s.qldb_start_time,
            )
            if s.qldb_ledger_name
            else None
        )
        self.archive = ArchiveBucket(
            self,
            "Archive",
            object_lock_days=s.object_lock_days,
            infrequent_access_days=s.infrequent_access_days,
            glacier_ir_days=s.glacier_ir_days,
        )
        self.catalog = Catalog(
            self,
            "Catalog",
            archive=self.archive.bucket,
            archive_prefix=s.archive_prefix,
            key=self.archive.key,
            access_logs=self.archive.access_logs,
            database=s.database,
            workgroup=s.workgroup,
            bytes_scanned_cutoff=s.bytes_scanned_cutoff,
            ledgers=s.projection_ledgers,
            tables=s.projection_tables,
        )
        self.transform = TransformLambda(self, "Transform", bundle=bundle, architecture=s.lambda_architecture)
        self.delivery = DeliveryStream(
            self,
            "Delivery",
            journal=self.journal,
            transform=self.transform.function,
            archive=self.archive.bucket,
            archive_key=self.archive.key,
            archive_prefix=s.archive_prefix,
            database=s.database,
            schema_table=self.catalog.schema_table_name,
            buffer_mb=s.buffer_mb,
            buffer_seconds=s.buffer_seconds,
            source_backup=s.source_backup,
        )
        self.delivery.delivery_stream.node.add_dependency(self.catalog.schema_table)
        self.jobs = Jobs(
            self,
            "Jobs",
            archive=self.archive.bucket,
            archive_key=self.archive.key,
            archive_prefix=s.archive_prefix,
            access_logs=self.archive.access_logs,
            parity_schedule=s.parity_schedule,
            target_secret_arn=s.target_secret_arn,
            vpc_id=s.vpc_id,
            subnet_ids=s.subnet_ids,
            availability_zones=s.availability_zones,
            container_image=s.container_image,
            athena_workgroup=s.workgroup,
            athena_database=s.database,
            athena_results=self.catalog.results_bucket,
        )
        self.alarms = Alarms(
            self,
            "Alarms",
            key=self.archive.key,
            delivery_stream=self.delivery.delivery_stream,
            transform=self.transform.function,
            transform_logs=self.transform.log_group,
            freshness_seconds=s.freshness_seconds,
            max_idle_hours=s.max_idle_hours,
            parity_enabled=bool(s.parity_schedule),
            alarm_email=s.alarm_email,
        )
        if s.live_replication and live_bundle is None:
            raise ValueError("live_replication is on: pass the live Lambda bundle (build_app builds it)")
        self.live = (
            LiveReplication(
                self,
                "Live",
                bundle=live_bundle,
                architecture=s.lambda_architecture,
                stream=self.journal.stream,
                stream_key=self.journal.key,
                vpc=self.jobs.vpc,
                target_secret=self.jobs.target_secret,
                topic=self.alarms.topic,
                history=s.live_history,
                order=s.live_order,
                batch_size=s.live_batch_size,
                parallelization_factor=s.live_parallelization_factor,
                max_retry_attempts=s.live_max_retry_attempts,
                max_record_age_seconds=s.live_max_record_age_seconds,
                strict_max_wait_seconds=s.live_strict_max_wait_seconds,
                lag_alarm_seconds=s.freshness_seconds,
            )
            if s.live_replication and live_bundle is not None
            else None
        )
        self._outputs()

    def _run_task(self, task: ecs.FargateTaskDefinition) -> str:
        """The ``aws ecs run-task`` command line that runs `task` in the jobs' subnets and security group."""
        jobs = self.jobs
        return cdk.Fn.join(
            "",
            [
                "aws ecs run-task --launch-type FARGATE --cluster ",
                jobs.cluster.cluster_name,
                " --task-definition ",
                task.task_definition_arn,
                " --network-configuration 'awsvpcConfiguration={subnets=[",
                cdk.Fn.join(",", [sn.subnet_id for sn in jobs.vpc.private_subnets]),
                "],securityGroups=[",
                jobs.security_group.security_group_id,
                "],assignPublicIp=DISABLED}'",
            ],
        )

    def _outputs(self) -> None:
        jobs = self.jobs
        outputs = {
            "ArchiveBucket": self.archive.bucket.bucket_name,
            "JournalStreamArn": self.journal.stream.stream_arn,
            "DeliveryStreamName": self.delivery.delivery_stream.ref,
            "GlueDatabase": self.settings.database,
            "AthenaWorkGroup": self.catalog.workgroup.ref,
            "TargetSecretArn": jobs.target_secret.secret_arn,
            "JobsSecurityGroup": jobs.security_group.security_group_id,
            "AlarmTopicArn": self.alarms.topic.topic_arn,
            "RestoreWorkBucket": jobs.work_bucket.bucket_name,
            "SplitRunTask": self._run_task(jobs.split_task),
            "RestoreRunTask": self._run_task(jobs.restore_task),
        }
        if self.live is not None:
            outputs["LiveSecurityGroup"] = self.live.security_group.security_group_id
            outputs["LiveFailureQueueUrl"] = self.live.queue.queue_url
        for name, value in outputs.items():
            cdk.CfnOutput(self, name, value=value)


def build_app(context: Mapping[str, object] | None = None, *, outdir: str | None = None) -> cdk.App:
    """Build the app (for ``cdk`` and the tests): context overrides cdk.json's, cdk-nag applied.

    Args:
        context: context values (the tests' variants); None reads only what ``cdk`` passes.
        outdir: the cloud assembly folder; None: ``cdk``'s (CDK_OUTDIR) or a temporary one.

    Raises:
        SettingsError: a context value out of range.
    """
    app = cdk.App(context={**FEATURE_FLAGS, **(context or {})}, outdir=outdir)
    settings = settings_from_context(app.node.try_get_context)
    bundle = build_lambda_bundle(settings.lambda_architecture)
    live = (
        build_lambda_bundle(
            settings.lambda_architecture,
            packages=LIVE_PACKAGES,
            distributions=LIVE_DISTRIBUTIONS,
            name="live",
        )
        if settings.live_replication
        else None
    )
    ArchiveStack(
        app,
        STACK_NAME,
        settings=settings,
        bundle=bundle.path,
        live_bundle=None if live is None else live.path,
        description="qldb-archive pipeline",
    )
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )
    return app


def main() -> None:
    """``cdk`` entry point: synthesise into CDK_OUTDIR."""
    outdir = os.environ.get("CDK_OUTDIR")
    if outdir and not Path(outdir).is_absolute():  # cdk.json's "output" is relative to infra/; we run from ..
        outdir = str(Path(__file__).resolve().parent / outdir)
    app = build_app(outdir=outdir)
    app.synth()


if __name__ == "__main__":
    main()

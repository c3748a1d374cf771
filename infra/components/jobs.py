"""The restore and parity jobs: the ``qldb-archive`` CLI on ECS Fargate, credentials from Secrets Manager.

- Image: infra/Dockerfile built from the repository (a CDK Docker asset: ``cdk synth`` only
  stages the files, `IMAGE_FILES`; ``cdk deploy`` builds and pushes), or an image already in
  ECR (``container_image`` context, ``<repository>:<tag>``).
- The target database URL is the ``url`` field of a Secrets Manager secret (created empty by the
  stack, or an existing one), injected by ECS as ``QLDB_ARCHIVE_TARGET_URL``, which ``restore``
  and ``parity`` read when no argument gives the target: it is in no task definition, command
  line (of the task or of any process in it) or log.
- Restore: a task definition run on demand (``aws ecs run-task``, the ``RestoreRunTask``
  output). Parity: a second task definition (infra/docker/parity_job.py) on an EventBridge
  Scheduler schedule; it publishes `infra.metrics.PARITY_DIFFERENCES`. It keeps its archive-side
  cache (docs/parity.md) under `PARITY_CACHE_PREFIX` in the archive bucket, so the cache is as
  protected as the archive (its KMS key, TLS only, no public access); only the parity task may
  write or delete there, and nowhere else, and it reads every object in full again every
  `PARITY_REBUILD_DAYS` days.
- Split: a third task definition, run on demand, for archives too large for one restore: it
  plans on Athena in the stack's workgroup (``qldb-archive restore-split``) and writes the
  shards to the work bucket (`WORK_EXPIRY_DAYS`, the archive's key); then one restore task per
  shard reads them (``restore s3://<work>/<split>/ --shard i/N``). It is the only task that may
  run Athena queries or write the work bucket, and it gets no database secret.
- Network: private subnets of a new VPC (one NAT gateway, flow logs to S3) or of an existing
  one; the tasks' security group allows no inbound traffic: let it reach the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aws_cdk import IgnoreMode, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.bundle import REPO_ROOT
from infra.components.nag import acknowledge, objects_of
from infra.components.private_bucket import expiring_bucket
from infra.metrics import NAMESPACE, PARITY_DIFFERENCES

__all__ = [
    "IMAGE_FILES",
    "PARITY_CACHE_PREFIX",
    "PARITY_REBUILD_DAYS",
    "TARGET_URL_FIELD",
    "WORK_EXPIRY_DAYS",
    "Jobs",
]

IMAGE_FILES: Final = (
    "pyproject.toml",
    "README.md",
    "journal",
    "firehose_transform",
    "athena",
    "restore",
    "qldb_archive",
    "infra/Dockerfile",
    "infra/docker/parity_job.py",
)
"""What of the repository the image build sees (everything else is excluded from the asset)."""
PARITY_CACHE_PREFIX: Final = "parity-cache/"
"""Where, in the archive bucket, the parity task keeps its cache (outside the archive's layout)."""
PARITY_REBUILD_DAYS: Final = 7
"""The parity task reads the whole archive again when its cache's last full read is this old."""
WORK_EXPIRY_DAYS: Final = 14
"""The work bucket (restore splits) deletes its objects this many days after they were written."""
TARGET_URL_FIELD: Final = "url"
"""The secret's JSON field holding the target database URL (mysql://, postgresql://...)."""
_EXCLUDE: Final = ["*", *(f"!{p}" for p in IMAGE_FILES), "**/__pycache__", "**/*.pyc"]


class Jobs(Construct):
    """The ECS cluster, the restore and parity task definitions, the parity schedule.

    Attributes:
        cluster: the Fargate cluster.
        restore_task: the restore task definition.
        parity_task: the parity task definition.
        split_task: the split task definition (plans a restore on Athena, writes the shards).
        work_bucket: where splits are written (the archive's key, expiring).
        security_group: the tasks' security group (allow it into the target database).
        target_secret: the secret holding the target URL.
        schedule: the parity schedule, or None when disabled.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        archive: s3.IBucket,
        archive_key: kms.IKey,
        archive_prefix: str,
        access_logs: s3.IBucket,
        parity_schedule: str,
        target_secret_arn: str,
        vpc_id: str,
        subnet_ids: tuple[str, ...],
        availability_zones: tuple[str, ...],
        container_image: str,
        athena_workgroup: str,
        athena_database: str,
        athena_results: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.archive = archive
        self.vpc = self._vpc(vpc_id, subnet_ids, availability_zones, access_logs)
        self.security_group = ec2.SecurityGroup(
            self,
            "TasksSecurityGroup",
            vpc=self.vpc,
            description="qldb-archive restore and parity tasks: no inbound; allow it into the target DB",
            allow_all_outbound=True,
        )
        self.cluster = ecs.Cluster(
            self, "Cluster", vpc=self.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
        )
        if target_secret_arn:
            self.target_secret: secretsmanager.ISecret = secretsmanager.Secret.from_secret_complete_arn(
                self, "TargetSecret", target_secret_arn
            )
        else:
            created = secretsmanager.Secret(
                self,
                "TargetSecret",
                description=f"qldb-archive: restore/parity target database URL ('{TARGET_URL_FIELD}' field)",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template=f'{{"{TARGET_URL_FIELD}": "set-me: postgresql://user:password@host/db"}}',
                    generate_string_key="password",
                    exclude_punctuation=True,
                ),
                removal_policy=RemovalPolicy.RETAIN,
            )
            acknowledge(
                created,
                "AwsSolutions-SMG4",
                "Holds a database URL owned by the target database's team; its password "
                "rotates with that database, not through this stack.",
            )
            self.target_secret = created
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN
        )
        image = self._image(container_image)
        archive_url = f"s3://{archive.bucket_name}/{archive_prefix}"
        environment = {
            "QLDB_ARCHIVE_URL": archive_url,
            "QLDB_ARCHIVE_METRIC_NAMESPACE": NAMESPACE,
            "QLDB_ARCHIVE_PARITY_METRIC": PARITY_DIFFERENCES,
        }
        read_archive = [
            iam.PolicyStatement(
                sid="ListArchive",
                actions=["s3:GetBucketLocation", "s3:ListBucket"],
                resources=[archive.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="ReadArchive", actions=["s3:GetObject"], resources=[archive.arn_for_objects("*")]
            ),
            iam.PolicyStatement(
                sid="DecryptArchive", actions=["kms:Decrypt"], resources=[archive_key.key_arn]
            ),
        ]
        self.work_bucket = expiring_bucket(
            self,
            "Work",
            key=archive_key,
            access_logs=access_logs,
            log_prefix="restore-work/",
            rule_id="expire-splits",
            expiry_days=WORK_EXPIRY_DAYS,
        )
        read_work = [
            iam.PolicyStatement(
                sid="ListWork",
                actions=["s3:GetBucketLocation", "s3:ListBucket"],
                resources=[self.work_bucket.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="ReadWork", actions=["s3:GetObject"], resources=[self.work_bucket.arn_for_objects("*")]
            ),
        ]
        self.restore_task = self._task(
            "Restore",
            image=image,
            environment=environment,
            cpu=4096,
            memory_mib=16384,
            statements=[*read_archive, *read_work],
            command=["exec qldb-archive restore"],  # ARCHIVE and TARGET from the environment
            findings=((objects_of(self.work_bucket), "a worker reads one split's shard, any object of it"),),
        )
        self.split_task = self._split_task(
            image=image,
            environment=environment,
            read_archive=read_archive,
            read_work=read_work,
            archive_key=archive_key,
            workgroup=athena_workgroup,
            database=athena_database,
            results=athena_results,
            stack=stack,
        )
        write_cache = [
            iam.PolicyStatement(
                sid="WriteParityCache",
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[archive.arn_for_objects(f"{PARITY_CACHE_PREFIX}*")],
            ),
            iam.PolicyStatement(  # SSE-KMS: S3 asks KMS for a data key per object (or per bucket key)
                sid="EncryptParityCache", actions=["kms:GenerateDataKey"], resources=[archive_key.key_arn]
            ),
        ]
        parity_environment = {
            **environment,
            "QLDB_ARCHIVE_PARITY_CACHE": f"s3://{archive.bucket_name}/{PARITY_CACHE_PREFIX}",
            "QLDB_ARCHIVE_PARITY_REBUILD_DAYS": str(PARITY_REBUILD_DAYS),
        }
        publish = iam.PolicyStatement(
            sid="PublishParityMetric",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],  # PutMetricData has no resource type; the namespace condition scopes it
            conditions={"StringEquals": {"cloudwatch:namespace": NAMESPACE}},
        )
        self.parity_task = self._task(
            "Parity",
            image=image,
            environment=parity_environment,
            cpu=1024,
            memory_mib=4096,
            statements=[*read_archive, *write_cache, publish],
            command=["exec python /app/parity_job.py"],
        )
        self.schedule = self._schedule(parity_schedule, stack) if parity_schedule else None

    def _split_task(
        self,
        *,
        image: ecs.ContainerImage,
        environment: dict[str, str],
        read_archive: list[iam.PolicyStatement],
        read_work: list[iam.PolicyStatement],
        archive_key: kms.IKey,
        workgroup: str,
        database: str,
        results: s3.IBucket,
        stack: Stack,
    ) -> ecs.FargateTaskDefinition:
        """The split task: Athena queries in the workgroup, the archive read, the work bucket written.

        Athena reads the archive and writes its results and the UNLOAD's objects with the caller's
        permissions, so those are the task's; nothing else (no database secret, no delete).
        """
        glue_arn = f"arn:{stack.partition}:glue:{stack.region}:{stack.account}"
        statements = [
            *read_archive,
            *read_work,
            iam.PolicyStatement(
                sid="RunAthenaQueries",
                actions=["athena:GetQueryExecution", "athena:GetQueryResults", "athena:StartQueryExecution"],
                resources=[
                    f"arn:{stack.partition}:athena:{stack.region}:{stack.account}:workgroup/{workgroup}"
                ],
            ),
            iam.PolicyStatement(
                sid="ReadCatalog",
                actions=["glue:GetDatabase", "glue:GetTable"],
                resources=[
                    f"{glue_arn}:catalog",
                    f"{glue_arn}:database/{database}",
                    f"{glue_arn}:table/{database}/*",
                ],
            ),
            iam.PolicyStatement(
                sid="ListResultsAndWork",
                actions=["s3:GetBucketLocation", "s3:ListBucket"],
                resources=[results.bucket_arn, self.work_bucket.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="WriteResultsAndWork",
                actions=["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                resources=[results.arn_for_objects("*"), self.work_bucket.arn_for_objects("*")],
            ),
            iam.PolicyStatement(  # both buckets are encrypted with the archive's key (SSE-KMS)
                sid="EncryptResultsAndWork", actions=["kms:GenerateDataKey"], resources=[archive_key.key_arn]
            ),
        ]
        return self._task(
            "Split",
            image=image,
            environment={  # no QLDB_ARCHIVE_URL: Athena's tables say where the archive is
                **{k: v for k, v in environment.items() if k != "QLDB_ARCHIVE_URL"},
                "QLDB_ARCHIVE_ATHENA_DATABASE": database,
                "QLDB_ARCHIVE_ATHENA_WORKGROUP": workgroup,
                "QLDB_ARCHIVE_WORK_URL": f"s3://{self.work_bucket.bucket_name}/",
            },
            cpu=1024,
            memory_mib=4096,
            statements=statements,
            command=["exec qldb-archive restore-split --help"],  # run-task gives OUTPUT and --shards
            target_secret=False,
            findings=(
                (  # cdk-nag names the pseudo parameters as <AWS::...>
                    f"Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/{database}/*",
                    "the archive's tables and views, one database",
                ),
                (objects_of(results), "Athena writes each query's results under a name it makes"),
                (
                    objects_of(self.work_bucket),
                    "a split's objects are named by its UNLOAD, a prefix per split",
                ),
            ),
        )

    def _vpc(
        self, vpc_id: str, subnet_ids: tuple[str, ...], zones: tuple[str, ...], access_logs: s3.IBucket
    ) -> ec2.IVpc:
        if vpc_id:
            return ec2.Vpc.from_vpc_attributes(
                self,
                "Vpc",
                vpc_id=vpc_id,
                availability_zones=list(zones),
                private_subnet_ids=list(subnet_ids),
            )
        return ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="jobs", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
            ],
            flow_logs={
                "all": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_s3(access_logs, "vpc-flow-logs/"),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
            restrict_default_security_group=False,
        )

    def _image(self, container_image: str) -> ecs.ContainerImage:
        if container_image:
            repository, tag = container_image.rsplit(":", 1)
            return ecs.ContainerImage.from_ecr_repository(
                ecr.Repository.from_repository_name(self, "ImageRepository", repository), tag
            )
        return ecs.ContainerImage.from_asset(
            str(REPO_ROOT), file="infra/Dockerfile", exclude=_EXCLUDE, ignore_mode=IgnoreMode.DOCKER
        )

    def _task(
        self,
        name: str,
        *,
        image: ecs.ContainerImage,
        environment: dict[str, str],
        cpu: int,
        memory_mib: int,
        statements: list[iam.PolicyStatement],
        command: list[str],
        target_secret: bool = True,
        findings: Sequence[tuple[str, str]] = (),
    ) -> ecs.FargateTaskDefinition:
        role = iam.Role(
            self,
            f"{name}TaskRole",
            description=f"qldb-archive {name.lower()} job: reads the archive",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
        )
        policy = iam.Policy(self, f"{name}TaskPolicy", statements=statements)
        policy.attach_to_role(role)
        if any("*" in st.resources for st in statements):
            acknowledge(
                policy,
                "AwsSolutions-IAM5",
                "cloudwatch:PutMetricData has no resource type (AWS requires Resource '*'); the "
                f"cloudwatch:namespace condition limits it to the {NAMESPACE} namespace.",
                finding="Resource::*",
            )
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "The job reads every archive object (it rebuilds or checks the whole ledger); "
            "only that bucket's objects are allowed.",
            finding=objects_of(self.archive),
        )
        for finding, reason in findings:  # wildcards this task's statements need, each justified
            acknowledge(policy, "AwsSolutions-IAM5", reason, finding=finding)
        if any(st.sid == "WriteParityCache" for st in statements):
            acknowledge(
                policy,
                "AwsSolutions-IAM5",
                "The parity cache's file names are made per run; writes and deletes are allowed "
                f"only under the cache prefix ({PARITY_CACHE_PREFIX}) of the archive bucket.",
                finding=objects_of(self.archive, PARITY_CACHE_PREFIX),
            )
        task = ecs.FargateTaskDefinition(
            self,
            f"{name}Task",
            cpu=cpu,
            memory_limit_mib=memory_mib,
            ephemeral_storage_gib=50,
            task_role=role,
            runtime_platform=ecs.RuntimePlatform(
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
                cpu_architecture=ecs.CpuArchitecture.X86_64,
            ),
        )
        task.add_container(
            "cli",
            image=image,
            entry_point=["/bin/sh", "-c"],
            command=command,
            environment=environment,
            secrets=(
                {
                    "QLDB_ARCHIVE_TARGET_URL": ecs.Secret.from_secrets_manager(
                        self.target_secret, TARGET_URL_FIELD
                    )
                }
                if target_secret
                else None
            ),
            logging=ecs.LogDriver.aws_logs(stream_prefix=name.lower(), log_group=self.log_group),
            readonly_root_filesystem=False,
        )
        if task.execution_role is not None:
            acknowledge(
                task.execution_role,
                "AwsSolutions-IAM5",
                "ecr:GetAuthorizationToken takes no resource (AWS requires Resource '*'); the image pull "
                "itself is scoped to the image repository.",
                finding="Resource::*",
            )
        acknowledge(
            task,
            "AwsSolutions-ECS2",
            "The environment holds no secret: the archive URL and the metric names; the "
            "target URL comes from Secrets Manager.",
        )
        return task

    def _schedule(self, expression: str, stack: Stack) -> scheduler.CfnSchedule:
        role = iam.Role(
            self,
            "SchedulerRole",
            description="qldb-archive: EventBridge Scheduler runs the parity task",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
        )
        task = self.parity_task
        passed = [task.task_role.role_arn]
        if task.execution_role is not None:
            passed.append(task.execution_role.role_arn)
        policy = iam.Policy(
            self,
            "SchedulerPolicy",
            statements=[
                iam.PolicyStatement(
                    sid="RunParityTask",
                    actions=["ecs:RunTask"],
                    resources=[task.task_definition_arn],
                    conditions={"ArnEquals": {"ecs:cluster": self.cluster.cluster_arn}},
                ),
                iam.PolicyStatement(
                    sid="PassTaskRoles",
                    actions=["iam:PassRole"],
                    resources=passed,
                    conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
                ),
            ],
        )
        policy.attach_to_role(role)
        schedule = scheduler.CfnSchedule(
            self,
            "ParitySchedule",
            description="qldb-archive parity check: the target database against the archive",
            schedule_expression=expression,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.cluster.cluster_arn,
                role_arn=role.role_arn,
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=3
                ),
                ecs_parameters=scheduler.CfnSchedule.EcsParametersProperty(
                    task_definition_arn=task.task_definition_arn,
                    launch_type="FARGATE",
                    task_count=1,
                    network_configuration=scheduler.CfnSchedule.NetworkConfigurationProperty(
                        awsvpc_configuration=scheduler.CfnSchedule.AwsVpcConfigurationProperty(
                            subnets=[s.subnet_id for s in self.vpc.private_subnets],
                            security_groups=[self.security_group.security_group_id],
                            assign_public_ip="DISABLED",
                        )
                    ),
                ),
            ),
        )
        schedule.node.add_dependency(policy)
        return schedule

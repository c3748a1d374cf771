"""Live replication (optional): a Lambda on the journal stream keeps the target database in step.

`restore.live.lambda_handler`, bundled by `infra.bundle` with `LIVE_PACKAGES` (the restore's
targets and both database drivers), reads the journal stream through a Kinesis event source
mapping (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html):

- ``ReportBatchItemFailures``: the handler names the first record that failed (strict order
  waiting for a version, a poison record the queue did not take) and Lambda retries from it;
  ``BisectBatchOnFunctionError``: a database error fails the invocation and the batch is halved;
- ``MaximumRetryAttempts`` and ``MaximumRecordAgeInSeconds`` bound the retries; what is given up
  goes to the on-failure destination, an encrypted (SSE-SQS), TLS-only queue that the handler
  also sends poison records to, with their data (restore/live_plan.py ``PoisonMessage``);
- ``ParallelizationFactor`` batches per shard (Lambda keeps each partition key, a document id,
  in order); ``StartingPosition`` TRIM_HORIZON: seed the database with ``qldb-archive restore``,
  then deploy this, and the replay of the stream's retention converges (the version guard).

Network: the function runs in the jobs' VPC (private subnets) with its own security group, no
inbound; let that group into the database. The database URL comes from the stack's target
secret (the restore and parity jobs' ``{"url": ...}``), read at cold start. The role may read the
stream (and decrypt it), read that secret, send to the queue, manage its network interfaces and
write its own logs, and nothing else. Alarms (on the stack's topic): errors, the iterator age
(how far replication lags the stream) and any message in the queue.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bundle import PYTHON_VERSION, Architecture
from infra.components.nag import acknowledge
from infra.components.transform_lambda import _ARCHITECTURES, _RUNTIMES
from infra.metrics import NAMESPACE

if TYPE_CHECKING:
    from aws_cdk import aws_kinesis as kinesis
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_secretsmanager as secretsmanager
    from aws_cdk import aws_sns as sns

    from infra.settings import LiveOrder

__all__ = ["LIVE_HANDLER", "LiveReplication"]

LIVE_HANDLER: Final = "restore.live.lambda_handler"
_ENI_ACTIONS: Final = [
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
_ENI_DESCRIBE: Final = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]


class LiveReplication(Construct):
    """The live replication function, its event source mapping, queue, network and alarms.

    Attributes:
        function: the Lambda function.
        mapping: the Kinesis event source mapping.
        queue: the poison and on-failure queue.
        security_group: the function's security group (allow it into the database).
        log_group: the function's logs.
        role: its execution role.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bundle: Path,
        architecture: Architecture,
        stream: kinesis.IStream,
        stream_key: kms.IKey,
        vpc: ec2.IVpc,
        target_secret: secretsmanager.ISecret,
        topic: sns.ITopic,
        history: bool,
        order: LiveOrder,
        batch_size: int,
        parallelization_factor: int,
        max_retry_attempts: int,
        max_record_age_seconds: int,
        strict_max_wait_seconds: int,
        lag_alarm_seconds: int,
        memory_mb: int = 1024,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN
        )
        self.queue = sqs.Queue(
            self,
            "FailureQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead end: the on-failure destination of the event source mapping "
            "and the poison queue of the handler; its messages are kept 14 days and alarmed on.",
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="qldb-archive live replication Lambda: no inbound; allow it into the target DB",
            allow_all_outbound=True,
        )
        self.role = iam.Role(
            self,
            "Role",
            description="qldb-archive live replication Lambda: reads the journal stream, writes the database",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        ec2_arn = f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}"
        policy = iam.Policy(
            self,
            "Policy",
            statements=[
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                ),
                iam.PolicyStatement(
                    sid="ReadJournalStream",
                    actions=[
                        "kinesis:DescribeStream",
                        "kinesis:DescribeStreamSummary",
                        "kinesis:GetRecords",
                        "kinesis:GetShardIterator",
                        "kinesis:ListShards",
                    ],
                    resources=[stream.stream_arn],
                ),
                iam.PolicyStatement(
                    sid="DecryptJournalStream", actions=["kms:Decrypt"], resources=[stream_key.key_arn]
                ),
                iam.PolicyStatement(
                    sid="ReadTargetSecret",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[target_secret.secret_arn],
                ),
                iam.PolicyStatement(
                    sid="SendFailures", actions=["sqs:SendMessage"], resources=[self.queue.queue_arn]
                ),
                iam.PolicyStatement(
                    sid="ManageOwnNetworkInterfaces",
                    actions=_ENI_ACTIONS,
                    resources=[
                        f"{ec2_arn}:network-interface/*",
                        f"{ec2_arn}:subnet/*",
                        f"{ec2_arn}:security-group/*",
                    ],
                ),
                iam.PolicyStatement(sid="DescribeNetwork", actions=_ENI_DESCRIBE, resources=["*"]),
            ],
        )
        policy.attach_to_role(self.role)
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "ec2:DescribeNetworkInterfaces and ec2:DescribeSubnets support no resource-level permissions "
            "(AWS requires Resource '*'); Lambda calls them to attach the function to its VPC.",
            finding="Resource::*",
        )
        for kind in ("network-interface", "subnet", "security-group"):
            acknowledge(
                policy,
                "AwsSolutions-IAM5",
                "Lambda creates and deletes the function's network interfaces with ids unknown at deploy "
                "time; the statement is limited to this account's and region's interfaces, subnets and "
                "security groups.",
                finding=f"Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:{kind}/*",
            )
        self.function = lambda_.Function(
            self,
            "Function",
            description="QLDB journal stream -> the target database (restore's version guard and tombstones)",
            runtime=_RUNTIMES[PYTHON_VERSION],
            architecture=_ARCHITECTURES[architecture],
            handler=LIVE_HANDLER,
            code=lambda_.Code.from_asset(str(bundle)),
            memory_size=memory_mb,
            timeout=Duration.minutes(5),
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnets=vpc.private_subnets),
            security_groups=[self.security_group],
            environment={
                "POWERTOOLS_SERVICE_NAME": "qldb-archive-live",
                "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "QLDB_ARCHIVE_TARGET_SECRET_ARN": target_secret.secret_arn,
                "QLDB_ARCHIVE_LIVE_HISTORY": "true" if history else "false",
                "QLDB_ARCHIVE_LIVE_ORDER": order,
                "QLDB_ARCHIVE_LIVE_STRICT_MAX_WAIT_SECONDS": str(strict_max_wait_seconds),
                "QLDB_ARCHIVE_POISON_QUEUE_URL": self.queue.queue_url,
            },
        )
        self.function.node.add_dependency(policy)
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Pinned to python3.11: the bundled amazon-ion C extension and psycopg-binary are built and "
            "tested for CPython 3.11 (infra.bundle.PYTHON_VERSION).",
        )
        self.mapping = lambda_.CfnEventSourceMapping(
            self,
            "Mapping",
            function_name=self.function.function_name,
            event_source_arn=stream.stream_arn,
            starting_position="TRIM_HORIZON",
            batch_size=batch_size,
            parallelization_factor=parallelization_factor,
            bisect_batch_on_function_error=True,
            function_response_types=["ReportBatchItemFailures"],
            maximum_retry_attempts=max_retry_attempts,
            maximum_record_age_in_seconds=max_record_age_seconds,
            destination_config=lambda_.CfnEventSourceMapping.DestinationConfigProperty(
                on_failure=lambda_.CfnEventSourceMapping.OnFailureProperty(destination=self.queue.queue_arn)
            ),
        )
        self.mapping.node.add_dependency(policy)
        self._alarms(topic, lag_alarm_seconds)

    def _alarms(self, topic: sns.ITopic, lag_seconds: int) -> None:
        period = Duration.minutes(5)
        at_least = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        alarms = {
            "ErrorsAlarm": (self.function.metric_errors(period=period, statistic="Sum"), 1),
            "LagAlarm": (
                self.function.metric("IteratorAge", period=period, statistic="Maximum"),
                lag_seconds * 1000,
            ),
            "FailuresAlarm": (
                self.queue.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum"),
                1,
            ),
        }
        for name, (metric, threshold) in alarms.items():
            alarm = cloudwatch.Alarm(
                self,
                name,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=at_least,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"qldb-archive live replication: {metric.metric_name} >= {threshold}",
            )
            alarm.add_alarm_action(actions.SnsAction(topic))

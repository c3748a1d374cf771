"""The Kinesis data stream the QLDB stream (or any producer) writes to, and the legacy QLDB stream.

The data stream is encrypted with a customer-managed key, in on-demand or provisioned mode.
The QLDB stream (``AWS::QLDB::Stream``) is optional and legacy: QLDB was retired on 2025-07-31,
so it only deploys against a ledger that still exists; archives fed by the backfill or another
producer deploy without it (leave ``qldb_ledger_name`` empty). Its role lets QLDB write to this
stream only (https://docs.aws.amazon.com/qldb/latest/developerguide/streams.create.html#streams.create.iam),
and KPL aggregation is on, as the transform de-aggregates (Firehose does for a Kinesis source).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_qldb as qldb
from constructs import Construct

from infra.components.nag import acknowledge

if TYPE_CHECKING:
    from infra.settings import StreamMode

__all__ = ["JournalStream", "LegacyQldbStream"]


class JournalStream(Construct):
    """The Kinesis data stream of QLDB stream records, with its KMS key.

    Attributes:
        key: the customer-managed key of the stream.
        stream: the data stream.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        mode: StreamMode,
        shard_count: int,
        retention_hours: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="qldb-archive: Kinesis journal stream",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        provisioned = mode == "PROVISIONED"
        self.stream = kinesis.Stream(
            self,
            "Stream",
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=self.key,
            stream_mode=kinesis.StreamMode.PROVISIONED if provisioned else kinesis.StreamMode.ON_DEMAND,
            shard_count=shard_count if provisioned else None,
            retention_period=Duration.hours(retention_hours),
        )
        acknowledge(
            self.stream,
            "AwsSolutions-KDS3",
            "A customer-managed key is required: its key policy, not the AWS-managed key's, decides who may "
            "read the journal, and its use is auditable per principal.",
        )


class LegacyQldbStream(Construct):
    """The QLDB journal stream from a ledger into `JournalStream`, and the role QLDB assumes.

    Attributes:
        role: the role QLDB assumes to write to the stream.
        qldb_stream: the ``AWS::QLDB::Stream`` resource.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        journal: JournalStream,
        ledger_name: str,
        inclusive_start_time: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            description="QLDB writes the journal of one ledger into the Kinesis journal stream (legacy)",
            assumed_by=iam.ServicePrincipal(
                "qldb.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="qldb", resource="stream", resource_name=f"{ledger_name}/*"
                        )
                    },
                },
            ),
        )
        policy = iam.Policy(
            self,
            "Policy",
            statements=[
                iam.PolicyStatement(
                    sid="WriteJournalStream",
                    actions=[
                        "kinesis:PutRecord",
                        "kinesis:PutRecords",
                        "kinesis:DescribeStream",
                        "kinesis:ListShards",
                    ],
                    resources=[journal.stream.stream_arn],
                ),
                iam.PolicyStatement(
                    sid="EncryptForStream",
                    actions=["kms:GenerateDataKey"],
                    resources=[journal.key.key_arn],
                ),
            ],
        )
        policy.attach_to_role(self.role)
        self.qldb_stream = qldb.CfnStream(
            self,
            "Stream",
            ledger_name=ledger_name,
            stream_name=f"{ledger_name}-archive",
            role_arn=self.role.role_arn,
            inclusive_start_time=inclusive_start_time,
            kinesis_configuration=qldb.CfnStream.KinesisConfigurationProperty(
                stream_arn=journal.stream.stream_arn, aggregation_enabled=True
            ),
        )
        self.qldb_stream.node.add_dependency(policy)

"""The Firehose delivery stream: Kinesis in, transform Lambda, Parquet out, partitioned by the Lambda's keys.

- Source: the journal Kinesis stream (Firehose de-aggregates KPL records for a Kinesis source).
- Processor: the transformation Lambda with ``BufferSizeInMBs`` 1 (`PROCESSOR_BUFFER_MB`). Why 1:
  the handler's rows expand its input by at most x5.5, and the response is capped at 6 MB:
  6,291,456 / 5.5 = 1.14 MB (firehose_transform/handler.py). 3 retries, then the record goes
  to the error prefix with its original bytes.
- Record format conversion: OpenX JSON SerDe in (it parses the rows' ISO-8601 UTC timestamps
  without configuration; see firehose_transform/schema.py), Snappy Parquet out, against the
  ``archive_rows`` Glue table (every column of the archive schema).
- Dynamic partitioning on the Lambda's ``metadata.partitionKeys``: the prefix is
  `firehose_transform.local_firehose.S3_PREFIX` (``p_ledger=!{partitionKeyFromLambda:p_ledger}/...``),
  the error output prefix `ERROR_OUTPUT_PREFIX` (``processing-failed/`` and
  ``format-conversion-failed/`` by error type), the same layout the local Firehose writes.
  Trap: dynamic partitioning can only be enabled when the stream is created.
- Buffering: 64-128 MiB (the documented minimum with format conversion is 64 MiB) and up to
  900 s; objects end in ``.parquet``.
- Optional backup of the source records (GZIP) under ``source-records/``: what the backfill
  reads to rebuild the archive from scratch.
- Logging to CloudWatch Logs (delivery and backup streams). Server-side encryption of the
  delivery stream itself is not available with a Kinesis source: the source stream is
  KMS-encrypted, and every object written is SSE-KMS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from firehose_transform.local_firehose import ERROR_OUTPUT_PREFIX, S3_PREFIX
from infra.components.nag import acknowledge, objects_of

if TYPE_CHECKING:
    from infra.components.stream import JournalStream

__all__ = [
    "BACKUP_PREFIX",
    "FILE_EXTENSION",
    "PROCESSOR_BUFFER_MB",
    "PROCESSOR_RETRIES",
    "DeliveryStream",
]

PROCESSOR_BUFFER_MB: Final = 1
"""Lambda processor buffer, MB of input: x5.5 worst-case expansion stays under the 6 MB response."""
PROCESSOR_BUFFER_SECONDS: Final = 60
PROCESSOR_RETRIES: Final = 3
BACKUP_PREFIX: Final = "source-records/"
FILE_EXTENSION: Final = ".parquet"
DELIVERY_LOG_STREAM: Final = "DestinationDelivery"
BACKUP_LOG_STREAM: Final = "BackupDelivery"


class DeliveryStream(Construct):
    """The delivery stream, its role, its log group.

    Attributes:
        delivery_stream: the ``AWS::KinesisFirehose::DeliveryStream``.
        role: the role Firehose assumes.
        log_group: Firehose's error logs.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        journal: JournalStream,
        transform: lambda_.IFunction,
        archive: s3.IBucket,
        archive_key: kms.IKey,
        archive_prefix: str,
        database: str,
        schema_table: str,
        buffer_mb: int,
        buffer_seconds: int,
        source_backup: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN
        )
        streams = [DELIVERY_LOG_STREAM] + ([BACKUP_LOG_STREAM] if source_backup else [])
        for name in streams:
            logs.LogStream(self, name, log_group=self.log_group, log_stream_name=name)
        self.role = iam.Role(
            self,
            "Role",
            description="qldb-archive Firehose: reads the journal stream, transforms, writes the archive",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com", conditions={"StringEquals": {"sts:ExternalId": stack.account}}
            ),
        )
        glue_table = stack.format_arn(
            service="glue", resource="table", resource_name=f"{database}/{schema_table}"
        )
        policy = iam.Policy(
            self,
            "Policy",
            statements=[
                iam.PolicyStatement(
                    sid="ReadJournalStream",
                    actions=[
                        "kinesis:DescribeStream",
                        "kinesis:DescribeStreamSummary",
                        "kinesis:GetShardIterator",
                        "kinesis:GetRecords",
                        "kinesis:ListShards",
                    ],
                    resources=[journal.stream.stream_arn],
                ),
                iam.PolicyStatement(
                    sid="DecryptJournalStream", actions=["kms:Decrypt"], resources=[journal.key.key_arn]
                ),
                iam.PolicyStatement(
                    sid="InvokeTransform",
                    actions=["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
                    resources=[transform.function_arn],
                ),
                iam.PolicyStatement(
                    sid="ReadArchiveSchema",
                    actions=["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
                    resources=[
                        stack.format_arn(service="glue", resource="catalog"),
                        stack.format_arn(service="glue", resource="database", resource_name=database),
                        glue_table,
                    ],
                ),
                iam.PolicyStatement(
                    sid="ArchiveBucket",
                    actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                    resources=[archive.bucket_arn],
                ),
                iam.PolicyStatement(
                    sid="ArchiveObjects",
                    actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                    resources=[archive.arn_for_objects("*")],
                ),
                iam.PolicyStatement(
                    sid="EncryptArchive",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[archive_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="WriteErrorLogs",
                    actions=["logs:PutLogEvents"],
                    resources=[
                        stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name=f"{self.log_group.log_group_name}:log-stream:{name}",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                        for name in streams
                    ],
                ),
            ],
        )
        policy.attach_to_role(self.role)
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "Firehose writes objects under generated names (partition prefixes, error and "
            "backup prefixes) in the archive bucket; only that bucket's objects are allowed.",
            finding=objects_of(archive),
        )
        bucket_arn = archive.bucket_arn
        s3_logging = {"Enabled": True, "LogGroupName": self.log_group.log_group_name}
        destination: dict[str, object] = {
            "BucketARN": bucket_arn,
            "RoleARN": self.role.role_arn,
            "Prefix": archive_prefix + S3_PREFIX,
            "ErrorOutputPrefix": archive_prefix + ERROR_OUTPUT_PREFIX,
            "FileExtension": FILE_EXTENSION,
            "BufferingHints": {"SizeInMBs": buffer_mb, "IntervalInSeconds": buffer_seconds},
            "CompressionFormat": "UNCOMPRESSED",  # Parquet compresses (Snappy) inside the file
            "EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyARN": archive_key.key_arn}},
            "CloudWatchLoggingOptions": {**s3_logging, "LogStreamName": DELIVERY_LOG_STREAM},
            "ProcessingConfiguration": {
                "Enabled": True,
                "Processors": [
                    {
                        "Type": "Lambda",
                        "Parameters": [
                            {"ParameterName": "LambdaArn", "ParameterValue": transform.function_arn},
                            {"ParameterName": "BufferSizeInMBs", "ParameterValue": str(PROCESSOR_BUFFER_MB)},
                            {
                                "ParameterName": "BufferIntervalInSeconds",
                                "ParameterValue": str(PROCESSOR_BUFFER_SECONDS),
                            },
                            {"ParameterName": "NumberOfRetries", "ParameterValue": str(PROCESSOR_RETRIES)},
                        ],
                    }
                ],
            },
            "DataFormatConversionConfiguration": {
                "Enabled": True,
                # Explicit: an empty object would be dropped from the template. The rows' keys are lowercase.
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {"CaseInsensitive": True}}},
                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}},
                "SchemaConfiguration": {
                    "CatalogId": stack.account,
                    "DatabaseName": database,
                    "TableName": schema_table,
                    "Region": stack.region,
                    "RoleARN": self.role.role_arn,
                    "VersionId": "LATEST",
                },
            },
            "DynamicPartitioningConfiguration": {"Enabled": True, "RetryOptions": {"DurationInSeconds": 300}},
            "S3BackupMode": "Enabled" if source_backup else "Disabled",
        }
        if source_backup:
            destination["S3BackupConfiguration"] = {
                "BucketARN": bucket_arn,
                "RoleARN": self.role.role_arn,
                "Prefix": archive_prefix + BACKUP_PREFIX + "!{timestamp:yyyy/MM/dd/HH}/",
                "ErrorOutputPrefix": archive_prefix + BACKUP_PREFIX + "errors/!{firehose:error-output-type}/",
                "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": buffer_seconds},
                "CompressionFormat": "GZIP",
                "EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyARN": archive_key.key_arn}},
                "CloudWatchLoggingOptions": {**s3_logging, "LogStreamName": BACKUP_LOG_STREAM},
            }
        self.delivery_stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_type="KinesisStreamAsSource",
            kinesis_stream_source_configuration=firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                kinesis_stream_arn=journal.stream.stream_arn, role_arn=self.role.role_arn
            ),
        )
        self.delivery_stream.add_property_override("ExtendedS3DestinationConfiguration", destination)
        self.delivery_stream.node.add_dependency(policy)  # Firehose checks its access when created
        acknowledge(
            self.delivery_stream,
            "AwsSolutions-KDF1",
            "Delivery stream SSE cannot be enabled with a Kinesis source; the source stream "
            "is encrypted with a customer-managed key and every object written is SSE-KMS.",
        )

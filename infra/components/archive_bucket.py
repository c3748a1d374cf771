"""The archive bucket: a write-once, encrypted, versioned home for the Parquet archive.

- SSE-KMS with a customer-managed key (rotated yearly) and S3 Bucket Keys (fewer KMS calls per
  Firehose object); a TLS-only bucket policy; all public access blocked; ACLs disabled.
- Versioning and Object Lock in governance mode with a default retention
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html): no archive object
  can be overwritten or deleted within the retention unless a principal holds
  ``s3:BypassGovernanceRetention`` (none in this stack has it). Trap: Object Lock can only be
  enabled when the bucket is created, and PutObject into a bucket with a default retention needs
  a Content-MD5 or ``x-amz-checksum-*`` header (Firehose and current SDKs send one).
- Lifecycle: Standard-IA, then Glacier Instant Retrieval, which Athena still reads (never
  Glacier Flexible or Deep Archive: Athena skips those objects); incomplete multipart uploads
  aborted after 7 days. Old versions are not expired: that is the point of the archive.
- Server access logs go to a second bucket (S3-managed keys: the log delivery service cannot use
  SSE-KMS), kept 400 days.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.components.nag import acknowledge

__all__ = ["ArchiveBucket"]


class ArchiveBucket(Construct):
    """The archive bucket, its KMS key and its access-log bucket.

    Attributes:
        key: the customer-managed key encrypting the archive (and Athena results, alarms).
        bucket: the archive bucket.
        access_logs: the server access log bucket (also used by the Athena results bucket).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        object_lock_days: int,
        infrequent_access_days: int,
        glacier_ir_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="qldb-archive: archive bucket, Athena results and alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(400),
                    noncurrent_version_expiration=Duration.days(30),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This is the server access log bucket; logging it into itself would loop.",
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.governance(Duration.days(object_lock_days)),
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="archive/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="tier-archive",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(infrequent_access_days),
                        ),
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(glacier_ir_days),
                        ),
                    ],
                    noncurrent_version_transitions=[
                        s3.NoncurrentVersionTransition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(infrequent_access_days),
                        )
                    ],
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

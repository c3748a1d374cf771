"""The stack's private working buckets: encrypted, TLS only, logged, their objects expiring."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

if TYPE_CHECKING:
    from constructs import Construct

__all__ = ["expiring_bucket"]


def expiring_bucket(
    scope: Construct,
    construct_id: str,
    *,
    key: kms.IKey,
    access_logs: s3.IBucket,
    log_prefix: str,
    rule_id: str,
    expiry_days: int,
    versioned: bool = False,
) -> s3.Bucket:
    """A bucket for what the stack writes and later forgets (Athena results, restore splits).

    SSE-KMS with `key` and bucket keys, public access blocked, TLS only, ACLs disabled, server
    access logs under `log_prefix` of `access_logs`; objects expire `expiry_days` after they were
    written (a noncurrent version a day after it was replaced, when `versioned`), incomplete
    uploads after a day; the bucket is retained when the stack is deleted.
    """
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=versioned,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=log_prefix,
        lifecycle_rules=[
            s3.LifecycleRule(
                id=rule_id,
                expiration=Duration.days(expiry_days),
                noncurrent_version_expiration=Duration.days(1) if versioned else None,
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )

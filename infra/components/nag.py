"""cdk-nag acknowledgements (suppressions), each with its reason, and the names of what they apply to.

cdk-nag 3 acknowledges findings through CDK's ``Validations.of(construct).acknowledge``; a finding
on one resource of a rule like IAM5 is ``<rule>[<finding>]`` (``AwsSolutions-IAM5[Resource::...]``).
The app writes every acknowledgement into the template's ``cdk_nag`` metadata too, so the reasons
travel with the template (and a test checks each has one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from aws_cdk import aws_s3 as s3

if TYPE_CHECKING:
    from constructs import IConstruct

__all__ = ["acknowledge", "objects_of"]


def acknowledge(construct: IConstruct, rule: str, reason: str, *, finding: str | None = None) -> None:
    """Acknowledge cdk-nag `rule` (``AwsSolutions-XX``) on `construct`, optionally one `finding` of it."""
    rule_id = f"{rule}[{finding}]" if finding else rule
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def objects_of(bucket: s3.IBucket, prefix: str = "") -> str:
    """The IAM5 finding for ``<bucket ARN>/<prefix>*``: every object of one bucket (under `prefix`).

    cdk-nag names a resource ``<LogicalId.Arn>`` for an ``Fn::GetAtt``.
    """
    child = bucket.node.default_child
    if not isinstance(child, CfnElement):
        raise TypeError(f"{bucket.node.path}: not a bucket defined in this app")
    return f"Resource::<{Stack.of(bucket).get_logical_id(child)}.Arn>/{prefix}*"

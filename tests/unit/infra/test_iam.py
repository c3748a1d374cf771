"""Least privilege: every IAM statement in the template names actions exactly and scopes its resources."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final

import pytest

from tests.unit.infra.support import Synth, require_cdk

require_cdk()

RESOURCE_STAR_ALLOWED: Final = {
    # action -> why AWS requires Resource "*"
    "ecr:GetAuthorizationToken": "takes no resource; the image pull itself is scoped to the repository",
    "cloudwatch:PutMetricData": "has no resource type; scoped by the cloudwatch:namespace condition",
    "ec2:DescribeNetworkInterfaces": "no resource-level permissions; Lambda puts the live function in a VPC",
    "ec2:DescribeSubnets": "no resource-level permissions; Lambda puts the live function in a VPC",
}
KEY_POLICY_STAR: Final = {
    # Key policies always name Resource "*" (the key itself).
    "kms:*": "the account root administers the key (CDK's default key policy; IAM policies then grant use)",
    "kms:Decrypt": "CloudWatch alarms publish to the encrypted SNS topic",
    "kms:GenerateDataKey": "CloudWatch alarms publish to the encrypted SNS topic",
}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _identity_statements(s: Synth) -> Iterator[tuple[str, dict[str, Any]]]:
    for lid, r in s.template["Resources"].items():
        props = r.get("Properties", {})
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for st in props["PolicyDocument"]["Statement"]:
                yield lid, st
        if r["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for st in policy["PolicyDocument"]["Statement"]:
                    yield lid, st


@pytest.mark.parametrize("variant", ["default_synth", "legacy_synth"])
def test_identity_policies_are_least_privilege(variant: str, request: pytest.FixtureRequest) -> None:
    s: Synth = request.getfixturevalue(variant)
    problems = []
    count = 0
    for lid, st in _identity_statements(s):
        count += 1
        assert st["Effect"] == "Allow", f"{lid}: {st}"
        assert "NotAction" not in st, lid
        assert "NotResource" not in st, lid
        actions = _list(st["Action"])
        for action in actions:
            if "*" in action:
                problems.append(f"{lid}: wildcard action {action}")
        for resource in _list(st["Resource"]):
            if resource == "*":
                unexplained = [a for a in actions if a not in RESOURCE_STAR_ALLOWED]
                if unexplained:
                    problems.append(f"{lid}: Resource * for {unexplained}")
                if "cloudwatch:PutMetricData" in actions:
                    assert st["Condition"] == {"StringEquals": {"cloudwatch:namespace": "QldbArchive"}}
            elif isinstance(resource, str) and resource.endswith(":*") and resource.count(":") <= 5:
                problems.append(f"{lid}: service-wide resource {resource}")
    assert problems == []
    assert count >= 15


@pytest.mark.parametrize("variant", ["default_synth", "legacy_synth"])
def test_no_managed_policies(variant: str, request: pytest.FixtureRequest) -> None:
    s: Synth = request.getfixturevalue(variant)
    for lid, role in s.resources("AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], f"{lid}: use an inline, scoped policy"


def test_service_roles_are_confused_deputy_safe(default_synth: Synth) -> None:
    for lid, role in default_synth.resources("AWS::IAM::Role").items():
        for st in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            service = st["Principal"].get("Service")
            if service in ("firehose.amazonaws.com", "scheduler.amazonaws.com"):
                assert "Condition" in st, f"{lid}: {service} trust without a source condition"


def test_key_policies_use_star_only_as_the_key_itself(default_synth: Synth) -> None:
    for lid, key in default_synth.resources("AWS::KMS::Key").items():
        for st in key["Properties"]["KeyPolicy"]["Statement"]:
            assert st["Resource"] == "*"  # in a key policy, "*" is this key
            for action in _list(st["Action"]):
                assert action in KEY_POLICY_STAR, f"{lid}: {action}"
            if "kms:*" in _list(st["Action"]):
                assert json.dumps(st["Principal"]).count(":root") == 1


def test_firehose_policy_scopes(default_synth: Synth) -> None:
    (policy,) = [
        p for k, p in default_synth.resources("AWS::IAM::Policy").items() if k.startswith("DeliveryPolicy")
    ]
    by_sid = {st["Sid"]: st for st in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert by_sid["InvokeTransform"]["Resource"]["Fn::GetAtt"][0].startswith("TransformFunction")
    assert by_sid["EncryptArchive"]["Condition"]["StringEquals"]["kms:ViaService"]
    glue = json.dumps(by_sid["ReadArchiveSchema"]["Resource"])
    assert "table/qldb_archive/archive_rows" in glue

"""cdk-nag (AwsSolutions): nothing unacknowledged, every acknowledgement reasoned; cfn-lint clean."""

from __future__ import annotations

import importlib
import json
from typing import Final

import pytest

from tests.unit.infra.support import Synth, require_cdk

require_cdk()

# cfn-lint ships no type information: its API is used through an Any-typed module object
cfnlint_api = importlib.import_module("cfnlint.api")

EXPECTED_ACKNOWLEDGEMENTS: Final = {
    "AwsSolutions-S1",  # the access log bucket does not log into itself
    "AwsSolutions-KDS3",  # a customer-managed key on the stream, as the issue requires
    "AwsSolutions-KDF1",  # no delivery stream SSE with a Kinesis source
    "AwsSolutions-L1",  # the transform is pinned to python3.11 (its C extension)
    "AwsSolutions-SMG4",  # the target URL secret rotates with its database
    "AwsSolutions-ECS2",  # non-secret environment variables
    "AwsSolutions-IAM5[Resource::*]",  # ecr:GetAuthorizationToken, cloudwatch:PutMetricData
    "AwsSolutions-IAM5[Resource::<bucket>/*]",  # objects of one bucket (Firehose, jobs, Athena results)
    "AwsSolutions-SQS3",  # the live replication queue is itself the dead end
    # the split task reads the archive's Glue tables and views, in its one database
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/qldb_archive/*]",
    # the live function's network interfaces, subnets and security groups, in this account and region
    *(
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:{kind}/*]"
        for kind in ("network-interface", "subnet", "security-group")
    ),
}

CFN_LINT_IGNORED: Final = {
    # CDK's Lambda construct adds DependsOn on its role next to the GetAtt of the role: redundant, harmless.
    "W3005": "CDK adds an explicit DependsOn on a function's role beside the GetAtt",
}
QLDB_RULES: Final = {
    # QLDB was shut down on 2025-07-31: cfn-lint flags the resource type itself, and without its schema
    # cannot type the GetAtt inside its properties. Ignored on the AWS::QLDB::Stream resource only.
    "E3710": "AWS::QLDB::Stream is from a service shut down on 2025-07-31 (the stream is optional, legacy)",
    "E1010": "no schema left for AWS::QLDB::Stream: the GetAtt in its KinesisConfiguration is untyped",
}


def _acknowledgements(s: Synth) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for resource in s.template["Resources"].values():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            if rule["id"].startswith("AwsSolutions-"):
                found.setdefault(rule["id"], set()).add(rule["reason"])
    return found


@pytest.mark.parametrize("variant", ["default_synth", "legacy_synth"])
def test_cdk_nag_has_no_unacknowledged_findings(variant: str, request: pytest.FixtureRequest) -> None:
    s: Synth = request.getfixturevalue(variant)
    # synth raises ValidationFailed on any unacknowledged finding; a report lists a plugin's findings
    report = json.loads((s.outdir / "validation-report.json").read_text())
    plugins = {r["pluginName"]: r for r in report["pluginReports"]}
    assert plugins.get("AwsSolutions", {}).get("violations", []) == []


def test_cdk_nag_fails_synth_on_a_finding() -> None:
    """The checks really run: an unencrypted, unlogged bucket fails synth as the app configures it."""
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3
    from cdk_nag import AwsSolutionsChecks

    app = cdk.App()
    stack = cdk.Stack(app, "Bad")
    s3.Bucket(stack, "Plain")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="AwsSolutions-S1"):
        app.synth()


def test_every_acknowledgement_is_expected_and_justified(default_synth: Synth, legacy_synth: Synth) -> None:
    found = _acknowledgements(default_synth)
    for rule, reasons in _acknowledgements(legacy_synth).items():
        found.setdefault(rule, set()).update(reasons)
    normalised = {
        "AwsSolutions-IAM5[Resource::<bucket>/*]" if r.startswith("AwsSolutions-IAM5[Resource::<") else r
        for r in found
    }
    assert normalised == EXPECTED_ACKNOWLEDGEMENTS
    for rule, reasons in found.items():
        assert all(len(reason) >= 40 for reason in reasons), f"{rule}: give the reason in full"


@pytest.mark.parametrize("variant", ["default_synth", "legacy_synth"])
def test_cfn_lint_is_clean(variant: str, request: pytest.FixtureRequest) -> None:
    s: Synth = request.getfixturevalue(variant)
    qldb = {k for k, r in s.template["Resources"].items() if r["Type"] == "AWS::QLDB::Stream"}
    matches = cfnlint_api.lint(
        json.dumps(s.template),
        config=cfnlint_api.ManualArgs(regions=["us-east-1"], ignore_checks=sorted(CFN_LINT_IGNORED)),
    )
    problems = [
        f"{m.rule.id} {m.message} at {'/'.join(map(str, m.path))}"
        for m in matches
        if not (m.rule.id in QLDB_RULES and len(m.path) > 1 and m.path[1] in qldb)
    ]
    assert problems == []
    assert bool(qldb) == (variant == "legacy_synth")

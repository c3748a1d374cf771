"""Shared by the infra tests: the `cdk` extra guard and one offline synth per context, cached per session.

Without the `cdk` extra (aws-cdk-lib, constructs, cdk-nag, cfn-lint) the infra tests are skipped
with one line saying how to install it, except under CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

INSTALL_HINT = "pip install -e '.[cdk]'"


def require_cdk() -> None:
    """Skip the calling test module (fail under CI) when the `cdk` extra is not installed."""
    missing = []
    for module in ("aws_cdk", "constructs", "cdk_nag", "cfnlint"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        message = f"infra tests need {', '.join(missing)}: {INSTALL_HINT}"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message, allow_module_level=True)


@dataclass(frozen=True, slots=True)
class Synth:
    """One synthesised app: the stack's template and the cloud assembly folder."""

    template: dict[str, Any]
    outdir: Path
    context: dict[str, object]

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        """Logical id -> resource, for every resource of CloudFormation type `kind`."""
        return {k: r for k, r in self.template["Resources"].items() if r["Type"] == kind}

    def one(self, kind: str) -> dict[str, Any]:
        """The properties of the one resource of type `kind`."""
        found = self.resources(kind)
        assert len(found) == 1, f"{len(found)} resources of type {kind}"
        return next(iter(found.values()))["Properties"]  # type: ignore[no-any-return]


_CACHE: dict[str, Synth] = {}

LEGACY_CONTEXT: dict[str, object] = {
    "stream_mode": "PROVISIONED",
    "shard_count": 2,
    "qldb_ledger_name": "vehicle-registration",
    "qldb_start_time": "2020-01-01T00:00:00Z",
    "source_backup": True,
    "lambda_architecture": "arm64",
    "tables": ["VehicleRegistration", "Person"],
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
    "availability_zones": ["us-east-1a", "us-east-1b"],
    "target_secret_arn": "arn:aws:secretsmanager:us-east-1:111111111111:secret:qldb-archive/target-AbCdEf",
    "container_image": "qldb-archive:1.2.3",
    "alarm_email": "oncall@example.com",
    "max_idle_hours": 24,
    "archive_prefix": "archive/",
    "live_replication": True,
    "live_history": True,
    "live_order": "strict",
    "live_batch_size": 1000,
    "live_parallelization_factor": 4,
    "live_max_retry_attempts": 10000,
    "live_max_record_age_seconds": 3600,
    "live_strict_max_wait_seconds": 600,
}
"""A variant with every optional part on (legacy QLDB stream, backup, existing VPC, live replication...)."""

NO_PARITY_CONTEXT: dict[str, object] = {"parity_schedule": ""}


def synth(context: dict[str, object] | None = None) -> Synth:
    """Synthesise the app with `context` once per session (offline; the Lambda bundle is cached)."""
    key = json.dumps(context or {}, sort_keys=True)
    if key not in _CACHE:
        from infra.app import STACK_NAME, build_app

        outdir = Path(tempfile.mkdtemp(prefix="qldb-archive-cdk-"))
        app = build_app(context, outdir=str(outdir))
        assembly = app.synth()
        template = assembly.get_stack_by_name(STACK_NAME).template
        _CACHE[key] = Synth(template=template, outdir=outdir, context=dict(context or {}))
    return _CACHE[key]

"""The Firehose transformation Lambda: `firehose_transform.handler.lambda_handler`, bundled by `infra.bundle`.

The code is the folder `infra.bundle.build_lambda_bundle` made (platform wheels, our two
packages), given as a plain asset, so synth needs no Docker. Firehose invokes the function
synchronously and waits up to 5 minutes per invocation, so the timeout is 5 minutes; the handler
keeps each response under the 6 MB limit itself. Its role may write its own log group and
nothing else: the function calls no AWS API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundle import PYTHON_VERSION, Architecture
from infra.components.nag import acknowledge

__all__ = ["HANDLER", "TransformLambda"]

HANDLER: Final = "firehose_transform.handler.lambda_handler"
_RUNTIMES: Final = {"3.11": lambda_.Runtime.PYTHON_3_11}
_ARCHITECTURES: Final = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}


class TransformLambda(Construct):
    """The transformation function, its log group and its role.

    Attributes:
        function: the Lambda function.
        log_group: where the handler's JSON log lines go (the ProcessingFailed metric filter reads it).
        role: the function's execution role.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bundle: Path,
        architecture: Architecture,
        memory_mb: int = 1024,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN
        )
        self.role = iam.Role(
            self,
            "Role",
            description="qldb-archive transformation Lambda: writes its own logs only",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        logs_policy = iam.Policy(
            self,
            "LogsPolicy",
            statements=[
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                )
            ],
        )
        logs_policy.attach_to_role(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description="QLDB stream records -> archive rows (JSON lines) with partition keys",
            runtime=_RUNTIMES[PYTHON_VERSION],
            architecture=_ARCHITECTURES[architecture],
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(bundle)),
            memory_size=memory_mb,
            timeout=Duration.minutes(5),
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={"POWERTOOLS_SERVICE_NAME": "qldb-archive-transform", "POWERTOOLS_LOG_LEVEL": "INFO"},
        )
        self.function.node.add_dependency(logs_policy)
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Pinned to python3.11: the bundled amazon-ion C extension and the project "
            "are built and tested for CPython 3.11 (infra.bundle.PYTHON_VERSION).",
        )

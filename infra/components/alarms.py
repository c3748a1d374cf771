"""Alarms on the pipeline, all notifying one SNS topic (KMS-encrypted, TLS-only).

- Firehose delivery failures: ``DeliveryToS3.Success`` below 1 (some objects were not written),
  ``ExecuteProcessing.Success`` below 1 (the Lambda could not be invoked), and
  ``PartitionCountExceeded`` (more active partitions than the stream's limit: 500 by default).
- Lambda errors and throttles of the transformation function: with Firehose, a failed
  invocation retries the whole batch and then sends it to the error prefix.
- ProcessingFailed records: a metric filter counts the handler's ``record failed`` lines
  (`infra.metrics.PROCESSING_FAILED_RECORDS`); any one means objects under
  ``processing-failed/`` to re-run with ``qldb-archive reprocess-errors`` after a fix.
- Archive freshness: ``DeliveryToS3.DataFreshness`` (the oldest record waiting in Firehose) and
  ``KinesisMillisBehindLatest`` (how far Firehose lags the stream) above `freshness_seconds`;
  optionally, no record delivered for `max_idle_hours` (off by default: a retired ledger's
  stream is legitimately idle).
- Parity: ``ParityDifferences`` above 0, and a missing datapoint counts as breaching: a parity
  check that did not run or could not finish pages too.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.metrics import NAMESPACE, PARITY_DIFFERENCES, PROCESSING_FAILED_PATTERN, PROCESSING_FAILED_RECORDS

__all__ = ["Alarms"]

_FIVE_MINUTES = Duration.minutes(5)
_AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


class Alarms(Construct):
    """The alarm topic and every alarm.

    Attributes:
        topic: the SNS topic every alarm notifies.
        alarms: the alarms, by construct id.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        delivery_stream: firehose.CfnDeliveryStream,
        transform: lambda_.IFunction,
        transform_logs: logs.ILogGroup,
        freshness_seconds: int,
        max_idle_hours: int,
        parity_enabled: bool,
        alarm_email: str,
    ) -> None:
        super().__init__(scope, construct_id)
        # CloudWatch publishes to the encrypted topic with this key (key policy: the key itself).
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishToTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(
            self, "Topic", display_name="qldb-archive alarms", master_key=key, enforce_ssl=True
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        stream = {"DeliveryStreamName": delivery_stream.ref}

        def firehose_metric(name: str, statistic: str, period: Duration = _FIVE_MINUTES) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/Firehose",
                metric_name=name,
                dimensions_map=stream,
                statistic=statistic,
                period=period,
            )

        self._alarm(
            "DeliveryFailed",
            firehose_metric("DeliveryToS3.Success", "Minimum"),
            description="Firehose failed to write objects to the archive bucket (check its error logs).",
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=3,
        )
        self._alarm(
            "ProcessingInvocationFailed",
            firehose_metric("ExecuteProcessing.Success", "Minimum"),
            description="Firehose could not invoke the transform Lambda; batches go to processing-failed/.",
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=3,
        )
        self._alarm(
            "PartitionCountExceeded",
            firehose_metric("PartitionCountExceeded", "Maximum"),
            description="More active partitions than the stream's limit: raise it, or the buffer interval.",
            threshold=1,
        )
        self._alarm(
            "LambdaErrors",
            transform.metric_errors(period=_FIVE_MINUTES, statistic="Sum"),
            description="The transform Lambda failed whole invocations (Firehose retries, then errors them).",
            threshold=1,
        )
        self._alarm(
            "LambdaThrottles",
            transform.metric_throttles(period=_FIVE_MINUTES, statistic="Sum"),
            description="The transformation Lambda was throttled: check the account's concurrency.",
            threshold=1,
        )
        logs.MetricFilter(
            self,
            "ProcessingFailedFilter",
            log_group=transform_logs,
            filter_pattern=logs.FilterPattern.literal(PROCESSING_FAILED_PATTERN),
            metric_namespace=NAMESPACE,
            metric_name=PROCESSING_FAILED_RECORDS,
            metric_value="1",
            unit=cloudwatch.Unit.COUNT,
        )
        self._alarm(
            "ProcessingFailedRecords",
            cloudwatch.Metric(
                namespace=NAMESPACE,
                metric_name=PROCESSING_FAILED_RECORDS,
                statistic="Sum",
                period=_FIVE_MINUTES,
            ),
            description="Records marked ProcessingFailed: fix the cause, then qldb-archive reprocess-errors.",
            threshold=1,
        )
        self._alarm(
            "DataFreshness",
            firehose_metric("DeliveryToS3.DataFreshness", "Maximum"),
            description=f"The oldest record waiting in Firehose is older than {freshness_seconds} s.",
            threshold=freshness_seconds,
            evaluation_periods=2,
        )
        self._alarm(
            "SourceLag",
            firehose_metric("KinesisMillisBehindLatest", "Maximum"),
            description=f"Firehose reads the journal stream more than {freshness_seconds} s behind.",
            threshold=freshness_seconds * 1000,
            evaluation_periods=2,
        )
        if max_idle_hours:
            self._alarm(
                "NoDeliveries",
                firehose_metric("DeliveryToS3.Records", "Sum", Duration.hours(1)),
                description=f"Nothing delivered to the archive for {max_idle_hours} hours.",
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                evaluation_periods=max_idle_hours,
                missing=cloudwatch.TreatMissingData.BREACHING,
            )
        if parity_enabled:
            self._alarm(
                "ParityDifferences",
                cloudwatch.Metric(
                    namespace=NAMESPACE,
                    metric_name=PARITY_DIFFERENCES,
                    statistic="Maximum",
                    period=Duration.days(1),
                ),
                description="The target database differs from the archive, or parity did not finish.",
                threshold=1,
                missing=cloudwatch.TreatMissingData.BREACHING,
            )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        description: str,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator = _AT_LEAST,
        evaluation_periods: int = 1,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            alarm_description=f"qldb-archive: {description}",
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms[construct_id] = alarm

"""Every resource and property the issue asks for, on the synthesised template (aws_cdk.assertions)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.infra.support import LEGACY_CONTEXT, NO_PARITY_CONTEXT, Synth, require_cdk, synth

require_cdk()

from aws_cdk.assertions import Match, Template  # noqa: E402

from athena.ddl import blocks_columns, revisions_columns  # noqa: E402
from athena.views import QUERY_NAMES, VIEW_NAMES  # noqa: E402
from firehose_transform.schema import COLUMNS, PARTITION_KEYS, glue_types  # noqa: E402
from infra.components.jobs import WORK_EXPIRY_DAYS  # noqa: E402
from infra.metrics import NAMESPACE, PARITY_DIFFERENCES, PROCESSING_FAILED_RECORDS  # noqa: E402


@pytest.fixture(scope="module")
def template(default_synth: Synth) -> Template:
    return Template.from_json(default_synth.template)


@pytest.fixture(scope="module")
def legacy(legacy_synth: Synth) -> Template:
    return Template.from_json(legacy_synth.template)


def _delivery(s: Synth) -> dict[str, Any]:
    return s.one("AWS::KinesisFirehose::DeliveryStream")["ExtendedS3DestinationConfiguration"]  # type: ignore[no-any-return]


# Kinesis -----------------------------------------------------------------------------------


def test_stream_on_demand_with_customer_key(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "StreamEncryption": {
                "EncryptionType": "KMS",
                "KeyId": {"Fn::GetAtt": [Match.string_like_regexp("^JournalKey"), "Arn"]},
            },
            "RetentionPeriodHours": 168,
        },
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_stream_provisioned(legacy: Template) -> None:
    legacy.has_resource_properties(
        "AWS::Kinesis::Stream", {"StreamModeDetails": {"StreamMode": "PROVISIONED"}, "ShardCount": 2}
    )


# Legacy QLDB stream ------------------------------------------------------------------------


def test_qldb_stream_absent_by_default(template: Template) -> None:
    template.resource_count_is("AWS::QLDB::Stream", 0)


def test_qldb_stream_and_role(legacy: Template, legacy_synth: Synth) -> None:
    legacy.has_resource_properties(
        "AWS::QLDB::Stream",
        {
            "LedgerName": "vehicle-registration",
            "InclusiveStartTime": "2020-01-01T00:00:00Z",
            "KinesisConfiguration": {"AggregationEnabled": True, "StreamArn": Match.any_value()},
            "RoleArn": {"Fn::GetAtt": [Match.string_like_regexp("^LegacyQldbStreamRole"), "Arn"]},
        },
    )
    legacy.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [Match.object_like({"Principal": {"Service": "qldb.amazonaws.com"}})]
            }
        },
    )
    (policy,) = [
        p for k, p in legacy_synth.resources("AWS::IAM::Policy").items() if k.startswith("LegacyQldbStream")
    ]
    actions = {a for st in policy["Properties"]["PolicyDocument"]["Statement"] for a in _list(st["Action"])}
    assert actions == {
        "kinesis:PutRecord",
        "kinesis:PutRecords",
        "kinesis:DescribeStream",
        "kinesis:ListShards",
        "kms:GenerateDataKey",
    }


# Firehose ----------------------------------------------------------------------------------


def test_firehose_kinesis_source(default_synth: Synth) -> None:
    props = default_synth.one("AWS::KinesisFirehose::DeliveryStream")
    assert props["DeliveryStreamType"] == "KinesisStreamAsSource"
    assert props["KinesisStreamSourceConfiguration"]["KinesisStreamARN"]["Fn::GetAtt"][1] == "Arn"


def test_firehose_processor_buffer_is_1_mb(default_synth: Synth) -> None:
    (processor,) = _delivery(default_synth)["ProcessingConfiguration"]["Processors"]
    params = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert processor["Type"] == "Lambda"
    # 6 MB response / x5.5 worst-case expansion = 1.14 MB (firehose_transform/handler.py)
    assert params["BufferSizeInMBs"] == "1"
    assert int(params["BufferSizeInMBs"]) * 1024 * 1024 < 6 * 1024 * 1024 / 5.5
    assert params["NumberOfRetries"] == "3"
    assert params["LambdaArn"]["Fn::GetAtt"][0].startswith("TransformFunction")


def test_firehose_parquet_conversion_reads_schema_table(default_synth: Synth) -> None:
    conversion = _delivery(default_synth)["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] is True
    assert conversion["InputFormatConfiguration"] == {
        "Deserializer": {"OpenXJsonSerDe": {"CaseInsensitive": True}}
    }
    assert conversion["OutputFormatConfiguration"] == {
        "Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}
    }
    schema = conversion["SchemaConfiguration"]
    assert (schema["DatabaseName"], schema["TableName"], schema["VersionId"]) == (
        "qldb_archive",
        "archive_rows",
        "LATEST",
    )
    tables = {
        r["Properties"]["TableInput"]["Name"]: r["Properties"]
        for r in default_synth.resources("AWS::Glue::Table").values()
    }
    columns = tables["archive_rows"]["TableInput"]["StorageDescriptor"]["Columns"]
    # every schema column, in order, with its Glue type: Firehose drops fields the table does not name
    assert [(c["Name"], c["Type"]) for c in columns] == list(glue_types().items())
    assert len(columns) == len(COLUMNS)


def test_firehose_dynamic_partitioning_prefixes(default_synth: Synth, legacy_synth: Synth) -> None:
    dest = _delivery(default_synth)
    assert dest["DynamicPartitioningConfiguration"]["Enabled"] is True
    expected = "".join(f"{k.name}=!{{partitionKeyFromLambda:{k.name}}}/" for k in PARTITION_KEYS)
    assert dest["Prefix"] == expected
    assert dest["Prefix"].startswith("p_ledger=!{partitionKeyFromLambda:p_ledger}/p_record_type=")
    assert dest["ErrorOutputPrefix"] == "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
    assert dest["FileExtension"] == ".parquet"
    assert dest["CompressionFormat"] == "UNCOMPRESSED"
    assert 64 <= dest["BufferingHints"]["SizeInMBs"] <= 128
    assert _delivery(legacy_synth)["Prefix"] == "archive/" + expected


def test_firehose_logging_and_encryption(default_synth: Synth) -> None:
    dest = _delivery(default_synth)
    assert dest["CloudWatchLoggingOptions"]["Enabled"] is True
    assert dest["CloudWatchLoggingOptions"]["LogStreamName"] == "DestinationDelivery"
    assert dest["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"]["Fn::GetAtt"][0].startswith(
        "ArchiveKey"
    )


def test_firehose_backup_optional(default_synth: Synth, legacy_synth: Synth) -> None:
    assert _delivery(default_synth)["S3BackupMode"] == "Disabled"
    assert "S3BackupConfiguration" not in _delivery(default_synth)
    dest = _delivery(legacy_synth)
    assert dest["S3BackupMode"] == "Enabled"
    backup = dest["S3BackupConfiguration"]
    assert backup["Prefix"].startswith("archive/source-records/")
    assert backup["CompressionFormat"] == "GZIP"
    assert backup["CloudWatchLoggingOptions"]["LogStreamName"] == "BackupDelivery"


# Lambda ------------------------------------------------------------------------------------


def test_transform_lambda(template: Template, legacy: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "firehose_transform.handler.lambda_handler",
            "Runtime": "python3.11",
            "Architectures": ["x86_64"],
            "Timeout": 300,
            "LoggingConfig": {"LogGroup": Match.any_value()},
        },
    )
    legacy.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "firehose_transform.handler.lambda_handler", "Architectures": ["arm64"]},
    )


# Archive bucket ----------------------------------------------------------------------------


def test_archive_bucket(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": Match.any_value(),
                        },
                    }
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "ObjectLockEnabled": True,
            "ObjectLockConfiguration": {
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 365}},
            },
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Transitions": [
                                    {"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
                                    {"StorageClass": "GLACIER_IR", "TransitionInDays": 180},
                                ]
                            }
                        )
                    ]
                )
            },
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "archive/"}),
        },
    )


def test_every_bucket_is_tls_only(default_synth: Synth) -> None:
    buckets = set(default_synth.resources("AWS::S3::Bucket"))
    tls_only = set()
    for policy in default_synth.resources("AWS::S3::BucketPolicy").values():
        for st in policy["Properties"]["PolicyDocument"]["Statement"]:
            if st["Effect"] == "Deny" and st.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                tls_only.add(policy["Properties"]["Bucket"]["Ref"])
    assert buckets == tls_only


def test_object_lock_retention_is_a_parameter() -> None:
    s = synth({"object_lock_days": 2555})
    (bucket,) = [
        b for b in s.resources("AWS::S3::Bucket").values() if "ObjectLockConfiguration" in b["Properties"]
    ]
    assert bucket["Properties"]["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {
        "Mode": "GOVERNANCE",
        "Days": 2555,
    }


# Glue and Athena ---------------------------------------------------------------------------


def test_glue_tables_with_partition_projection(default_synth: Synth, legacy_synth: Synth) -> None:
    tables = {
        r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
        for r in legacy_synth.resources("AWS::Glue::Table").values()
    }
    assert set(tables) == {"revisions", "blocks", "archive_rows"}
    types = glue_types()
    for name, columns in (("revisions", revisions_columns()), ("blocks", blocks_columns())):
        table = tables[name]
        assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
            (c.name, types[c.name]) for c in columns
        ]
        assert [k["Name"] for k in table["PartitionKeys"]] == [k.name for k in PARTITION_KEYS]
        params = table["Parameters"]
        assert params["projection.enabled"] == "true"
        assert params["projection.p_date.type"] == "date"
        assert params["projection.p_ledger.values"] == "vehicle-registration"
        assert "storage.location.template" in params
        assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert tables["revisions"]["Parameters"]["projection.p_table.values"] == "Person,VehicleRegistration"
    assert tables["blocks"]["Parameters"]["projection.p_table.values"] == "_block"
    # with no ledger known the projection is injected (docs/deploy.md says to set ledgers)
    default = {
        r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
        for r in default_synth.resources("AWS::Glue::Table").values()
    }
    assert default["revisions"]["Parameters"]["projection.p_ledger.type"] == "injected"


def test_athena_workgroup(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "Name": "qldb-archive",
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": True,
                "PublishCloudWatchMetricsEnabled": True,
                "BytesScannedCutoffPerQuery": 10 * 1024**3,
                "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
                "ResultConfiguration": {
                    "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": Match.any_value()},
                    "OutputLocation": Match.any_value(),
                },
            },
        },
    )


def test_named_queries(default_synth: Synth) -> None:
    queries = {
        q["Properties"]["Name"]: q["Properties"]
        for q in default_synth.resources("AWS::Athena::NamedQuery").values()
    }
    assert set(queries) == {f"qldb_archive.{q}" for q in QUERY_NAMES}
    for props in queries.values():
        assert props["Database"] == "qldb_archive"
        assert "?" in props["QueryString"]


def test_views_custom_resource(default_synth: Synth) -> None:
    (views,) = default_synth.resources("Custom::AthenaViews").values()
    props = views["Properties"]
    assert [v["Name"] for v in props["Views"]] == list(VIEW_NAMES)
    assert all(v["Sql"].startswith("CREATE OR REPLACE VIEW qldb_archive.") for v in props["Views"])
    assert (props["Database"], props["WorkGroup"]) == ("qldb_archive", "qldb-archive")
    assert any(d.startswith("CatalogWorkGroup") for d in views["DependsOn"])
    assert any(d.startswith("CatalogTableRevisions") for d in views["DependsOn"])


# Jobs --------------------------------------------------------------------------------------


def _containers(s: Synth) -> dict[str, dict[str, Any]]:
    out = {}
    for lid, task in s.resources("AWS::ECS::TaskDefinition").items():
        (container,) = task["Properties"]["ContainerDefinitions"]
        out[lid] = container
    return out


def test_restore_and_parity_tasks(default_synth: Synth, template: Template) -> None:
    template.has_resource_properties(
        "AWS::ECS::TaskDefinition", {"RequiresCompatibilities": ["FARGATE"], "NetworkMode": "awsvpc"}
    )
    containers = _containers(default_synth)
    assert len(containers) == 3
    commands = {lid: " ".join(c["Command"]) for lid, c in containers.items()}
    restore = next(lid for lid in commands if lid.startswith("JobsRestoreTask"))
    parity = next(lid for lid in commands if lid.startswith("JobsParityTask"))
    assert "qldb-archive restore" in commands[restore]
    assert "parity_job.py" in commands[parity]
    for lid, container in containers.items():
        if lid.startswith("JobsSplitTask"):
            continue  # no database: test_the_split_task_plans_on_athena_and_writes_only_the_work_bucket
        (secret,) = container["Secrets"]
        assert secret["Name"] == "QLDB_ARCHIVE_TARGET_URL"
        assert ":url::" in json.dumps(secret["ValueFrom"])
        env = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert env["QLDB_ARCHIVE_METRIC_NAMESPACE"] == NAMESPACE
        assert env["QLDB_ARCHIVE_PARITY_METRIC"] == PARITY_DIFFERENCES
        assert "QLDB_ARCHIVE_TARGET_URL" not in env
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"


def _task_policy(s: Synth, name: str) -> dict[str, dict[str, Any]]:
    (policy,) = [
        p for lid, p in s.resources("AWS::IAM::Policy").items() if lid.startswith(f"Jobs{name}TaskPolicy")
    ]
    return {st["Sid"]: st for st in policy["Properties"]["PolicyDocument"]["Statement"]}


def test_only_the_parity_task_writes_and_only_its_cache_prefix(default_synth: Synth) -> None:
    # GIVEN the parity task's container
    (parity,) = [c for lid, c in _containers(default_synth).items() if lid.startswith("JobsParityTask")]
    env = {e["Name"]: e["Value"] for e in parity["Environment"]}
    # THEN its cache is a prefix of the archive bucket, read in full again weekly
    cache_url = json.dumps(env["QLDB_ARCHIVE_PARITY_CACHE"])
    assert "s3://" in cache_url
    assert "parity-cache/" in cache_url
    assert json.dumps(env["QLDB_ARCHIVE_URL"]).split("/")[0] == cache_url.split("/")[0]  # same bucket
    assert env["QLDB_ARCHIVE_PARITY_REBUILD_DAYS"] == "7"
    # AND it may write and delete objects under that prefix only, encrypted with the archive's key
    statements = _task_policy(default_synth, "Parity")
    write = statements["WriteParityCache"]
    assert sorted(_list(write["Action"])) == ["s3:DeleteObject", "s3:PutObject"]
    assert json.dumps(write["Resource"]).endswith('/parity-cache/*"]]}')
    assert statements["EncryptParityCache"]["Action"] == "kms:GenerateDataKey"
    assert statements["EncryptParityCache"]["Resource"] == statements["DecryptArchive"]["Resource"]
    writes = {"s3:PutObject", "s3:DeleteObject", "s3:*"}
    others = [st for sid, st in statements.items() if sid != "WriteParityCache"]
    assert not any(writes & set(_list(st["Action"])) for st in others)
    # AND the restore task writes nothing to the bucket and has no cache
    restore = _task_policy(default_synth, "Restore")
    assert not any(writes & set(_list(st["Action"])) for st in restore.values())
    (restore_container,) = [
        c for lid, c in _containers(default_synth).items() if lid.startswith("JobsRestore")
    ]
    assert "QLDB_ARCHIVE_PARITY_CACHE" not in {e["Name"] for e in restore_container["Environment"]}


def test_image_from_asset_or_ecr(default_synth: Synth, legacy_synth: Synth) -> None:
    (restore,) = [c for lid, c in _containers(default_synth).items() if lid.startswith("JobsRestore")]
    assert "cdk-hnb659fds-container-assets" in json.dumps(restore["Image"])
    staged = [p for p in default_synth.outdir.glob("asset.*") if (p / "infra" / "Dockerfile").is_file()]
    assert len(staged) == 1, f"the Docker context is staged (synth needs no Docker): {staged}"
    names = {p.name for p in staged[0].iterdir()}
    expected = {
        "pyproject.toml",
        "README.md",
        "journal",
        "firehose_transform",
        "athena",
        "restore",
        "qldb_archive",
    }
    assert names == expected | {"infra"}, f"staged: {sorted(names)}"
    (legacy_restore,) = [c for lid, c in _containers(legacy_synth).items() if lid.startswith("JobsRestore")]
    assert json.dumps(legacy_restore["Image"]).endswith('/qldb-archive:1.2.3"]]}')


def test_secret_created_or_imported(default_synth: Synth, legacy_synth: Synth) -> None:
    assert len(default_synth.resources("AWS::SecretsManager::Secret")) == 1
    assert len(legacy_synth.resources("AWS::SecretsManager::Secret")) == 0
    (restore,) = [c for lid, c in _containers(legacy_synth).items() if lid.startswith("JobsRestore")]
    assert str(LEGACY_CONTEXT["target_secret_arn"]) in json.dumps(restore["Secrets"])


def test_parity_schedule(default_synth: Synth, template: Template) -> None:
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "rate(1 day)",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": {"Fn::GetAtt": [Match.string_like_regexp("^JobsCluster"), "Arn"]},
                "EcsParameters": Match.object_like(
                    {
                        "LaunchType": "FARGATE",
                        "TaskDefinitionArn": {"Ref": Match.string_like_regexp("^JobsParityTask")},
                        "NetworkConfiguration": {
                            "AwsvpcConfiguration": Match.object_like({"AssignPublicIp": "DISABLED"})
                        },
                    }
                ),
                "RoleArn": Match.any_value(),
                "RetryPolicy": Match.any_value(),
            },
        },
    )


def test_parity_disabled() -> None:
    s = synth(NO_PARITY_CONTEXT)
    assert not s.resources("AWS::Scheduler::Schedule")
    names = {a["Properties"].get("MetricName") for a in s.resources("AWS::CloudWatch::Alarm").values()}
    assert PARITY_DIFFERENCES not in names


def test_cluster_and_network(template: Template, legacy: Template) -> None:
    template.has_resource_properties(
        "AWS::ECS::Cluster", {"ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]}
    )
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.has_resource_properties("AWS::EC2::FlowLog", {"LogDestinationType": "s3", "TrafficType": "ALL"})
    legacy.resource_count_is("AWS::EC2::VPC", 0)


# Alarms ------------------------------------------------------------------------------------


def _alarms(s: Synth) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["MetricName"]: a["Properties"] for a in s.resources("AWS::CloudWatch::Alarm").values()
    }


def test_alarms(default_synth: Synth, template: Template) -> None:
    alarms = _alarms(default_synth)
    assert set(alarms) == {
        "DeliveryToS3.Success",
        "ExecuteProcessing.Success",
        "PartitionCountExceeded",
        "Errors",
        "Throttles",
        PROCESSING_FAILED_RECORDS,
        "DeliveryToS3.DataFreshness",
        "KinesisMillisBehindLatest",
        PARITY_DIFFERENCES,
    }
    assert alarms["DeliveryToS3.Success"]["ComparisonOperator"] == "LessThanThreshold"
    assert alarms["DeliveryToS3.DataFreshness"]["Threshold"] == 3600
    assert alarms[PARITY_DIFFERENCES]["Namespace"] == NAMESPACE
    assert alarms[PARITY_DIFFERENCES]["TreatMissingData"] == "breaching"
    assert alarms["Errors"]["Namespace"] == "AWS/Lambda"
    for props in alarms.values():
        assert props["AlarmActions"] == [{"Ref": Match.string_like_regexp("^AlarmsTopic")}] or props[
            "AlarmActions"
        ][0]["Ref"].startswith("AlarmsTopic")
    template.has_resource_properties(
        "AWS::Logs::MetricFilter",
        {
            "FilterPattern": '{ $.message = "record failed" }',
            "MetricTransformations": [
                Match.object_like({"MetricName": PROCESSING_FAILED_RECORDS, "MetricNamespace": NAMESPACE})
            ],
        },
    )
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


def test_optional_alarms(legacy_synth: Synth, legacy: Template) -> None:
    alarms = _alarms(legacy_synth)
    assert alarms["DeliveryToS3.Records"]["EvaluationPeriods"] == 24
    assert alarms["DeliveryToS3.Records"]["TreatMissingData"] == "breaching"
    legacy.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )


def test_views_sql_is_rendered_not_retyped(default_synth: Synth) -> None:
    from athena.deploy import DeployPlan, render_views

    (views,) = default_synth.resources("Custom::AthenaViews").values()
    plan = DeployPlan(database="qldb_archive", location="s3://x/", workgroup="w", results_location="s3://r/")
    assert [v["Sql"] for v in views["Properties"]["Views"]] == list(render_views(plan).values())


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# Live replication ------------------------------------------------------------------------------


def test_live_replication_is_off_by_default(default_synth: Synth) -> None:
    assert not default_synth.resources("AWS::Lambda::EventSourceMapping")
    assert not default_synth.resources("AWS::SQS::Queue")
    handlers = {f["Properties"]["Handler"] for f in default_synth.resources("AWS::Lambda::Function").values()}
    assert "restore.live.lambda_handler" not in handlers


def test_live_replication_mapping_queue_and_function(legacy_synth: Synth, legacy: Template) -> None:
    # the event source mapping on the journal stream, partial batch responses, bounded retries
    legacy.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("^JournalStream"), "Arn"]},
            "FunctionName": {"Ref": Match.string_like_regexp("^LiveFunction")},
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 1000,
            "ParallelizationFactor": 4,
            "BisectBatchOnFunctionError": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumRetryAttempts": 10000,
            "MaximumRecordAgeInSeconds": 3600,
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {"Fn::GetAtt": [Match.string_like_regexp("^LiveFailureQueue"), "Arn"]}
                }
            },
        },
    )
    # the on-failure queue: encrypted, TLS only
    queue = legacy_synth.one("AWS::SQS::Queue")
    assert queue["SqsManagedSseEnabled"] is True
    (queue_policy,) = legacy_synth.resources("AWS::SQS::QueuePolicy").values()
    (deny,) = queue_policy["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})
    # the function: bundled with the restore's targets, in the jobs' VPC, configured from the settings
    (live,) = [
        f["Properties"]
        for f in legacy_synth.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "restore.live.lambda_handler"
    ]
    assert (live["Runtime"], live["Architectures"]) == ("python3.11", ["arm64"])
    assert live["VpcConfig"]["SubnetIds"] == LEGACY_CONTEXT["subnet_ids"]
    (group_id,) = live["VpcConfig"]["SecurityGroupIds"]
    assert group_id["Fn::GetAtt"][0].startswith("LiveSecurityGroup")
    env = live["Environment"]["Variables"]
    assert (
        env["QLDB_ARCHIVE_TARGET_SECRET_ARN"] == LEGACY_CONTEXT["target_secret_arn"]
    )  # the ARN, not the URL
    assert (env["QLDB_ARCHIVE_LIVE_ORDER"], env["QLDB_ARCHIVE_LIVE_HISTORY"]) == ("strict", "true")
    assert env["QLDB_ARCHIVE_LIVE_STRICT_MAX_WAIT_SECONDS"] == "600"
    assert env["QLDB_ARCHIVE_POISON_QUEUE_URL"]["Ref"].startswith("LiveFailureQueue")
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE
    # no inbound rule on its security group; outputs say what to allow into the database
    (group,) = [
        g
        for k, g in legacy_synth.resources("AWS::EC2::SecurityGroup").items()
        if k.startswith("LiveSecurity")
    ]
    assert "SecurityGroupIngress" not in group["Properties"]
    assert {"LiveSecurityGroup", "LiveFailureQueueUrl"} <= set(legacy_synth.template["Outputs"])


def test_live_replication_role_reads_only_what_it_needs(legacy_synth: Synth) -> None:
    (policy,) = [
        p for k, p in legacy_synth.resources("AWS::IAM::Policy").items() if k.startswith("LivePolicy")
    ]
    by_sid = {st["Sid"]: st for st in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(by_sid) == {
        "WriteOwnLogs",
        "ReadJournalStream",
        "DecryptJournalStream",
        "ReadTargetSecret",
        "SendFailures",
        "ManageOwnNetworkInterfaces",
        "DescribeNetwork",
    }
    assert by_sid["ReadJournalStream"]["Resource"]["Fn::GetAtt"][0].startswith("JournalStream")
    assert by_sid["DecryptJournalStream"]["Resource"]["Fn::GetAtt"][0].startswith("JournalKey")
    assert by_sid["ReadTargetSecret"] == {
        "Action": "secretsmanager:GetSecretValue",
        "Effect": "Allow",
        "Resource": LEGACY_CONTEXT["target_secret_arn"],
        "Sid": "ReadTargetSecret",
    }
    assert by_sid["SendFailures"]["Resource"]["Fn::GetAtt"][0].startswith("LiveFailureQueue")


def test_live_replication_alarms(legacy_synth: Synth) -> None:
    live = {
        k: a["Properties"]
        for k, a in legacy_synth.resources("AWS::CloudWatch::Alarm").items()
        if k.startswith("Live")
    }
    by_metric = {a["MetricName"]: a for a in live.values()}
    assert set(by_metric) == {"Errors", "IteratorAge", "ApproximateNumberOfMessagesVisible"}
    assert by_metric["IteratorAge"]["Threshold"] == 3_600_000  # freshness_seconds, in milliseconds
    for alarm in live.values():
        assert alarm["AlarmActions"][0]["Ref"].startswith("AlarmsTopic")


def test_the_split_task_plans_on_athena_and_writes_only_the_work_bucket(default_synth: Synth) -> None:
    # GIVEN the split task
    (split,) = [c for lid, c in _containers(default_synth).items() if lid.startswith("JobsSplitTask")]
    env = {e["Name"]: e["Value"] for e in split["Environment"]}
    # THEN it plans on Athena in the stack's workgroup and database, and gets no database secret
    assert (env["QLDB_ARCHIVE_ATHENA_DATABASE"], env["QLDB_ARCHIVE_ATHENA_WORKGROUP"]) == (
        "qldb_archive",
        "qldb-archive",
    )
    assert "QLDB_ARCHIVE_URL" not in env  # else restore-split would be given --archive too
    assert "Secrets" not in split
    assert "restore-split" in " ".join(split["Command"])
    statements = _task_policy(default_synth, "Split")
    athena = statements["RunAthenaQueries"]
    assert sorted(_list(athena["Action"])) == [
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:StartQueryExecution",
    ]
    assert json.dumps(athena["Resource"]).endswith(':workgroup/qldb-archive"]]}')
    assert sorted(_list(statements["ReadCatalog"]["Action"])) == ["glue:GetDatabase", "glue:GetTable"]
    # AND it writes (never deletes) only the Athena results and the work bucket, with the archive's key
    writes = {"s3:PutObject", "s3:DeleteObject", "s3:*", "s3:AbortMultipartUpload"}
    writing = {sid for sid, st in statements.items() if writes & set(_list(st["Action"]))}
    assert writing == {"WriteResultsAndWork"}
    assert "s3:DeleteObject" not in _list(statements["WriteResultsAndWork"]["Action"])
    targets = json.dumps(statements["WriteResultsAndWork"]["Resource"])
    assert "JobsWork" in targets
    assert "CatalogResults" in targets
    assert "Archive" not in targets
    assert statements["EncryptResultsAndWork"]["Resource"] == statements["DecryptArchive"]["Resource"]
    # AND a restore worker may read the work bucket, not write it
    restore = _task_policy(default_synth, "Restore")
    assert "JobsWork" in json.dumps(restore["ReadWork"]["Resource"])
    assert not any(writes & set(_list(st["Action"])) for st in restore.values())


def test_the_work_bucket_expires_splits_and_is_encrypted(default_synth: Synth) -> None:
    (work,) = [
        b for lid, b in default_synth.resources("AWS::S3::Bucket").items() if lid.startswith("JobsWork")
    ]
    props = work["Properties"]
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == WORK_EXPIRY_DAYS
    encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert props["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert "LoggingConfiguration" in props

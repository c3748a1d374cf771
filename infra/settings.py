"""The deployment parameters of the stack: CDK context values, read once, checked, and frozen.

Every choice that changes what the stack contains (on-demand or provisioned stream, the legacy
QLDB stream, S3 backup, a new or an existing VPC, the container image) is CDK context rather
than a CloudFormation parameter: context is resolved at synth time, so the template holds no
conditions, cdk-nag and cfn-lint see exactly what deploys, and the tests synthesise each
variant. Defaults live in ``infra/cdk.json``; override with ``cdk deploy -c key=value``.
docs/deploy.md describes each key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Final, Literal, cast

from athena.deploy import MIN_BYTES_SCANNED_CUTOFF
from athena.views import check_database_name

__all__ = ["CONTEXT_KEYS", "LiveOrder", "Settings", "SettingsError", "StreamMode", "settings_from_context"]

StreamMode = Literal["ON_DEMAND", "PROVISIONED"]
Architecture = Literal["x86_64", "arm64"]
LiveOrder = Literal["converge", "strict"]


class SettingsError(ValueError):
    """A context value is missing its required companion or out of range; names the key."""

    def __init__(self, key: str, reason: str) -> None:
        self.key, self.reason = key, reason
        super().__init__(f"context {key!r}: {reason} (set it with cdk -c {key}=... or in infra/cdk.json)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What to deploy (docs/deploy.md, "Parameters", explains each).

    Attributes:
        stream_mode: Kinesis capacity mode.
        shard_count: shards when `stream_mode` is PROVISIONED.
        stream_retention_hours: Kinesis retention (24-8760 h): how long a stalled delivery can wait.
        qldb_ledger_name: the source ledger of the legacy QLDB stream; empty: no QLDB stream.
        qldb_start_time: the QLDB stream's InclusiveStartTime (ISO 8601, UTC).
        lambda_architecture: the transformation Lambda's architecture (picks the wheels).
        archive_prefix: key prefix of the archive in the bucket ("" or ending with "/").
        buffer_mb: Firehose S3 buffer size (64-128 MiB with format conversion).
        buffer_seconds: Firehose S3 buffer interval (0-900 s).
        source_backup: keep the source records (raw, GZIP) under ``source-records/`` as well.
        object_lock_days: default Object Lock retention (governance mode) of every archive object.
        infrequent_access_days: move objects to S3 Standard-IA after this many days.
        glacier_ir_days: move objects to Glacier Instant Retrieval (still queryable) after this many.
        database: the Glue database.
        workgroup: the Athena workgroup.
        bytes_scanned_cutoff: the per-query scan limit, bytes.
        ledgers: ledger names for the partition projection enum; empty: injected projection.
        tables: QLDB table names for the projection enum; empty: injected projection.
        parity_schedule: EventBridge Scheduler expression of the parity job; "" disables it.
        target_secret_arn: an existing Secrets Manager secret with the target URL; "" creates one.
        vpc_id: an existing VPC for the jobs; "" creates one.
        subnet_ids: private subnets of `vpc_id` (with a route to AWS APIs).
        availability_zones: the AZs of `subnet_ids`, same order.
        container_image: ``<ecr-repository>:<tag>`` in this account; "" builds infra/Dockerfile.
        alarm_email: subscribed to the alarm topic when set.
        freshness_seconds: alarm when the oldest record waiting in Firehose is older than this.
        max_idle_hours: alarm when nothing was delivered for this long; 0 disables (idle ledgers).
        live_replication: deploy the live replication Lambda (Kinesis -> the target database).
        live_history: it also writes history tables.
        live_order: ``converge`` or ``strict`` (see restore/live_plan.py).
        live_batch_size: the event source mapping's BatchSize (Kinesis records per invocation).
        live_parallelization_factor: concurrent batches per shard (1-10).
        live_max_retry_attempts: retries of a failed batch (-1: until the record age limit).
        live_max_record_age_seconds: records older than this go to the on-failure queue unapplied.
        live_strict_max_wait_seconds: strict order stops waiting for a missing version after this.
    """

    stream_mode: StreamMode = "ON_DEMAND"
    shard_count: int = 1
    stream_retention_hours: int = 168
    qldb_ledger_name: str = ""
    qldb_start_time: str = "2019-01-01T00:00:00Z"
    lambda_architecture: Architecture = "x86_64"
    archive_prefix: str = ""
    buffer_mb: int = 128
    buffer_seconds: int = 300
    source_backup: bool = False
    object_lock_days: int = 365
    infrequent_access_days: int = 30
    glacier_ir_days: int = 180
    database: str = "qldb_archive"
    workgroup: str = "qldb-archive"
    bytes_scanned_cutoff: int = 10 * 1024**3
    ledgers: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    parity_schedule: str = "rate(1 day)"
    target_secret_arn: str = ""
    vpc_id: str = ""
    subnet_ids: tuple[str, ...] = ()
    availability_zones: tuple[str, ...] = ()
    container_image: str = ""
    alarm_email: str = ""
    freshness_seconds: int = 3600
    max_idle_hours: int = 0
    live_replication: bool = False
    live_history: bool = False
    live_order: LiveOrder = "converge"
    live_batch_size: int = 100
    live_parallelization_factor: int = 1
    live_max_retry_attempts: int = -1
    live_max_record_age_seconds: int = 86_400
    live_strict_max_wait_seconds: int = 300

    @property
    def projection_ledgers(self) -> tuple[str, ...] | None:
        """Ledgers for the projection enum: the given ones, else the QLDB stream's, else None."""
        if self.ledgers:
            return self.ledgers
        return (self.qldb_ledger_name,) if self.qldb_ledger_name else None

    @property
    def projection_tables(self) -> tuple[str, ...] | None:
        """QLDB tables for the projection enum, or None (injected)."""
        return self.tables or None


CONTEXT_KEYS: Final = tuple(f.name for f in fields(Settings))


def _names(value: object) -> tuple[str, ...]:
    if isinstance(value, str):  # -c ledgers=a,b arrives as a string; cdk.json gives a list
        text = value.strip()
        if text.startswith("["):
            return tuple(str(v) for v in json.loads(text))
        return tuple(v.strip() for v in text.split(",") if v.strip())
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise TypeError(f"expected a list or comma-separated names, got {value!r}")


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


_PARSERS: Final[dict[type | str, Callable[[object], Any]]] = {
    "int": lambda v: int(cast("Any", v)),
    "bool": _bool,
    "str": str,
    "tuple[str, ...]": _names,
    "StreamMode": lambda v: str(v).upper(),
    "Architecture": str,
    "LiveOrder": lambda v: str(v).lower(),
}


def _check(s: Settings) -> None:
    if s.stream_mode not in ("ON_DEMAND", "PROVISIONED"):
        raise SettingsError("stream_mode", f"{s.stream_mode!r}: use ON_DEMAND or PROVISIONED")
    if s.stream_mode == "PROVISIONED" and s.shard_count < 1:
        raise SettingsError("shard_count", "a provisioned stream needs at least one shard")
    if not 24 <= s.stream_retention_hours <= 8760:
        raise SettingsError("stream_retention_hours", "Kinesis keeps records 24-8760 hours")
    if s.lambda_architecture not in ("x86_64", "arm64"):
        raise SettingsError("lambda_architecture", f"{s.lambda_architecture!r}: use x86_64 or arm64")
    if s.archive_prefix and not s.archive_prefix.endswith("/"):
        raise SettingsError("archive_prefix", "end it with '/' (or leave it empty for the bucket root)")
    if not 64 <= s.buffer_mb <= 128:
        raise SettingsError("buffer_mb", "record format conversion needs 64-128 MiB")
    if not 0 <= s.buffer_seconds <= 900:
        raise SettingsError("buffer_seconds", "Firehose buffers 0-900 seconds")
    if s.object_lock_days < 1:
        raise SettingsError("object_lock_days", "Object Lock retention is at least one day")
    if not 30 <= s.infrequent_access_days < s.glacier_ir_days:
        raise SettingsError("infrequent_access_days", "S3 needs >= 30 days, and fewer than glacier_ir_days")
    check_database_name(s.database)
    if s.bytes_scanned_cutoff < MIN_BYTES_SCANNED_CUTOFF:
        raise SettingsError("bytes_scanned_cutoff", f"Athena's minimum is {MIN_BYTES_SCANNED_CUTOFF} bytes")
    if s.vpc_id and (not s.subnet_ids or len(s.subnet_ids) != len(s.availability_zones)):
        raise SettingsError("subnet_ids", "an existing VPC needs its subnet_ids and their availability_zones")
    if not 0 <= s.max_idle_hours <= 168:
        raise SettingsError("max_idle_hours", "an alarm evaluates at most 7 days of hourly periods")
    if s.container_image and ":" not in s.container_image:
        raise SettingsError("container_image", "give <ecr-repository>:<tag>")
    _check_live(s)


def _check_live(s: Settings) -> None:
    """The event source mapping's limits (Lambda's CreateEventSourceMapping) and strict order's wait."""
    if s.live_order not in ("converge", "strict"):
        raise SettingsError("live_order", f"{s.live_order!r}: use converge or strict")
    if not 1 <= s.live_batch_size <= 10_000:
        raise SettingsError("live_batch_size", "a Kinesis event source mapping takes 1-10,000 records")
    if not 1 <= s.live_parallelization_factor <= 10:
        raise SettingsError("live_parallelization_factor", "Lambda allows 1-10 batches per shard")
    if not -1 <= s.live_max_retry_attempts <= 10_000:
        raise SettingsError("live_max_retry_attempts", "Lambda allows -1 (unlimited) to 10,000")
    age, retention = s.live_max_record_age_seconds, s.stream_retention_hours * 3600
    if not (age == -1 or 60 <= age <= 604_800) or age > retention:
        raise SettingsError(
            "live_max_record_age_seconds",
            "Lambda allows -1 or 60-604,800 s, and at most the stream's retention",
        )
    if s.live_order == "strict" and age != -1 and s.live_strict_max_wait_seconds >= age:
        raise SettingsError(
            "live_strict_max_wait_seconds",
            "must be shorter than live_max_record_age_seconds, or Lambda discards a waiting record first",
        )
    if s.live_strict_max_wait_seconds < 0:
        raise SettingsError("live_strict_max_wait_seconds", "give seconds >= 0")


def settings_from_context(get: Callable[[str], object] | Mapping[str, object]) -> Settings:
    """Read `Settings` from CDK context (``node.try_get_context``) or a mapping; absent keys default.

    Raises:
        SettingsError: a value out of range or missing its companion.
        InvalidNameError: a database name Glue cannot take.

    >>> settings_from_context({"stream_mode": "provisioned", "shard_count": "2"}).stream_mode
    'PROVISIONED'
    """
    lookup: Callable[[str], object] = get.get if isinstance(get, Mapping) else get
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = lookup(f.name)
        if raw is None:
            continue
        values[f.name] = _PARSERS[str(f.type)](raw)
    settings = Settings(**values)
    _check(settings)
    return settings

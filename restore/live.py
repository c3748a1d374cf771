"""The live replication Lambda: a Kinesis event source mapping keeps a MySQL or PostgreSQL database in step.

Only adapts: Powertools' Kinesis event class and Logger/Metrics around `restore.live_plan` (the
decisions, pure) and the restore's targets (`restore.targets`: the version guard, tombstones,
history and a checkpoint row, in one transaction per batch). So a live-replicated database
holds exactly what ``qldb-archive restore`` writes from the archive, and ``qldb-archive parity``
checks it unchanged.

Per invocation (one shard's batch, in shard order): decode every record (KPL de-aggregation,
stream records; CONTROL and BLOCK_SUMMARY records are counted, not applied), look up the
documents strict order needs, plan, apply the batch in one transaction, send poison records to
the poison queue, and answer with a partial batch response
(https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html):
``batchItemFailures`` names the first record that failed, Lambda retries from it, and the
records before it are done. A record fails when strict order holds one of its revisions back,
or when it is poison and no poison queue took it. A database error fails the whole invocation
(`LiveApplyError`): Lambda retries, bisecting the batch (``BisectBatchOnFunctionError``).

Poison records (unreadable: not base64, a corrupt KPL aggregate, not Ion, not a QLDB stream
record) are never dropped silently: with ``QLDB_ARCHIVE_POISON_QUEUE_URL`` each goes to that
SQS queue (`restore.live_plan.PoisonMessage`: the data, where it was, why) and is counted, and
its batch-mates are applied; without one it fails the batch at its position, and after the
event source mapping's retries its position reaches the mapping's on-failure destination.

Environment (only this module reads it; argument > ``QLDB_ARCHIVE_*`` > default):

- ``QLDB_ARCHIVE_TARGET_URL``: ``mysql://...`` or ``postgresql://...``; or else
  ``QLDB_ARCHIVE_TARGET_SECRET_ARN``: a Secrets Manager secret holding a URL, ``{"url": ...}``
  (the stack's target secret) or an RDS/Aurora JSON secret (`restore.live_plan.secret_to_url`).
- ``QLDB_ARCHIVE_LIVE_HISTORY``: ``true`` also writes the history tables (default ``false``).
- ``QLDB_ARCHIVE_LIVE_ORDER``: ``converge`` (default) or ``strict``;
  ``QLDB_ARCHIVE_LIVE_STRICT_MAX_WAIT_SECONDS``: how long strict order waits (default 300).
- ``QLDB_ARCHIVE_POISON_QUEUE_URL``: the poison queue (optional).
- ``QLDB_ARCHIVE_TABLE_MAP``: ``QLDB_NAME=target_name,...`` as ``restore --table-map``.
- botocore's ``AWS_ENDPOINT_URL_SQS`` / ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` point the clients
  elsewhere (tests: a moto server).

The connection is opened once per container and kept; a lost connection is reconnected and the
transaction retried. boto3 (in the Lambda runtime) is imported only when a secret or a queue is
configured; the bundle has no DuckDB or pyarrow. Logs carry counts, positions, document ids and
reasons, never document data or secrets.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import KinesisStreamEvent

from journal.errors import QldbArchiveError
from journal.urls import redact_url
from restore.batch import RevisionBatch
from restore.checkpoint import Checkpoint, RunIdentity
from restore.errors import TargetError, TransientTargetError
from restore.identifiers import TOMBSTONE_TABLE, TableNames, parse_table_map
from restore.live_plan import (
    DEFAULT_STRICT_MAX_WAIT_SECONDS,
    LIVE_ORDERS,
    DecodedRecord,
    DocKey,
    KinesisSource,
    LiveApplyError,
    LiveConfigError,
    LiveOrder,
    LivePlan,
    PartialBatchResponse,
    PoisonMessage,
    decode_record,
    first_failures,
    plan_batch,
    poison_message,
    poison_to_send,
    resolve_tables,
    secret_to_url,
    strict_lookups,
)
from restore.targets import Target, open_target

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = [
    "APPLY_ERRORS_METRIC",
    "METRICS",
    "LiveConfig",
    "LiveReplicator",
    "LiveResult",
    "PoisonSender",
    "SqsPoisonSender",
    "config_from_env",
    "lambda_handler",
    "read_secret",
    "sources_of",
    "target_url_from_env",
]

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "qldb-archive-live"))
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "QldbArchive"),
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "qldb-archive-live"),
)

METRICS: Final = {
    "records": "LiveRecords",
    "revisions_applied": "LiveRevisionsApplied",
    "poison": "LivePoisonRecords",
    "poison_sent": "LivePoisonRecordsQueued",
    "blocked": "LiveStrictBlockedRecords",
    "released": "LiveStrictReleasedRevisions",
    "failed": "LiveFailedRecords",
}
"""Counts -> CloudWatch metric names (EMF, namespace ``POWERTOOLS_METRICS_NAMESPACE``)."""
APPLY_ERRORS_METRIC: Final = "LiveApplyErrors"
"""Invocations the database failed (`LiveApplyError`)."""
MAX_LOGGED: Final = 10
"""Blocked documents and poison reasons logged per invocation (then "... and N more")."""
MAX_REASON: Final = 300
LOOKUP_CHUNK: Final = 500
"""Document ids per strict-order lookup statement."""

_T = TypeVar("_T")


class PoisonSender(Protocol):
    """Sends one poison message; raises when it could not (the record then fails and is retried)."""

    def __call__(self, message: PoisonMessage) -> None:
        """Send `message`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveConfig:
    """How to replicate (the environment, parsed by `config_from_env`).

    Attributes:
        history: also write history tables.
        order: ``converge`` or ``strict``.
        strict_max_wait_seconds: strict order releases a revision after this long in the stream.
        table_map: QLDB table name -> target table name.
        poison_queue_url: the SQS queue poison records go to; None: they fail their batch.
        max_attempts: tries of one transaction on transient errors (lost connection, deadlock).
    """

    history: bool = False
    order: LiveOrder = "converge"
    strict_max_wait_seconds: float = DEFAULT_STRICT_MAX_WAIT_SECONDS
    table_map: Mapping[str, str] = field(default_factory=dict)
    poison_queue_url: str | None = None
    max_attempts: int = 3


def _bool(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"", "0", "false", "no", "off"}:
        return False
    raise LiveConfigError(f"{name}={text!r}: use true or false")


def config_from_env(env: Mapping[str, str]) -> LiveConfig:
    """Read `LiveConfig` from ``QLDB_ARCHIVE_*`` variables (module docstring); absent ones default.

    Raises:
        LiveConfigError: a value out of range, naming the variable.

    >>> config_from_env({"QLDB_ARCHIVE_LIVE_ORDER": "strict", "QLDB_ARCHIVE_TABLE_MAP": "A=a,B=b"}).table_map
    {'A': 'a', 'B': 'b'}
    """
    order = env.get("QLDB_ARCHIVE_LIVE_ORDER", "converge").strip().lower() or "converge"
    if order not in LIVE_ORDERS:
        raise LiveConfigError(f"QLDB_ARCHIVE_LIVE_ORDER={order!r}: use {' or '.join(LIVE_ORDERS)}")
    wait_text = env.get("QLDB_ARCHIVE_LIVE_STRICT_MAX_WAIT_SECONDS", "") or str(
        DEFAULT_STRICT_MAX_WAIT_SECONDS
    )
    try:
        wait = float(wait_text)
    except ValueError:
        wait = -1.0
    if not wait >= 0:
        raise LiveConfigError(f"QLDB_ARCHIVE_LIVE_STRICT_MAX_WAIT_SECONDS={wait_text!r}: give seconds >= 0")
    pairs = [p.strip() for p in env.get("QLDB_ARCHIVE_TABLE_MAP", "").split(",") if p.strip()]
    try:
        table_map = parse_table_map(pairs)
    except QldbArchiveError as exc:
        raise LiveConfigError(f"QLDB_ARCHIVE_TABLE_MAP: {exc}") from None
    return LiveConfig(
        history=_bool("QLDB_ARCHIVE_LIVE_HISTORY", env.get("QLDB_ARCHIVE_LIVE_HISTORY", "")),
        order="strict" if order == "strict" else "converge",
        strict_max_wait_seconds=wait,
        table_map=table_map,
        poison_queue_url=env.get("QLDB_ARCHIVE_POISON_QUEUE_URL") or None,
    )


def read_secret(secret_arn: str) -> str:
    """The secret string of a Secrets Manager secret (boto3, imported here only)."""
    import boto3

    client: Any = boto3.client("secretsmanager")
    value = client.get_secret_value(SecretId=secret_arn).get("SecretString")
    if not isinstance(value, str):
        raise LiveConfigError(f"the secret {secret_arn} has no SecretString (binary secrets are not read)")
    return value


def target_url_from_env(env: Mapping[str, str], *, get_secret: Callable[[str], str] = read_secret) -> str:
    """The target URL: ``QLDB_ARCHIVE_TARGET_URL``, else read from ``QLDB_ARCHIVE_TARGET_SECRET_ARN``.

    Raises:
        LiveConfigError: neither is set, or the secret holds no usable URL.
    """
    url = env.get("QLDB_ARCHIVE_TARGET_URL", "").strip()
    if url:
        return url
    arn = env.get("QLDB_ARCHIVE_TARGET_SECRET_ARN", "").strip()
    if not arn:
        raise LiveConfigError(
            "no target database: set QLDB_ARCHIVE_TARGET_SECRET_ARN (a Secrets Manager secret) or "
            "QLDB_ARCHIVE_TARGET_URL"
        )
    return secret_to_url(get_secret(arn))


class SqsPoisonSender:
    """Sends poison messages to an SQS queue (boto3, imported on first use)."""

    def __init__(self, queue_url: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self._client = client

    def __call__(self, message: PoisonMessage) -> None:
        """Send one message (JSON body; the shard and sequence number as message attributes)."""
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        self._client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps(message),
            MessageAttributes={
                "shardId": {"DataType": "String", "StringValue": message["shardId"]},
                "sequenceNumber": {"DataType": "String", "StringValue": message["sequenceNumber"]},
            },
        )


def sources_of(event: Mapping[str, Any]) -> list[KinesisSource]:
    """The Kinesis records of a Lambda event, in event order, with Powertools' event class."""
    sources = []
    for i, rec in enumerate(KinesisStreamEvent(dict(event)).records):
        k = rec.kinesis
        sources.append(
            KinesisSource(
                position=i,
                event_source_arn=rec.event_source_arn,
                shard_id=rec.event_id.split(":", 1)[0],
                sequence_number=k.sequence_number,
                partition_key=k.partition_key,
                arrival=k.approximate_arrival_timestamp,
                data_b64=k.data,
            )
        )
    return sources


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveResult:
    """What one invocation did.

    Attributes:
        response: the partial batch response returned to Lambda.
        plan: the decisions.
        poison_sent: poison records the poison queue took.
        milliseconds: time spent per step: ``decode`` (KPL, Ion, the JSON projection), ``plan``
            (tables, strict order's lookups), ``apply`` (the transaction), ``poison`` (the queue).
    """

    response: PartialBatchResponse
    plan: LivePlan
    poison_sent: int = 0
    milliseconds: Mapping[str, float] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """The plan's counts, the poison sent and the failures reported."""
        return {
            **self.plan.counts(),
            "poison_sent": self.poison_sent,
            "failed": len(self.response["batchItemFailures"]),
        }


class _Stopwatch:
    """Milliseconds per step, for the batch log line and the benchmark."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round((now - self._last) * 1000, 3)
        self._last = now


class LiveReplicator:
    """Applies Kinesis events to one target; keeps its connection across invocations.

    Args:
        target: the open target (the restore's; not a ledger-grade one).
        config: how to replicate.
        send_poison: where poison records go; None: they fail their batch.
        clock: epoch seconds now (strict order ages records against it).
        sleep: waits between transient retries.
    """

    def __init__(
        self,
        target: Target,
        config: LiveConfig,
        *,
        send_poison: PoisonSender | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        caps = target.capabilities
        if caps.blocks or caps.whole_journal:
            raise LiveConfigError(
                f"{redact_url(target.url)} is a ledger-grade target: it keeps the journal's blocks and hash "
                "chain, which live replication does not build; restore it from the archive, and replicate "
                "live into a plain mysql:// or postgresql:// database"
            )
        self.target, self.config = target, config
        self.send_poison = send_poison
        self._clock, self._sleep = clock, sleep
        self._ensured: dict[str, TableNames] = {}

    def handle(self, event: Mapping[str, Any]) -> LiveResult:
        """Apply one event (see the module docstring).

        Raises:
            LiveApplyError: the database refused the batch, or stayed unreachable.
        """
        clock = _Stopwatch()
        sources = sources_of(event)
        records = [decode_record(s) for s in sources]
        clock.lap("decode")
        if not records:
            return LiveResult(response={"batchItemFailures": []}, plan=LivePlan(rows=()))
        try:
            plan = self._plan(records)
            clock.lap("plan")
            self._apply(plan)
            clock.lap("apply")
        except TargetError as exc:
            raise LiveApplyError(
                str(exc),
                shard_id=sources[0].shard_id,
                first_sequence_number=sources[0].sequence_number,
                last_sequence_number=sources[-1].sequence_number,
            ) from None
        sent = self._send_poison(plan)
        clock.lap("poison")
        failures = first_failures(plan.decisions, sent=sent)
        response: PartialBatchResponse = {"batchItemFailures": [{"itemIdentifier": s} for s in failures]}
        result = LiveResult(response=response, plan=plan, poison_sent=len(sent), milliseconds=clock.laps)
        self._log(result, sources)
        return result

    def _plan(self, records: Sequence[DecodedRecord]) -> LivePlan:
        tables = {row.table_name for r in records for row in r.revisions}
        names, refused = resolve_tables(
            tables - set(self._ensured),
            self.target.capabilities.identifiers,
            self.config.table_map,
            known=self._ensured,
        )
        if names:
            self._retrying(
                lambda: self.target.ensure_schema(list(names.values()), history=self.config.history)
            )
            self._ensured.update(names)
        known: dict[DocKey, int] = {}
        if self.config.order == "strict":
            wanted = {t: ids for t, ids in strict_lookups(records).items() if t in self._ensured}
            known = self._retrying(lambda: self._known_versions(wanted))
        return plan_batch(
            records,
            order=self.config.order,
            known_versions=known,
            now=self._clock(),
            strict_max_wait=self.config.strict_max_wait_seconds,
            refused_tables=refused,
        )

    def _known_versions(self, wanted: Mapping[str, set[str]]) -> dict[DocKey, int]:
        """Highest version per document the target holds: its current row or its tombstone."""
        caps = self.target.capabilities
        quote, mark = caps.quote, caps.dialect.placeholder
        known: dict[DocKey, int] = {}
        for table, ids in sorted(wanted.items()):
            doc_ids = sorted(ids)
            for i in range(0, len(doc_ids), LOOKUP_CHUNK):
                chunk = doc_ids[i : i + LOOKUP_CHUNK]
                marks = ", ".join([mark] * len(chunk))
                current = self.target.query(
                    f"SELECT doc_id, version FROM {quote(self._ensured[table].current)} "
                    f"WHERE doc_id IN ({marks})",
                    chunk,
                )
                tombs = self.target.query(
                    f"SELECT doc_id, version FROM {quote(TOMBSTONE_TABLE)} WHERE table_name = {mark} "
                    f"AND doc_id IN ({marks})",
                    [table, *chunk],
                )
                for doc_id, version in [*current, *tombs]:
                    key = (table, str(doc_id))
                    known[key] = max(known.get(key, -1), int(version))
        return known

    def _apply(self, plan: LivePlan) -> None:
        if not plan.rows:
            return
        first = plan.decisions[0].source
        blocks = [r.block_seq for r in plan.rows]
        batch = RevisionBatch(plan.rows, min(blocks), max(blocks))
        checkpoint = Checkpoint(
            restore_id=f"live-{first.shard_id}",
            identity=RunIdentity(
                tables=(), history=self.config.history, as_of_block=None, as_of_time=None, shard="1/1"
            ),
            last_block_seq=max(blocks),
            completed=False,
        )
        names = {t: self._ensured[t] for t in {r.table_name for r in plan.rows}}
        self._retrying(lambda: self.target.apply(batch, names, checkpoint, history=self.config.history))

    def _retrying(self, work: Callable[[], _T]) -> _T:
        """Run one transaction; on a transient error reconnect and run it again, `max_attempts` in all."""
        attempt = 1
        while True:
            try:
                return work()
            except TransientTargetError as exc:
                if attempt >= self.config.max_attempts:
                    raise
                logger.warning(
                    "transient database error, retrying", extra={"attempt": attempt, "reason": str(exc)}
                )
                self._sleep(0.2 * 2 ** (attempt - 1))
                attempt += 1
                try:
                    self.target.reconnect()
                except TransientTargetError:
                    continue

    def _send_poison(self, plan: LivePlan) -> frozenset[int]:
        """Send the poison records before the first blocked one; stop at the first that cannot go."""
        if self.send_poison is None:
            return frozenset()
        sent: set[int] = set()
        for d in poison_to_send(plan.decisions):
            assert d.poison_reason is not None  # poison_to_send keeps poison records only
            try:
                self.send_poison(poison_message(d.source, d.poison_reason))
            except Exception as exc:  # the queue is down: the record fails and comes back
                logger.warning(
                    "poison queue refused a record",
                    extra={"sequence_number": d.source.sequence_number, "error": type(exc).__name__},
                )
                break
            sent.add(d.source.position)
        return frozenset(sent)

    def _log(self, result: LiveResult, sources: Sequence[KinesisSource]) -> None:
        plan = result.plan
        poison = [d for d in plan.decisions if d.poison_reason is not None]
        for d in poison[:MAX_LOGGED]:
            logger.warning(
                "poison record",
                extra={
                    "shard_id": d.source.shard_id,
                    "sequence_number": d.source.sequence_number,
                    "reason": (d.poison_reason or "")[:MAX_REASON],
                },
            )
        blocked = [m for d in plan.decisions for m in d.blocked]
        released = [m for d in plan.decisions for m in d.released]
        for what, found in (("strict order holds back", blocked), ("strict order released", released)):
            if found:
                more = f" ... and {len(found) - MAX_LOGGED} more" if len(found) > MAX_LOGGED else ""
                logger.warning(
                    what, extra={"revisions": [m.describe() for m in found[:MAX_LOGGED]], "more": more}
                )
        logger.info(
            "batch applied",
            extra={
                **result.counts(),
                "shard_id": sources[0].shard_id,
                "first_sequence_number": sources[0].sequence_number,
                "last_sequence_number": sources[-1].sequence_number,
                "failures": [f["itemIdentifier"] for f in result.response["batchItemFailures"]],
                **{f"{step}_ms": ms for step, ms in result.milliseconds.items()},
                "order": self.config.order,
                "history": self.config.history,
                "target": redact_url(self.target.url),
            },
        )

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, get_secret: Callable[[str], str] = read_secret
    ) -> LiveReplicator:
        """Read the configuration, connect to the target, set up the poison queue.

        Raises:
            LiveConfigError: bad configuration; UnsupportedTargetError, TargetError: no database.
        """
        config = config_from_env(env)
        target = open_target(target_url_from_env(env, get_secret=get_secret))
        sender = SqsPoisonSender(config.poison_queue_url) if config.poison_queue_url else None
        return cls(target, config, send_poison=sender)


_replicator: LiveReplicator | None = None


def _current() -> LiveReplicator:
    """The container's replicator, created on the first invocation (the connection is reused)."""
    global _replicator  # one connection per Lambda container, as Lambda advises
    if _replicator is None:
        _replicator = LiveReplicator.from_env(os.environ)
    return _replicator


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialBatchResponse:
    """Kinesis event source mapping entry point (see the module docstring).

    After a database error the container's connection is dropped: the next invocation reads the
    secret again (a rotated password) and re-creates missing tables.
    """
    global _replicator
    replicator = _current()
    try:
        result = replicator.handle(event)
    except LiveApplyError:
        metrics.add_metric(name=APPLY_ERRORS_METRIC, unit=MetricUnit.Count, value=1)
        _replicator = None
        replicator.target.close()
        raise
    for name, value in result.counts().items():
        if name in METRICS:
            metrics.add_metric(name=METRICS[name], unit=MetricUnit.Count, value=value)
    return result.response

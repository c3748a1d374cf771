"""Live replication, the pure part: Kinesis records in, revisions and per-record decisions out.

`restore.live` is the Lambda adapter (event, environment, database, SQS); everything here is a
function of its arguments, so the decisions can be tested without a server:

1. `decode_record`: one Kinesis record -> its revisions (`RevisionRow`, built exactly as the
   archive builds its columns, so a live-replicated database and a restored one hold the same
   ``data`` text and ``content_hash``), its BLOCK_SUMMARY and CONTROL records (counted, not
   applied), or the reason it is poison (bad base64, corrupt KPL aggregate, not Ion, not a QLDB
   stream record, a value the projection refuses). Never raises on bad input. As with the
   archive, where Firehose de-aggregates first and fails user records one by one, the readable
   user records of an aggregate are applied and only the others make it poison.
2. `plan_batch`: which revisions to apply and, per record, whether it fails. In ``converge``
   order every decoded revision is applied (the version guard makes any order converge). In
   ``strict`` order a revision is applied only when its previous version is known to the target
   or applied in the same batch: the batch is one transaction, so applying versions 3 and 4
   together is applying them in order. A revision above a gap is held back and its record
   fails, so Kinesis delivers it again (QLDB's streaming samples did the same). Waiting is
   bounded: once a record has been in the stream for `strict_max_wait` seconds (its
   ``approximateArrivalTimestamp``), its held-back revisions are released, applied under the
   version guard and reported (`RecordDecision.released`). Bounded by age rather than by a
   count of deliveries because Lambda tells a function nothing about retries and keeps no state
   between containers; the event source mapping's ``MaximumRecordAgeInSeconds`` must be longer
   (infra/components/live_replication.py sets it so), or Lambda would discard the record first.
3. `first_failures`: the sequence numbers Lambda's partial batch response names, one per shard.

Records after the first failed one are applied in the same transaction when they can be: Kinesis
delivers them again from the failed record, and applying a revision twice changes nothing (the
version guard, one history row per (doc_id, version)).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypedDict, get_args
from urllib.parse import quote

from firehose_transform.normalise import ion_to_json_text, ledger_from_arn, timestamp_to_utc_iso
from journal.errors import JournalError
from journal.kpl import deaggregate, is_aggregated
from journal.records import BlockSummaryRecord, ControlRecord, Revision, RevisionKind, parse_stream_records
from restore.batch import RevisionRow
from restore.content import content_hash
from restore.errors import IdentifierError, RestoreError
from restore.identifiers import IdentifierRules, TableNames, table_names

__all__ = [
    "DEFAULT_STRICT_MAX_WAIT_SECONDS",
    "LIVE_ORDERS",
    "MAX_POISON_MESSAGE_BYTES",
    "BatchItemFailure",
    "DecodedRecord",
    "DocKey",
    "KinesisSource",
    "LiveApplyError",
    "LiveConfigError",
    "LiveOrder",
    "LivePlan",
    "MissingVersion",
    "PartialBatchResponse",
    "PoisonMessage",
    "RecordDecision",
    "decode_record",
    "first_failures",
    "plan_batch",
    "poison_message",
    "poison_to_send",
    "resolve_tables",
    "revision_to_row",
    "secret_to_url",
    "strict_lookups",
]

LiveOrder = Literal["converge", "strict"]
LIVE_ORDERS: Final[tuple[LiveOrder, ...]] = get_args(LiveOrder)
DEFAULT_STRICT_MAX_WAIT_SECONDS: Final = 300.0
"""How long strict order waits for a missing version, counted from the record's arrival."""
MAX_POISON_MESSAGE_BYTES: Final = 256 * 1024
"""SQS's default message size limit (``MaximumMessageSize``, 256 KiB): beyond it, the data is left out."""

DocKey = tuple[str, str]
"""(QLDB table name, doc_id)."""


class LiveConfigError(RestoreError):
    """Live replication is configured wrongly (environment, secret); names the setting at fault."""


class LiveApplyError(RestoreError):
    """The target refused a batch (after retries); names the shard, the records and the database's reason.

    Raised out of the handler: Lambda retries the batch (bisecting it), then hands it to the
    event source mapping's on-failure destination. The archive still holds every record.

    Attributes:
        reason: the target's error (no data, no password).
        shard_id: the shard of the batch.
        first_sequence_number, last_sequence_number: the batch's first and last records.
    """

    def __init__(self, reason: str, *, shard_id: str, first_sequence_number: str, last_sequence_number: str):
        self.reason, self.shard_id = reason, shard_id
        self.first_sequence_number, self.last_sequence_number = first_sequence_number, last_sequence_number
        super().__init__(
            f"cannot apply Kinesis records {shard_id}/{first_sequence_number}..{last_sequence_number}: "
            f"{reason}. Lambda retries the batch; fix the database, or see the on-failure queue"
        )


class BatchItemFailure(TypedDict):
    """One entry of Lambda's partial batch response: the Kinesis sequence number to retry from."""

    itemIdentifier: str


class PartialBatchResponse(TypedDict):
    """What the handler returns (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html)."""

    batchItemFailures: list[BatchItemFailure]


class PoisonMessage(TypedDict):
    """The SQS body for a record that cannot be applied: the record itself, where it was, why.

    ``data`` is the record's base64 data as the event held it, or None when the message would
    exceed `MAX_POISON_MESSAGE_BYTES` (a Kinesis record can hold 1 MiB): then ``dataSha256``
    and the shard and sequence number find it in the stream (within its retention) or in the
    archive's error prefix (the transform refuses the same bytes).
    """

    reason: str
    eventSourceARN: str
    shardId: str
    sequenceNumber: str
    partitionKey: str
    approximateArrivalTimestamp: float
    dataBytes: int
    dataSha256: str
    data: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class KinesisSource:
    """One Kinesis record of an event, as the plan needs it.

    Attributes:
        position: its index in the event (Kinesis order within the shard).
        event_source_arn: the Kinesis stream's ARN.
        shard_id: from the eventID (``shardId-...:sequenceNumber``).
        sequence_number: the record's sequence number (the partial batch response names it).
        partition_key: the record's partition key.
        arrival: ``approximateArrivalTimestamp``, epoch seconds.
        data_b64: the data as the event holds it (base64), kept for the poison queue.
    """

    position: int
    event_source_arn: str
    shard_id: str
    sequence_number: str
    partition_key: str
    arrival: float
    data_b64: str

    @property
    def where(self) -> str:
        """Names the record in errors and logs."""
        return f"Kinesis record {self.shard_id}/{self.sequence_number}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DecodedRecord:
    """What one Kinesis record holds.

    Attributes:
        source: the record.
        revisions: its REVISION_DETAILS as rows, in record order.
        block_summaries: BLOCK_SUMMARY records (counted, not applied: the archive keeps them).
        controls: CONTROL records (counted, not applied).
        poison_reason: why (part of) the record cannot be read; None when all of it was read.
    """

    source: KinesisSource
    revisions: tuple[RevisionRow, ...] = ()
    block_summaries: int = 0
    controls: int = 0
    poison_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MissingVersion:
    """A revision strict order held back (or released): its previous version was not applied.

    Attributes:
        table_name: the QLDB table.
        doc_id: the blocking document.
        version: the revision held back.
    """

    table_name: str
    doc_id: str
    version: int

    def describe(self) -> str:
        """One line for logs and reports (ids and versions only, no data).

        >>> MissingVersion(table_name="Person", doc_id="D35q", version=3).describe()
        'Person/D35q version 3 waits for version 2'
        """
        return f"{self.table_name}/{self.doc_id} version {self.version} waits for version {self.version - 1}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordDecision:
    """What happens to one Kinesis record.

    Attributes:
        source: the record.
        applied: revisions of it applied in this invocation.
        skipped: stream records of it not applied (BLOCK_SUMMARY, CONTROL).
        poison_reason: set when (part of) it could not be read or applied.
        blocked: revisions strict order held back (the record fails).
        released: revisions applied although their previous version is still missing: strict
            order stopped waiting after `strict_max_wait` seconds.
    """

    source: KinesisSource
    applied: int = 0
    skipped: int = 0
    poison_reason: str | None = None
    blocked: tuple[MissingVersion, ...] = ()
    released: tuple[MissingVersion, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LivePlan:
    """The decisions for one invocation batch.

    Attributes:
        rows: the revisions to apply, in one transaction.
        decisions: one per Kinesis record, in event order.
    """

    rows: tuple[RevisionRow, ...]
    decisions: tuple[RecordDecision, ...] = ()

    def counts(self) -> dict[str, int]:
        """Counts for the log line and the metrics (no document data)."""
        return {
            "records": len(self.decisions),
            "revisions_applied": len(self.rows),
            "skipped": sum(d.skipped for d in self.decisions),
            "poison": sum(1 for d in self.decisions if d.poison_reason is not None),
            "blocked": sum(1 for d in self.decisions if d.blocked),
            "released": sum(len(d.released) for d in self.decisions),
        }


def revision_to_row(rev: Revision) -> RevisionRow:
    """A stream revision as a restore row, every column computed as the archive computes it.

    ``data_json`` is `firehose_transform.normalise.ion_to_json_text` of the data, ``tx_time`` the
    archive's UTC milliseconds, hashes standard base64: so `content_hash` here equals the one the
    parity check computes from the archive, and parity holds for a live-replicated database.

    Raises:
        ValueError, TypeError, OverflowError, RecursionError: a value the projection refuses.
    """
    kind = rev.kind
    data_json = None if rev.data is None else ion_to_json_text(rev.data)
    return RevisionRow(
        table_name=rev.table_name or "",
        doc_id=rev.doc_id,
        version=rev.version,
        block_seq=rev.block_seq,
        tx_id=rev.tx_id,
        tx_time=dt.datetime.fromisoformat(timestamp_to_utc_iso(rev.tx_time).removesuffix("Z")),
        revision_hash=base64.b64encode(rev.revision_hash).decode("ascii"),
        data_hash=None if rev.data_hash is None else base64.b64encode(rev.data_hash).decode("ascii"),
        is_deleted=kind is RevisionKind.DELETED,
        is_redacted=kind is RevisionKind.REDACTED,
        data_json=data_json,
        content_hash=content_hash(data_json),
    )


def _user_record_rows(data: bytes, where: str) -> tuple[list[RevisionRow], int, int]:
    """The rows, block summaries and controls of one user record; raises on the first fault."""
    rows: list[RevisionRow] = []
    summaries = controls = 0
    for i, rec in enumerate(parse_stream_records(data, source=where, bare=True)):
        if ledger_from_arn(rec.stream_arn) is None:  # the archive's transform refuses these too
            raise JournalError(f"{where}: qldbStreamArn of stream record #{i} is not a QLDB stream ARN")
        if isinstance(rec, BlockSummaryRecord):
            summaries += 1
        elif isinstance(rec, ControlRecord):
            controls += 1
        else:
            rows.append(revision_to_row(rec.revision))
    return rows, summaries, controls


def decode_record(source: KinesisSource) -> DecodedRecord:
    """Read one Kinesis record (see the module docstring); bad input becomes `poison_reason`.

    Reasons name positions and fields, never values: they are logged and sent to SQS.

    >>> src = KinesisSource(position=0, event_source_arn="arn", shard_id="shardId-0",
    ...     sequence_number="1", partition_key="k", arrival=0.0, data_b64="bm90IGlvbg==")
    >>> print(decode_record(src).poison_reason)  # doctest: +NORMALIZE_WHITESPACE
    cannot parse QLDB stream record in Kinesis record shardId-0/1 (Ion value #0):
    a stream record is a struct, not symbol
    """
    try:
        data = base64.b64decode(source.data_b64, validate=True)
    except (binascii.Error, ValueError):
        return DecodedRecord(source=source, poison_reason=f"{source.where}: data is not valid base64")
    if not data:
        return DecodedRecord(source=source, poison_reason=f"{source.where}: data is empty")
    try:
        users = deaggregate(data, source=source.where, partition_key=source.partition_key)
    except JournalError as exc:
        return DecodedRecord(source=source, poison_reason=str(exc))
    aggregated = is_aggregated(data)
    revisions: list[RevisionRow] = []
    summaries = controls = 0
    reasons: list[str] = []
    for u, user in enumerate(users):
        where = source.where + (f", KPL user record #{u}" if aggregated else "")
        try:
            rows, n_summaries, n_controls = _user_record_rows(user.data, where)
        except JournalError as exc:
            reasons.append(str(exc))
            continue
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # projection: no values
            reasons.append(f"{where}: a value cannot be projected to JSON ({type(exc).__name__})")
            continue
        revisions.extend(rows)
        summaries += n_summaries
        controls += n_controls
    return DecodedRecord(
        source=source,
        revisions=tuple(revisions),
        block_summaries=summaries,
        controls=controls,
        poison_reason=_join(reasons),
    )


def _join(reasons: Sequence[str]) -> str | None:
    if not reasons:
        return None
    more = f" ... and {len(reasons) - 1} more" if len(reasons) > 1 else ""
    return reasons[0] + more


def strict_lookups(records: Iterable[DecodedRecord]) -> dict[str, set[str]]:
    """The documents strict order must look up in the target: table -> doc_ids (versions > 0 only)."""
    wanted: dict[str, set[str]] = {}
    for record in records:
        for row in record.revisions:
            if row.version > 0:
                wanted.setdefault(row.table_name, set()).add(row.doc_id)
    return wanted


def _strict_reach(
    records: Sequence[DecodedRecord],
    known: Mapping[DocKey, int],
    aged: Sequence[bool],
    refused: Mapping[str, str],
) -> tuple[dict[DocKey, int], set[tuple[DocKey, int]]]:
    """Per document, the highest version strict order may apply, and the versions it released.

    From the version the target knows, climb the batch's versions one by one; a gap stops the
    climb unless a record holding the version above it has waited long enough (released).
    """
    versions: dict[DocKey, set[int]] = {}
    releasable: set[tuple[DocKey, int]] = set()
    for record, old in zip(records, aged, strict=True):
        for row in record.revisions:
            if row.table_name in refused:
                continue
            key = (row.table_name, row.doc_id)
            versions.setdefault(key, set()).add(row.version)
            if old:
                releasable.add((key, row.version))
    reach: dict[DocKey, int] = {}
    released: set[tuple[DocKey, int]] = set()
    for key, found in versions.items():
        top = known.get(key, -1)
        for version in sorted(found):
            if version > top + 1:
                if (key, version) not in releasable:
                    break
                released.add((key, version))
            top = max(top, version)
        reach[key] = top
    return reach, released


def plan_batch(
    records: Sequence[DecodedRecord],
    *,
    order: LiveOrder,
    known_versions: Mapping[DocKey, int] | None = None,
    now: float = 0.0,
    strict_max_wait: float = DEFAULT_STRICT_MAX_WAIT_SECONDS,
    refused_tables: Mapping[str, str] | None = None,
) -> LivePlan:
    """Decide what one invocation applies and which records fail (see the module docstring).

    Args:
        records: the decoded records, in event order.
        order: ``converge`` or ``strict``.
        known_versions: strict order: the highest version the target holds per (table, doc_id),
            current or tombstone (a document absent from it has none).
        now: strict order: the time (epoch seconds) to age records against.
        strict_max_wait: strict order: seconds after its arrival a record stops waiting.
        refused_tables: QLDB tables the target cannot hold (name -> reason): their revisions
            make the record poison.

    >>> plan_batch([], order="strict").counts()["records"]
    0
    """
    refused = refused_tables or {}
    strict = order == "strict"
    reach: dict[DocKey, int] = {}
    released: set[tuple[DocKey, int]] = set()
    if strict:
        aged = [now - r.source.arrival >= strict_max_wait for r in records]
        reach, released = _strict_reach(records, known_versions or {}, aged, refused)
    rows: list[RevisionRow] = []
    decisions: list[RecordDecision] = []
    for record in records:
        blocked: list[MissingVersion] = []
        freed: list[MissingVersion] = []
        reasons = [] if record.poison_reason is None else [record.poison_reason]
        applied = 0
        for row in record.revisions:
            if row.table_name in refused:
                reasons.append(f"{record.source.where}: {refused[row.table_name]}")
                continue
            key = (row.table_name, row.doc_id)
            if strict:
                gap = MissingVersion(table_name=row.table_name, doc_id=row.doc_id, version=row.version)
                if row.version > reach[key]:
                    blocked.append(gap)
                    continue
                if (key, row.version) in released:
                    freed.append(gap)
            rows.append(row)
            applied += 1
        decisions.append(
            RecordDecision(
                source=record.source,
                applied=applied,
                skipped=record.block_summaries + record.controls,
                poison_reason=_join(reasons),
                blocked=tuple(blocked),
                released=tuple(freed),
            )
        )
    return LivePlan(rows=tuple(rows), decisions=tuple(decisions))


def resolve_tables(
    tables: Iterable[str],
    rules: IdentifierRules,
    table_map: Mapping[str, str] | None = None,
    *,
    known: Iterable[str] = (),
) -> tuple[dict[str, TableNames], dict[str, str]]:
    """Target names for the QLDB tables of a batch, and the tables refused with their reason.

    `restore.identifiers.table_names` refuses a whole set when one name is bad; here one bad
    table name makes only its own records poison. `known` are tables already replicated (by
    earlier invocations): a new name that would land in one of their tables is refused too.

    >>> names, refused = resolve_tables(["Person", ""], IdentifierRules(max_length=64))
    >>> sorted(names), refused
    (['Person'], {'': 'the name is empty'})
    """
    names: dict[str, TableNames] = {}
    refused: dict[str, str] = {}
    for table in sorted(set(tables)):
        try:
            names.update(table_names([table], rules, table_map))
        except IdentifierError as exc:
            refused[table] = exc.reason
    accepted = set(known)
    for table in sorted(names):  # QLDB allows 40 tables: checking each against the rest is cheap
        try:
            table_names(accepted | {table}, rules, table_map)
        except IdentifierError as exc:  # its target table would be another's: refuse the new one
            refused[table] = exc.reason
            del names[table]
            continue
        accepted.add(table)
    return names, refused


def poison_to_send(decisions: Sequence[RecordDecision]) -> list[RecordDecision]:
    """The poison records to send to the poison queue now: those before their shard's first blocked one.

    Records from a blocked one on are delivered again, and sent then: so a poison record is sent
    once per delivery that gets past it, not once per retry of the records before it.
    """
    blocked_shards: set[str] = set()
    out: list[RecordDecision] = []
    for d in decisions:
        shard = d.source.shard_id
        if d.blocked:
            blocked_shards.add(shard)
        if shard not in blocked_shards and d.poison_reason is not None:
            out.append(d)
    return out


def first_failures(decisions: Sequence[RecordDecision], *, sent: frozenset[int] = frozenset()) -> list[str]:
    """The sequence number of each shard's first failed record (an event holds one shard in AWS).

    A record fails when strict order blocked one of its revisions, or when it is poison and was
    not sent to the poison queue (`sent` holds the positions that were).
    """
    failed: dict[str, str] = {}
    for d in decisions:
        if d.source.shard_id in failed:
            continue
        if d.blocked or (d.poison_reason is not None and d.source.position not in sent):
            failed[d.source.shard_id] = d.source.sequence_number
    return list(failed.values())


def poison_message(source: KinesisSource, reason: str) -> PoisonMessage:
    """The SQS body for a poison record: the record as received (when it fits), where it was, and why.

    >>> src = KinesisSource(position=0, event_source_arn="arn", shard_id="shardId-0",
    ...     sequence_number="1", partition_key="k", arrival=0.0, data_b64="A" * 400_000)
    >>> msg = poison_message(src, "not Ion")
    >>> msg["data"] is None, msg["dataBytes"]
    (True, 300000)
    """
    try:
        raw = base64.b64decode(source.data_b64)
    except (binascii.Error, ValueError):
        raw = source.data_b64.encode("ascii", "replace")
    message: PoisonMessage = {
        "reason": reason,
        "eventSourceARN": source.event_source_arn,
        "shardId": source.shard_id,
        "sequenceNumber": source.sequence_number,
        "partitionKey": source.partition_key,
        "approximateArrivalTimestamp": source.arrival,
        "dataBytes": len(raw),
        "dataSha256": hashlib.sha256(raw).hexdigest(),
        "data": source.data_b64,
    }
    if len(json.dumps(message)) > MAX_POISON_MESSAGE_BYTES:
        message["data"] = None
    return message


_ENGINES: Final = {
    "mysql": "mysql",
    "aurora-mysql": "mysql",
    "mariadb": "mysql",
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "aurora-postgresql": "postgresql",
}
_DEFAULT_PORTS: Final = {"mysql": 3306, "postgresql": 5432}


def secret_to_url(secret: str) -> str:
    """A target URL from a Secrets Manager secret string: a URL, ``{"url": ...}``, or an RDS JSON secret.

    ``{"url": ...}`` is the secret the stack creates for the restore and parity jobs
    (infra/components/jobs.py). The RDS form is what RDS and Aurora keep for a database user:
    ``engine``, ``host``, ``port``, ``username``, ``password``, ``dbname`` (``dbname`` may be
    absent: then ``database`` is read). User and password are percent-encoded into the URL.

    Raises:
        LiveConfigError: none of these forms (the message names no value).

    >>> secret_to_url('{"engine": "aurora-postgresql", "host": "db", "username": "app", '
    ...               '"password": "p@ss/word", "dbname": "dmv"}')
    'postgresql://app:p%40ss%2Fword@db:5432/dmv'
    >>> secret_to_url('{"url": "mysql://app:pw@db/dmv", "password": "pw"}')
    'mysql://app:pw@db/dmv'
    """
    text = secret.strip()
    if "://" in text and not text.startswith("{"):
        return text
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        raw = None
    if not isinstance(raw, dict):
        raise LiveConfigError(
            "the database secret is neither a URL nor a JSON object with a url field or with engine, "
            "host, port, username, password and dbname"
        )
    url = raw.get("url")
    if isinstance(url, str) and "://" in url:
        return url.strip()
    engine = _ENGINES.get(str(raw.get("engine", "")).lower())
    missing = [k for k in ("host", "username") if not raw.get(k)]
    dbname = raw.get("dbname") or raw.get("database")
    if engine is None or missing or not dbname:
        what = ", ".join(missing + ([] if dbname else ["dbname"]) + ([] if engine else ["engine"]))
        raise LiveConfigError(
            f"the database secret has no url field, and lacks or has an unknown {what}; "
            f"engine is one of {', '.join(sorted(_ENGINES))}"
        )
    user = quote(str(raw["username"]), safe="")
    password = raw.get("password")
    auth = user if not password else f"{user}:{quote(str(password), safe='')}"
    port = int(raw.get("port") or _DEFAULT_PORTS[engine])
    return f"{engine}://{auth}@{raw['host']}:{port}/{quote(str(dbname), safe='')}"

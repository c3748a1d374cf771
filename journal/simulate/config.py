"""The simulator's knobs: one frozen `SimulationConfig`, validated when it is built.

Every knob has a default that gives a realistic run (two shards, a few duplicates, some
reordering, KPL aggregation on as QLDB streams have it). Knobs are grouped by the stage they
drive: the workload (what the ledger commits), the stream (how Kinesis delivers it), Firehose
events and the journal export. Changing a stream, Firehose or export knob never changes the
journal: each stage draws from its own random stream derived from `seed`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from journal.simulate.errors import SimulationConfigError

__all__ = [
    "ALL_OUTPUTS",
    "ALL_TABLES",
    "FIREHOSE_MAX_EVENT_BYTES",
    "QLDB_MAX_DOCUMENTS_PER_TRANSACTION",
    "ExportFormat",
    "FirehoseMode",
    "OperationMix",
    "Output",
    "SimulationConfig",
    "TableName",
    "export_format_from_str",
]

TableName = Literal["Person", "DriversLicense", "Vehicle", "VehicleRegistration"]
ALL_TABLES: Final[tuple[TableName, ...]] = get_args(TableName)
"""The four tables of the QLDB DMV sample ledger, in the order the sample creates them."""

ExportFormat = Literal["ION_TEXT", "ION_BINARY", "JSON"]
"""`ExportJournalToS3` output formats (`OutputFormat`); ION_TEXT is QLDB's default."""

FirehoseMode = Literal["kinesis", "kinesis_aggregated", "direct_put"]
"""How Firehose events carry records.

- `kinesis`: Kinesis source, KPL aggregates de-aggregated by Firehose before the Lambda (what a
  real delivery stream reading a QLDB stream sends): one event record per stream record.
- `kinesis_aggregated`: Kinesis source, but records as they sit on the stream (aggregated when
  aggregation is on): what a transform must also accept, e.g. when raw archives are backfilled.
- `direct_put`: no `sourceKinesisStreamArn` and no `kinesisRecordMetadata`; the data is each
  Kinesis record's bytes.
"""

Output = Literal["kinesis", "firehose", "export", "truth"]
ALL_OUTPUTS: Final[frozenset[str]] = frozenset(get_args(Output))
"""What `write_simulation` can write: see docs/files.md for each layout."""

QLDB_MAX_DOCUMENTS_PER_TRANSACTION: Final = 40
"""QLDB commits at most 40 documents per transaction (QLDB quotas)."""

FIREHOSE_MAX_EVENT_BYTES: Final = 6_000_000
"""A Firehose transformation request is capped at 6 MB (Lambda's synchronous payload limit)."""

_MAX_FIREHOSE_BUFFER = 3 * 1024 * 1024  # Firehose's Lambda processor buffer is 0.2-3 MB


@dataclass(frozen=True, slots=True, kw_only=True)
class OperationMix:
    """Relative weights of the operations in user transactions, and how often a transaction redacts.

    `insert`, `update` and `delete` weigh the document changes of a transaction (an update or
    delete with no live document to act on becomes an insert). `select` is the chance that a
    transaction also runs a read-only statement, recorded in `transactionInfo` like any other.
    `redact` is the chance that a transaction is a `REDACT_REVISION` of an inactive revision
    (QLDB allows one redaction per transaction).
    """

    insert: float = 0.35
    update: float = 0.55
    delete: float = 0.10
    select: float = 0.10
    redact: float = 0.02

    def __post_init__(self) -> None:
        for name in ("insert", "update", "delete", "select", "redact"):
            value = getattr(self, name)
            if not value >= 0.0:
                raise SimulationConfigError(f"mix.{name}", f"must be >= 0, got {value}")
        for name in ("select", "redact"):
            if getattr(self, name) > 1.0:
                raise SimulationConfigError(f"mix.{name}", f"is a probability, got {getattr(self, name)}")
        if self.insert <= 0.0:
            raise SimulationConfigError("mix.insert", "must be > 0: nothing could be updated or deleted")


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationConfig:
    """Everything a simulation run depends on: the same config gives byte-identical output.

    Attributes:
        revisions: user document revisions to commit (system revisions are extra).
        seed: seeds every random choice.
        tables: the DMV tables to create and write (a subset of `ALL_TABLES`).
        mix: operation weights (`OperationMix`).
        max_documents_per_transaction: largest transaction, in documents (QLDB: at most 40).
        live_documents: bound on the working set of documents that can still be updated or
            deleted. When it is full, a random document is retired: it keeps its last revision
            for good and is written to the final state. Memory is proportional to this, never
            to the history.
        redaction_window: blocks held back before they are emitted; a redaction targets an
            inactive revision in one of these blocks, so that the emitted revision already shows
            the redaction (see `journal.simulate.ledger`).
        system_blocks: system-only blocks (hash-only revisions, no transactionInfo) at the start
            of the journal, before the CREATE TABLE transactions.
        system_revision_rate: chance that a user block also holds a hash-only system revision.
        type_variety: chance that a value is written with an unusual Ion type: a typed null, a
            symbol instead of a string, another timestamp precision or decimal scale.
        start_time: wall-clock time of the first block (UTC).
        mean_transaction_gap_ms: mean time between transactions.
        ledger_name, region, account_id, kinesis_stream_name, firehose_stream_name: names that
            go into ARNs.
        shards: Kinesis shards; records are routed by the MD5 of their partition key as Kinesis
            does (document id for REVISION_DETAILS, transaction id for BLOCK_SUMMARY).
        duplicate_rate: share of Kinesis records delivered twice (at-least-once delivery).
        out_of_order_window: records of a shard are shuffled within a sliding window of this
            many (0 or 1: delivered in order).
        aggregate: KPL-aggregate stream records per shard (QLDB's `AggregationEnabled`, on by
            default in QLDB).
        kpl_max_records: most user records the simulated KPL buffers per shard before a flush.
        kpl_max_buffered_ms: the KPL's `RecordMaxBufferedTime`: a shard's buffer is flushed once
            its oldest record is this old.
        kpl_max_bytes: the KPL's `AggregationMaxSize`.
        stream_completed: end the stream with a CONTROL COMPLETED record (a stream that had an
            exclusive end time).
        firehose_mode: see `FirehoseMode`.
        firehose_max_records: records per Firehose event (at most 500).
        firehose_buffer_bytes: decoded data bytes per Firehose event (Firehose's Lambda buffer
            size hint, 0.2-3 MB); every event file also stays under 6 MB of JSON.
        export_format: journal export format.
        export_blocks_per_object: blocks per export data object.
        export_prefix: S3 prefix the export was requested with; keys in the completed manifest
            start with it.
    """

    revisions: int = 10_000
    seed: int = 1
    tables: tuple[TableName, ...] = ALL_TABLES
    mix: OperationMix = field(default_factory=OperationMix)
    max_documents_per_transaction: int = 10
    live_documents: int = 5_000
    redaction_window: int = 128
    system_blocks: int = 2
    system_revision_rate: float = 0.02
    type_variety: float = 0.05
    start_time: dt.datetime = dt.datetime(2019, 12, 11, 7, 0, tzinfo=dt.UTC)
    mean_transaction_gap_ms: int = 400
    ledger_name: str = "vehicle-registration"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    kinesis_stream_name: str = "qldb-vehicle-registration"
    firehose_stream_name: str = "qldb-archive"
    shards: int = 2
    duplicate_rate: float = 0.05
    out_of_order_window: int = 16
    aggregate: bool = True
    kpl_max_records: int = 32
    kpl_max_buffered_ms: int = 100
    kpl_max_bytes: int = 51_200
    stream_completed: bool = True
    firehose_mode: FirehoseMode = "kinesis"
    firehose_max_records: int = 500
    firehose_buffer_bytes: int = 1_048_576
    export_format: ExportFormat = "ION_TEXT"
    export_blocks_per_object: int = 500
    export_prefix: str = "journalExport"

    def __post_init__(self) -> None:
        _at_least("revisions", self.revisions, 1)
        if not self.tables:
            raise SimulationConfigError("tables", "choose at least one table")
        unknown = [t for t in self.tables if t not in ALL_TABLES]
        if unknown or len(set(self.tables)) != len(self.tables):
            raise SimulationConfigError(
                "tables", f"{list(self.tables)} must be distinct names from {', '.join(ALL_TABLES)}"
            )
        _in_range("max_documents_per_transaction", self.max_documents_per_transaction, 1, 40)
        _at_least("live_documents", self.live_documents, 1)
        _at_least("redaction_window", self.redaction_window, 1)
        _at_least("system_blocks", self.system_blocks, 0)
        for name in ("system_revision_rate", "type_variety", "duplicate_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SimulationConfigError(name, f"is a probability between 0 and 1, got {value}")
        if self.start_time.tzinfo is None or self.start_time.utcoffset() != dt.timedelta(0):
            raise SimulationConfigError("start_time", "must be an aware UTC datetime")
        _at_least("mean_transaction_gap_ms", self.mean_transaction_gap_ms, 1)
        _in_range("shards", self.shards, 1, 10_000)
        _at_least("out_of_order_window", self.out_of_order_window, 0)
        _at_least("kpl_max_records", self.kpl_max_records, 1)
        _at_least("kpl_max_buffered_ms", self.kpl_max_buffered_ms, 1)
        _in_range("kpl_max_bytes", self.kpl_max_bytes, 64, 1_048_576)  # the KPL's allowed range
        if self.firehose_mode not in get_args(FirehoseMode):
            raise SimulationConfigError(
                "firehose_mode", f"{self.firehose_mode!r} is not one of {get_args(FirehoseMode)}"
            )
        _in_range("firehose_max_records", self.firehose_max_records, 1, 500)
        _in_range("firehose_buffer_bytes", self.firehose_buffer_bytes, 1, _MAX_FIREHOSE_BUFFER)
        if self.export_format not in get_args(ExportFormat):
            raise SimulationConfigError(
                "export_format", f"{self.export_format!r} is not one of {', '.join(get_args(ExportFormat))}"
            )
        _at_least("export_blocks_per_object", self.export_blocks_per_object, 1)
        if "/" in self.export_prefix.strip("/") or not self.export_prefix.strip("/"):
            raise SimulationConfigError(
                "export_prefix", f"must be one non-empty path segment, got {self.export_prefix!r}"
            )


def export_format_from_str(text: str) -> ExportFormat:
    """The `ExportFormat` named by `text` (any case), for command lines.

    Raises:
        SimulationConfigError: `text` names no export format.

    >>> export_format_from_str("json")
    'JSON'
    """
    for fmt in get_args(ExportFormat):
        if fmt == text.strip().upper():
            return fmt  # type: ignore[no-any-return]
    raise SimulationConfigError(
        "export_format", f"{text!r} is not one of {', '.join(get_args(ExportFormat))}"
    )


def _at_least(name: str, value: int, low: int) -> None:
    if value < low:
        raise SimulationConfigError(name, f"must be at least {low}, got {value}")


def _in_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise SimulationConfigError(name, f"must be between {low} and {high}, got {value}")

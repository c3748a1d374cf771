"""`write_simulation`: run a simulation once and write every requested output as blocks stream past.

One pass over `simulate_blocks` feeds the truth and export writers directly, and the stream
writers through `stream_records` -> `deliver` (Kinesis record files, one JSONL per shard) ->
`firehose_events` (event files). Nothing holds more than a window of blocks or records, so
10 million revisions write in the same memory as ten thousand.

Output folders (`kinesis/`, `firehose/`, `export/`, `truth/`) belong to the simulator: files it
wrote there before (shard files, event files, export manifests and data objects, truth files)
are removed first, so that a folder never mixes two runs.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from journal.ion_build import datetime_to_ms
from journal.merkle import IncrementalMerkle
from journal.progress import NULL_PROGRESS, ProgressReporter
from journal.simulate.config import ALL_OUTPUTS, SimulationConfig
from journal.simulate.errors import SimulationConfigError
from journal.simulate.firehose import firehose_events
from journal.simulate.journal_export import ExportWriter
from journal.simulate.kinesis import KinesisRecord, deliver, shard_id_of
from journal.simulate.simulation import LedgerNames, ledger_names, simulate_blocks, stage_rng
from journal.simulate.stream import TimedRecord, stream_records
from journal.simulate.truth import TruthWriter

if TYPE_CHECKING:
    from journal.records import Block, BlockAddress

__all__ = ["SimulationSummary", "write_simulation"]

_OWN_FILES = {  # what a previous run may have left in each output folder
    "kinesis": re.compile(r"^shard-shardId-\d{12}\.jsonl$"),
    "firehose": re.compile(r"^event-\d+\.json$"),
    "export": re.compile(
        r"^(\.\w+\.partial|\w+\.started\.manifest|\w+\.\w+\.completed\.manifest|\w+\.\w+\.\d+-\d+\.(ion|json))$"
    ),
    "truth": re.compile(r"^(history\.jsonl|final\.jsonl|summary\.json)$"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationSummary:
    """What a run produced: journal figures (from the truth) and what each output holds.

    Attributes:
        seed: the run's seed.
        revisions: user revisions committed.
        transactions: user and redaction transactions (system and DDL blocks excluded).
        blocks: blocks in the journal (system and DDL blocks included).
        tip: address of the last block.
        tip_block_hash: its block hash.
        digest: the journal digest `merkle(blockHash[0..tip])`.
        counts: revisions per table and kind (live, deleted, redacted).
        final_documents: live documents at the end, per table.
        outputs: the outputs written.
        stream_records: QLDB stream records (CONTROL, BLOCK_SUMMARY, REVISION_DETAILS).
        kinesis_records: Kinesis records delivered (duplicates included).
        duplicates: deliveries that repeat a record.
        firehose_events: Firehose event files; firehose_records: records in them.
        export_objects: export data objects.
        names: strand, stream and export ids.
    """

    seed: int
    revisions: int
    transactions: int
    blocks: int
    tip: BlockAddress
    tip_block_hash: bytes
    digest: bytes
    counts: dict[str, dict[str, int]]
    final_documents: dict[str, int]
    outputs: tuple[str, ...]
    stream_records: int = 0
    kinesis_records: int = 0
    duplicates: int = 0
    firehose_events: int = 0
    firehose_records: int = 0
    export_objects: int = 0
    names: LedgerNames | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (hashes in base64); `truth/summary.json` holds the same."""
        names = self.names
        return {
            "seed": self.seed,
            "revisions": self.revisions,
            "transactions": self.transactions,
            "blocks": self.blocks,
            "tip": {"strandId": self.tip.strand_id, "sequenceNo": self.tip.block_seq},
            "tip_block_hash": base64.b64encode(self.tip_block_hash).decode("ascii"),
            "digest": base64.b64encode(self.digest).decode("ascii"),
            "counts": self.counts,
            "final_documents": self.final_documents,
            "outputs": list(self.outputs),
            "stream_records": self.stream_records,
            "kinesis_records": self.kinesis_records,
            "duplicates": self.duplicates,
            "firehose_events": self.firehose_events,
            "firehose_records": self.firehose_records,
            "export_objects": self.export_objects,
            "ledger_name": None if names is None else names.ledger_name,
            "stream_arn": None if names is None else names.stream_arn,
            "export_id": None if names is None else names.export_id,
            "tables": {} if names is None else {t.name: t.table_id for t in names.tables},
        }

    def summary_lines(self) -> list[str]:
        """A few human-readable lines."""
        kinds: Counter[str] = Counter()
        for per_kind in self.counts.values():
            kinds.update(per_kind)
        lines = [
            f"{self.revisions:,} revisions in {self.transactions:,} transactions, {self.blocks:,} blocks "
            f"(tip {self.tip}); {kinds['live']:,} live, {kinds['deleted']:,} deleted, "
            f"{kinds['redacted']:,} redacted",
            f"digest {base64.b64encode(self.digest).decode('ascii')}",
            f"{sum(self.final_documents.values()):,} documents in the final state",
        ]
        if "kinesis" in self.outputs or "firehose" in self.outputs:
            lines.append(
                f"{self.stream_records:,} stream records as {self.kinesis_records:,} Kinesis records "
                f"({self.duplicates:,} duplicate deliveries)"
            )
        if "firehose" in self.outputs:
            lines.append(f"{self.firehose_records:,} records in {self.firehose_events:,} Firehose events")
        if "export" in self.outputs:
            lines.append(f"{self.export_objects:,} export data objects")
        return lines


def _clear_previous(folder: Path, kind: str) -> None:
    if not folder.is_dir():
        return
    pattern = _OWN_FILES[kind]
    for path in sorted(folder.rglob("*")):
        if path.is_file() and pattern.match(path.name):
            path.unlink()


class _KinesisFiles:
    """One JSONL file per shard: `kinesis/shard-<shardId>.jsonl`."""

    def __init__(self, folder: Path, shards: int, stack: ExitStack) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, IO[str]] = {}
        for i in range(shards):
            shard = shard_id_of(i)
            self._files[shard] = stack.enter_context(
                (folder / f"shard-{shard}.jsonl").open("w", encoding="utf-8")
            )

    def write(self, record: KinesisRecord) -> None:
        line = (
            f'{{"shardId":"{record.shard_id}","sequenceNumber":"{record.sequence_number}",'
            f'"partitionKey":"{record.partition_key}",'
            f'"approximateArrivalTimestamp":{record.arrival_ms // 1000}.{record.arrival_ms % 1000:03d},'
            f'"data":"{base64.b64encode(record.data).decode("ascii")}"}}\n'
        )
        self._files[record.shard_id].write(line)


def write_simulation(
    out_dir: Path,
    config: SimulationConfig,
    *,
    outputs: frozenset[str] = ALL_OUTPUTS,
    progress: ProgressReporter = NULL_PROGRESS,
) -> SimulationSummary:
    """Simulate a DMV ledger and write the chosen outputs under `out_dir` (see docs/files.md).

    Args:
        out_dir: folder to write into (created if missing); outputs go to its `kinesis/`,
            `firehose/`, `export/` and `truth/` subfolders.
        config: the simulation; the same config and outputs give byte-identical files.
        outputs: a subset of `ALL_OUTPUTS`.
        progress: receives one task, counted in revisions.

    Returns:
        The run's summary (also written to `truth/summary.json` when "truth" is an output).

    Raises:
        SimulationConfigError: `outputs` names an unknown output or none.
    """
    unknown = sorted(set(outputs) - ALL_OUTPUTS)
    if unknown or not outputs:
        raise SimulationConfigError(
            "outputs", f"{', '.join(unknown) or '(none)'}: choose from {', '.join(sorted(ALL_OUTPUTS))}"
        )
    names = ledger_names(config)
    for kind in sorted(outputs):
        _clear_previous(out_dir / kind, kind)
    out_dir.mkdir(parents=True, exist_ok=True)

    counts: dict[str, dict[str, int]] = {
        t.name: {"live": 0, "deleted": 0, "redacted": 0} for t in names.tables
    }
    finals: dict[str, int] = {t.name: 0 for t in names.tables}
    figures = Counter[str]()
    tip: list[Block] = []
    digest = IncrementalMerkle()
    progress.start("simulate", total=config.revisions, unit="revisions")
    with ExitStack() as stack:
        truth = TruthWriter(out_dir / "truth") if "truth" in outputs else None
        export = None
        if "export" in outputs:
            export = ExportWriter(
                out_dir / "export",
                fmt=config.export_format,
                blocks_per_object=config.export_blocks_per_object,
                export_id=names.export_id,
                strand_id=names.strand_id,
                ledger_name=names.ledger_name,
                prefix=config.export_prefix,
                start_ms=datetime_to_ms(config.start_time),
            )

        def blocks() -> Iterator[Block]:
            for simulated in simulate_blocks(config):
                block = simulated.block
                for revision in block.revisions:
                    counts[revision.table_name or ""][revision.kind.value] += 1
                for revision in simulated.settled:
                    finals[revision.table_name or ""] += 1
                if truth is not None:
                    truth.add_block(block)
                    truth.add_final(simulated.settled)
                if export is not None:
                    export.add(block)
                figures["blocks"] += 1
                figures["revisions"] += len(block.revisions)
                if (
                    block.transaction_info is not None and block.revisions
                ) or block.redaction_info is not None:
                    figures["transactions"] += 1
                tip[:] = [block]
                digest.add(block.block_hash)
                progress.advance(len(block.revisions))
                yield block

        try:
            if "kinesis" in outputs or "firehose" in outputs:
                _write_stream(out_dir, config, names, outputs, blocks(), figures, stack)
            else:
                for _ in blocks():
                    pass
        except BaseException:
            for writer in (truth, export):
                if writer is not None:
                    writer.abort()
            raise
        if export is not None:
            export.close()
            figures["export_objects"] = export.objects
        last = tip[0]
        summary = SimulationSummary(
            seed=config.seed,
            revisions=figures["revisions"],
            transactions=figures["transactions"],
            blocks=figures["blocks"],
            tip=last.address,
            tip_block_hash=last.block_hash,
            digest=digest.root(),
            counts=counts,
            final_documents=finals,
            outputs=tuple(sorted(outputs)),
            stream_records=figures["stream_records"],
            kinesis_records=figures["kinesis_records"],
            duplicates=figures["duplicates"],
            firehose_events=figures["firehose_events"],
            firehose_records=figures["firehose_records"],
            export_objects=figures["export_objects"],
            names=names,
        )
        if truth is not None:
            truth.close(summary.to_json())
    progress.finish()
    return summary


def _write_stream(
    out_dir: Path,
    config: SimulationConfig,
    names: LedgerNames,
    outputs: frozenset[str],
    blocks: Iterator[Block],
    figures: Counter[str],
    stack: ExitStack,
) -> None:
    """Stream records -> Kinesis deliveries -> shard files and Firehose events."""
    files = _KinesisFiles(out_dir / "kinesis", config.shards, stack) if "kinesis" in outputs else None
    firehose_dir = out_dir / "firehose"
    if "firehose" in outputs:
        firehose_dir.mkdir(parents=True, exist_ok=True)

    def counted_records() -> Iterator[TimedRecord]:
        for timed in stream_records(
            blocks, stream_arn=names.stream_arn, stream_id=names.stream_id, completed=config.stream_completed
        ):
            figures["stream_records"] += 1
            yield timed

    def delivered() -> Iterator[KinesisRecord]:
        for record in deliver(counted_records(), config, stage_rng(config, "delivery")):
            figures["kinesis_records"] += 1
            figures["duplicates"] += record.duplicate
            if files is not None:
                files.write(record)
            yield record

    if "firehose" not in outputs:
        for _ in delivered():
            pass
        return
    events = firehose_events(
        delivered(),
        mode=config.firehose_mode,
        delivery_stream_arn=names.firehose_arn,
        source_stream_arn=names.kinesis_stream_arn,
        region=config.region,
        max_records=config.firehose_max_records,
        buffer_bytes=config.firehose_buffer_bytes,
        rng=stage_rng(config, "firehose"),
    )
    for number, event in enumerate(events):
        (firehose_dir / f"event-{number:06d}.json").write_text(event.text, encoding="utf-8")
        figures["firehose_events"] += 1
        figures["firehose_records"] += event.records

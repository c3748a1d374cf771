"""The block-level simulation: a seeded DMV workload committed to a ledger, as an iterator of blocks.

`simulate_blocks` is the entry point for tests and other packages that want journal blocks
(`journal.records.Block`, the same model the parsers produce) without writing files. Every
random choice comes from `random.Random` streams derived from the seed, one per stage, so the
same config gives the same blocks, byte for byte once serialised.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from journal.simulate.dmv import TableInfo, new_id
from journal.simulate.ledger import Ledger
from journal.simulate.workload import Workload

if TYPE_CHECKING:
    from journal.records import Block, Revision
    from journal.simulate.config import SimulationConfig

__all__ = ["LedgerNames", "SimulatedBlock", "ledger_names", "simulate_blocks", "stage_rng"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def stage_rng(config: SimulationConfig, stage: str) -> random.Random:
    """The random stream of one stage (`workload`, `ledger`, `delivery`, ...) of a run.

    Seeding with a string is stable across processes and Python versions (it is hashed with
    SHA-512, not with `hash()`), and separate stages keep the journal identical whatever the
    delivery knobs.
    """
    return random.Random(f"qldb-archive-simulate:{config.seed}:{stage}")


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerNames:
    """Names and ids of the simulated ledger and the AWS resources around it."""

    ledger_name: str
    strand_id: str
    stream_id: str
    stream_arn: str
    kinesis_stream_arn: str
    firehose_arn: str
    export_id: str
    tables: tuple[TableInfo, ...]


def ledger_names(config: SimulationConfig) -> LedgerNames:
    """The ids of a run (they depend on the seed only)."""
    rng = stage_rng(config, "names")
    strand_id, stream_id, export_id = new_id(rng), new_id(rng), new_id(rng)
    table_ids = {name: new_id(rng) for name in ("Person", "DriversLicense", "Vehicle", "VehicleRegistration")}
    region, account = config.region, config.account_id
    return LedgerNames(
        ledger_name=config.ledger_name,
        strand_id=strand_id,
        stream_id=stream_id,
        stream_arn=f"arn:aws:qldb:{region}:{account}:stream/{config.ledger_name}/{stream_id}",
        kinesis_stream_arn=f"arn:aws:kinesis:{region}:{account}:stream/{config.kinesis_stream_name}",
        firehose_arn=f"arn:aws:firehose:{region}:{account}:deliverystream/{config.firehose_stream_name}",
        export_id=export_id,
        tables=tuple(TableInfo(name, table_ids[name]) for name in config.tables),
    )


@dataclass(frozen=True, slots=True)
class SimulatedBlock:
    """One journal block in commit order, and the documents whose final state became known.

    Attributes:
        block: the block with its revisions (table names and ids set), system revisions as
            hash-only summaries, and `ion` = the block as a journal export writes it.
        settled: latest revisions of documents that will never change again (retired from the
            working set, or every live document at the end of the run), each in a block already
            yielded. Together they are the final state; deleted documents are never settled.
    """

    block: Block
    settled: tuple[Revision, ...] = ()


def simulate_blocks(config: SimulationConfig) -> Iterator[SimulatedBlock]:
    """Run the workload and yield every block of the journal, from sequence number 0 to the tip.

    Memory is bounded by `config.live_documents` and `config.redaction_window`, whatever
    `config.revisions`.

    >>> from journal.simulate.config import SimulationConfig
    >>> blocks = list(simulate_blocks(SimulationConfig(revisions=20, seed=3)))
    >>> sum(len(b.block.revisions) for b in blocks), blocks[0].block.block_seq
    (20, 0)
    """
    names = ledger_names(config)
    ledger = Ledger(
        strand_id=names.strand_id,
        start_ms=(config.start_time - _EPOCH) // dt.timedelta(milliseconds=1),
        mean_gap_ms=config.mean_transaction_gap_ms,
        window=config.redaction_window,
        rng=stage_rng(config, "ledger"),
    )
    workload = Workload(config, stage_rng(config, "workload"), names.tables, ledger)
    waiting: list[tuple[int, int, Revision]] = []  # settled revisions whose block is still held back
    counter = 0

    def release(block: Block) -> SimulatedBlock:
        settled = []
        while waiting and waiting[0][0] <= block.block_seq:
            settled.append(heapq.heappop(waiting)[2])
        return SimulatedBlock(block, tuple(settled))

    for settled_now in workload.run():
        for revision in settled_now:
            heapq.heappush(waiting, (revision.block_seq, counter, revision))
            counter += 1
        for block in ledger.emit_ready():
            yield release(block)
    for block in ledger.emit_all():
        yield release(block)

"""A deterministic simulator of a QLDB DMV ledger and of everything QLDB and AWS made of it.

QLDB is retired, so test data comes from here: a seeded workload (the DMV sample's tables) is
committed to a journal with real QLDB hashes, then written as a QLDB stream delivered through
Kinesis (shards, KPL aggregation, duplicates, reordering), as Firehose transformation events,
as a journal export, and as ground truth. The same `SimulationConfig` gives byte-identical
output; memory stays bounded whatever the number of revisions.

Modules, one job each: `config` (knobs), `dmv` (tables, documents, ids, statements),
`ion_build` (parsed-Ion values), `workload` (which transactions), `ledger` (blocks and hashes),
`simulation` (the block iterator), `stream` (stream records), `kinesis` (delivery), `firehose`
(events), `journal_export` (export folders), `truth` (ground truth) and `writers`
(`write_simulation`).

>>> from journal.simulate import SimulationConfig, simulate_blocks
>>> blocks = [s.block for s in simulate_blocks(SimulationConfig(revisions=5, seed=7))]
>>> all(b.previous_block_hash == a.block_hash for a, b in zip(blocks, blocks[1:]))
True
"""

from __future__ import annotations

from journal.simulate.config import (
    ALL_OUTPUTS,
    ALL_TABLES,
    ExportFormat,
    FirehoseMode,
    OperationMix,
    SimulationConfig,
    TableName,
    export_format_from_str,
)
from journal.simulate.errors import SimulationConfigError
from journal.simulate.kinesis import KinesisRecord, deliver
from journal.simulate.ledger import EMPTY_DATA_HASH
from journal.simulate.simulation import LedgerNames, SimulatedBlock, ledger_names, simulate_blocks, stage_rng
from journal.simulate.stream import TimedRecord, stream_records
from journal.simulate.truth import revision_row
from journal.simulate.writers import SimulationSummary, write_simulation

__all__ = [
    "ALL_OUTPUTS",
    "ALL_TABLES",
    "EMPTY_DATA_HASH",
    "ExportFormat",
    "FirehoseMode",
    "KinesisRecord",
    "LedgerNames",
    "OperationMix",
    "SimulatedBlock",
    "SimulationConfig",
    "SimulationConfigError",
    "SimulationSummary",
    "TableName",
    "TimedRecord",
    "deliver",
    "export_format_from_str",
    "ledger_names",
    "revision_row",
    "simulate_blocks",
    "stage_rng",
    "stream_records",
    "write_simulation",
]

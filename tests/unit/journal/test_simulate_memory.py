"""The simulator runs in bounded memory: ten times the revisions, the same peak RSS; bounded buffers."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap

import pytest

from journal.simulate import OperationMix, SimulationConfig
from journal.simulate.dmv import TableInfo
from journal.simulate.ledger import Ledger
from journal.simulate.workload import Workload

resource = pytest.importorskip("resource")  # peak RSS; POSIX only

# The whole stream path (blocks -> stream records -> Kinesis delivery -> Firehose events), with
# a small working set so that both runs reach their steady state early; output is discarded.
SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from journal.simulate import (
        SimulationConfig, deliver, ledger_names, simulate_blocks, stage_rng, stream_records,
    )
    from journal.simulate.firehose import firehose_events

    config = SimulationConfig(revisions=int(sys.argv[1]), seed=21, live_documents=500, redaction_window=32)
    names = ledger_names(config)
    blocks = (s.block for s in simulate_blocks(config))
    records = stream_records(blocks, stream_arn=names.stream_arn, stream_id=names.stream_id, completed=True)
    delivered = deliver(records, config, stage_rng(config, "delivery"))
    events = firehose_events(
        delivered, mode="kinesis", delivery_stream_arn="arn:f", source_stream_arn="arn:k", region="us-east-1",
        max_records=500, buffer_bytes=1_048_576, rng=stage_rng(config, "firehose"),
    )
    count = sum(e.records for e in events)
    print(json.dumps({"peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "records": count}))
    """
)


def peak_kib(revisions: int) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(revisions)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads(proc.stdout)
    assert result["records"] > revisions
    return int(result["peak_kib"])


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_the_history() -> None:
    # GIVEN a run and one ten times longer, both past the working set's steady state
    small = peak_kib(3_000)
    large = peak_kib(30_000)
    # THEN the longer run needs at most a few MiB more (allocator noise), not ten times the history
    assert large - small < 12 * 1024, (small, large)


@pytest.mark.parametrize("redact", [0.0, 0.5])
def test_the_ledger_holds_back_only_its_window(redact: float) -> None:
    # GIVEN a ledger with a small redaction window, with and without redactions to consume it
    config = SimulationConfig(revisions=2_000, seed=2, redaction_window=8, mix=OperationMix(redact=redact))
    ledger = Ledger(strand_id="s" * 22, start_ms=0, mean_gap_ms=100, window=8, rng=random.Random(1))
    tables = tuple(TableInfo(name, name[:1] * 22) for name in config.tables)
    workload = Workload(config, random.Random(2), tables, ledger)
    emitted = 0
    for _ in workload.run():
        emitted += sum(1 for _ in ledger.emit_ready())
        blocks, redactable = ledger.held_back
        # THEN what it keeps never grows with the history
        assert blocks <= 8
        assert redactable <= 8 * config.max_documents_per_transaction
    assert emitted + ledger.held_back[0] == ledger.blocks

"""A simulated ledger archived through the real transform and local Firehose, with its ground truth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from athena.local import LocalEngine
from firehose_transform.local_firehose import events_from_path, run_local_firehose
from journal.simulate import SimulationConfig, SimulationSummary, write_simulation


@dataclass(frozen=True, slots=True)
class Archived:
    """A simulated ledger's archive folder and its ground truth."""

    sim: Path
    archive: Path
    summary: SimulationSummary

    def truth(self, name: str) -> list[dict[str, Any]]:
        lines = (self.sim / "truth" / f"{name}.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]


@pytest.fixture(scope="session")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Archived:
    """1,000 revisions: duplicates, out-of-order delivery, deletes and redactions, archived."""
    root = tmp_path_factory.mktemp("athena")
    config = SimulationConfig(revisions=1000, seed=7, duplicate_rate=0.08, out_of_order_window=32)
    summary = write_simulation(root / "sim", config, outputs=frozenset({"firehose", "truth"}))
    run_local_firehose(events_from_path(root / "sim"), str(root / "archive"))
    return Archived(root / "sim", root / "archive", summary)


@pytest.fixture(scope="session")
def engine(archived: Archived) -> Iterator[LocalEngine]:
    with LocalEngine.open(archived.archive) as opened:
        yield opened


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's in-process AWS, with dummy credentials in us-east-1 (never real ones)."""
    moto = pytest.importorskip("moto")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        yield

"""Tests of the QLDB target's worker, run by the qldb environment's Python (`make qldb-test`).

They need pyqldb, which only that environment has (its pins cannot share the project's); the
main environment's pytest leaves this folder to it. In the qldb environment, a missing pyqldb
fails them.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

collect_ignore_glob = [] if importlib.util.find_spec("pyqldb") else ["test_*.py"]

if Path(sys.executable).parent.parent.name == ".venv-qldb" and not importlib.util.find_spec("pyqldb"):
    raise RuntimeError("the qldb environment has no pyqldb: rebuild it with `make qldb-env`")


@pytest.fixture(autouse=True)
def dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials: the double is the only endpoint."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

"""Shared fixtures: where the reference data in ../shared/testdata lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("QLDB_ARCHIVE_SHARED", REPO.parent / "shared"))
TESTDATA = SHARED / "testdata"
QLDB_REAL = TESTDATA / "qldb-real"
ION_HASH_TESTS = TESTDATA / "ion-hash-test"


@pytest.fixture(scope="session")
def qldb_real() -> Path:
    """Folder of real QLDB output (see its VECTORS.md)."""
    if not QLDB_REAL.is_dir():
        pytest.fail(f"reference data not found at {QLDB_REAL}; set QLDB_ARCHIVE_SHARED to the shared/ folder")
    return QLDB_REAL


@pytest.fixture(scope="session")
def ion_hash_tests() -> Path:
    """Folder of the Ion Hash conformance suite."""
    if not ION_HASH_TESTS.is_dir():
        pytest.fail(f"Ion Hash suite not found at {ION_HASH_TESTS}; set QLDB_ARCHIVE_SHARED")
    return ION_HASH_TESTS

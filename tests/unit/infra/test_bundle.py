"""The Lambda bundle: platform wheels with amazon-ion's compiled extension, our two packages, nothing heavy.

Needs no CDK (only pip, and PyPI on the first build; later builds reuse infra/build/).
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra.bundle import (
    LIVE_DISTRIBUTIONS,
    LIVE_PACKAGES,
    Architecture,
    LambdaBundle,
    build_lambda_bundle,
    lambda_requirements,
)
from infra.native import NATIVE_MODULES, host_architecture

ELF_MACHINE = {"x86_64": 0x3E, "arm64": 0xB7}


@pytest.fixture(scope="module", params=["x86_64", "arm64"])
def bundle(request: pytest.FixtureRequest) -> LambdaBundle:
    arch: Architecture = request.param
    built = build_lambda_bundle(arch)
    print(f"lambda bundle {arch}: {built.size_bytes / 1e6:.1f} MB unzipped")
    return built


def test_contains_ion_c_extension_for_the_platform(bundle: LambdaBundle) -> None:
    (ext,) = list((bundle.path / "amazon").glob("_ioncmodule*.so"))
    header = ext.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == ELF_MACHINE[bundle.architecture]
    (wheel,) = list(bundle.path.glob("amazon_ion-*.dist-info/WHEEL"))
    tags = [line.split(": ", 1)[1] for line in wheel.read_text().splitlines() if line.startswith("Tag: ")]
    machine = "x86_64" if bundle.architecture == "x86_64" else "aarch64"
    assert any(t.startswith("cp311-cp311-") and t.endswith(machine) and "manylinux" in t for t in tags), tags


def test_contains_our_packages_and_no_heavy_dependencies(bundle: LambdaBundle) -> None:
    names = {p.name for p in bundle.path.iterdir()}
    assert {"firehose_transform", "journal", "aws_lambda_powertools", "amazon", "orjson"} <= names
    assert (bundle.path / "firehose_transform" / "handler.py").is_file()
    for heavy in ("pyarrow", "boto3", "botocore", "duckdb", "athena", "restore", "qldb_archive", "infra"):
        assert heavy not in names, heavy
    assert not list(bundle.path.rglob("__pycache__"))
    assert bundle.size_bytes < 250 * 1024 * 1024  # Lambda's unzipped limit


def test_requirements_come_from_pyproject() -> None:
    specs = lambda_requirements()
    names = [re.split(r"[<>=!~ ;\[]", s, maxsplit=1)[0] for s in specs]
    assert names == ["amazon-ion", "aws-lambda-powertools", "orjson"]
    assert specs[0] == "amazon-ion>=0.15,<0.16"  # pinned as pyproject pins it


def test_cached(bundle: LambdaBundle) -> None:
    again = build_lambda_bundle(bundle.architecture)
    assert again.path == bundle.path
    assert not again.downloaded


@pytest.fixture(scope="module")
def host_bundle() -> LambdaBundle:
    """The bundle for this machine's architecture: the one that can be imported here."""
    host = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[
        platform.machine().lower()
    ]
    arch: Architecture = "arm64" if host == "arm64" else "x86_64"
    if sys.version_info[:2] != (3, 11):
        message = f"the Lambda bundle is for CPython 3.11; this is {platform.python_version()}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message + ": run the tests with Python 3.11")
    return build_lambda_bundle(arch)


def test_handler_imports_from_the_bundle_alone(host_bundle: LambdaBundle) -> None:
    """In an interpreter without site-packages, the handler imports and Ion uses its C extension."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import firehose_transform.handler as h; from amazon.ion import simpleion;"
        "assert simpleion.c_ext, 'pure-Python Ion';"
        "assert 'pyarrow' not in sys.modules and 'boto3' not in sys.modules;"
        "import journal.records as r, firehose_transform.normalise as n;"
        "print(h.lambda_handler.__name__, r.__file__.endswith('.so'), n.__file__.endswith('.so'))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code, str(Path(host_bundle.path))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # the transform's hot modules run compiled (infra.native), needing nothing but the bundle
    assert done.stdout.strip() == "lambda_handler True True", host_bundle.native_reason


def test_a_bundle_for_another_architecture_is_pure_python(bundle: LambdaBundle) -> None:
    """No cross-compiling: the other architecture's bundle carries the sources only, and says why."""
    if bundle.architecture == host_architecture():
        assert len(bundle.native) == len(NATIVE_MODULES) + 1, bundle.native_reason
        assert all((bundle.path / rel).is_file() for rel in bundle.native)
    else:
        assert bundle.native == ()
        assert bundle.native_reason is not None
        assert bundle.architecture in bundle.native_reason
        assert not list(bundle.path.glob("journal/*.so"))


# The live replication bundle: the restore's targets and both database drivers, still no DuckDB or pyarrow


def build_live(arch: Architecture) -> LambdaBundle:
    return build_lambda_bundle(arch, packages=LIVE_PACKAGES, distributions=LIVE_DISTRIBUTIONS, name="live")


@pytest.fixture(scope="module", params=["x86_64", "arm64"])
def live_bundle(request: pytest.FixtureRequest) -> LambdaBundle:
    return build_live(request.param)


def test_live_bundle_contents(live_bundle: LambdaBundle) -> None:
    names = {p.name for p in live_bundle.path.iterdir()}
    assert {
        "restore",
        "journal",
        "firehose_transform",
        "athena",
        "pymysql",
        "psycopg",
        "psycopg_binary",
    } <= names
    for heavy in ("pyarrow", "boto3", "botocore", "duckdb", "qldb_archive", "infra"):
        assert heavy not in names, heavy
    (ext,) = list((live_bundle.path / "psycopg_binary").glob("pq.cpython-311-*.so"))
    assert int.from_bytes(ext.read_bytes()[18:20], "little") == ELF_MACHINE[live_bundle.architecture]
    assert live_bundle.size_bytes < 250 * 1024 * 1024


def test_live_requirements_come_from_pyproject() -> None:
    specs = lambda_requirements(distributions=LIVE_DISTRIBUTIONS)
    assert specs[-2:] == ("pymysql>=1.1", "psycopg[binary]>=3.2")


def test_live_handler_imports_from_the_bundle_alone(host_bundle: LambdaBundle) -> None:
    """The live handler and both targets import without site-packages; psycopg uses its binary libpq."""
    live = build_live(host_bundle.architecture)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import restore.live as h, restore.targets.mysql, restore.targets.postgresql, psycopg;"
        "from amazon.ion import simpleion; assert simpleion.c_ext, 'pure-Python Ion';"
        "assert psycopg.pq.__impl__ == 'binary', psycopg.pq.__impl__;"
        "assert not {'pyarrow', 'duckdb', 'boto3'} & set(sys.modules), 'heavy import';"
        "print(h.lambda_handler.__name__)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code, str(live.path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "lambda_handler"

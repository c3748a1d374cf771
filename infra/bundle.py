"""Build the transformation Lambda's code folder: platform wheels for the runtime, plus our two packages.

The Lambda runs `firehose_transform.handler.lambda_handler`, which needs `firehose_transform`,
`journal` and their runtime dependencies, amazon-ion (with its C extension) and
aws-lambda-powertools, and nothing else: not pyarrow, boto3 or duckdb (the handler imports
neither; a test checks the bundle). As Powertools builds its layer
(`tests/e2e/utils/lambda_layer/powertools_layer.py`), the wheels come from
``pip install --platform manylinux2014_<arch> --implementation cp --python-version 3.11
--only-binary=:all: --target DIR``: the wheels for the Lambda runtime and architecture, whatever
machine builds the bundle, so amazon-ion's compiled extension loads in Lambda. Trap: a plain
``pip install --target`` on a developer's Mac would ship a macOS extension, and amazon-ion would
fall back to its pure-Python reader (20-60x slower) or fail to import.

The bundle is a plain folder given to ``lambda_.Code.from_asset``, so ``cdk synth`` needs no
Docker. The wheels are cached under ``infra/build/`` keyed by the requirement specifiers, the
platform and the Python version, so only the first build downloads from PyPI; the sources are
copied again only when their content changes.

Requirement specifiers are read from ``pyproject.toml`` (`LAMBDA_DISTRIBUTIONS`), never retyped.

The live replication Lambda (`restore.live.lambda_handler`, infra/components/live_replication.py)
is built the same way with `LIVE_PACKAGES` and `LIVE_DISTRIBUTIONS`: ``restore`` and ``athena``
too, and the two database drivers, PyMySQL (pure Python) and psycopg with its ``binary`` extra
(psycopg-binary's manylinux wheels carry libpq, so no system library is needed). ``restore`` and
``athena`` import DuckDB and pyarrow lazily (the restore runner, the local engine), so neither
goes in; boto3 (for Secrets Manager and SQS) is the Lambda runtime's.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from infra.native import SOURCE_PACKAGES, NativeBuild, NativeBuildError, build_native, native_unavailable

__all__ = [
    "BUILD_DIR",
    "LAMBDA_DISTRIBUTIONS",
    "LAMBDA_PACKAGES",
    "LIVE_DISTRIBUTIONS",
    "LIVE_PACKAGES",
    "PYTHON_VERSION",
    "REPO_ROOT",
    "Architecture",
    "LambdaBundle",
    "build_lambda_bundle",
    "bundle_size",
    "lambda_requirements",
    "platform_tag",
]

logger = logging.getLogger(__name__)

Architecture = Literal["x86_64", "arm64"]
"""Lambda architectures, spelled as Lambda spells them."""

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
BUILD_DIR: Final = Path(__file__).resolve().parent / "build"
"""Cached wheels and built bundles (git-ignored)."""

PYTHON_VERSION: Final = "3.11"
"""The Lambda runtime's Python (``python3.11``): the C extension's ABI (cp311) must match it."""

LAMBDA_PACKAGES: Final = ("firehose_transform", "journal")
"""Our packages in the bundle; nothing else of the repository goes in."""

LAMBDA_DISTRIBUTIONS: Final = ("amazon-ion", "aws-lambda-powertools", "orjson")
"""The runtime dependencies of `LAMBDA_PACKAGES`, by distribution name as pyproject lists them.

orjson: `firehose_transform.normalise` serialises rows with it. A name pyproject does not list
(yet) is installed unpinned, so the bundle still imports (a test runs the handler from it)."""

LIVE_PACKAGES: Final = ("athena", "firehose_transform", "journal", "restore")
"""Our packages in the live replication bundle (``restore`` reads ``athena``'s light modules too)."""

LIVE_DISTRIBUTIONS: Final = (*LAMBDA_DISTRIBUTIONS, "pymysql", "psycopg")
"""The live bundle's runtime dependencies: the transform's, and the MySQL and PostgreSQL drivers."""

_PLATFORMS: Final[dict[str, str]] = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
_NAME: Final = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True, slots=True)
class LambdaBundle:
    """A built Lambda code folder.

    Attributes:
        path: the folder to give ``lambda_.Code.from_asset``.
        architecture: the Lambda architecture its wheels are for.
        size_bytes: the unzipped size (Lambda allows 250 MB with layers).
        downloaded: True when this build ran pip (the cache missed).
        native: the modules compiled by mypyc it carries beside their sources (`infra.native`);
            empty when it is pure Python (`native_reason` says why).
        native_reason: why the bundle has no compiled modules, or None.
    """

    path: Path
    architecture: Architecture
    size_bytes: int
    downloaded: bool
    native: tuple[Path, ...] = ()
    native_reason: str | None = None


def platform_tag(architecture: Architecture) -> str:
    """The manylinux platform pip installs wheels for.

    >>> platform_tag("x86_64"), platform_tag("arm64")
    ('manylinux2014_x86_64', 'manylinux2014_aarch64')
    """
    return _PLATFORMS[architecture]


def lambda_requirements(
    pyproject: Path = REPO_ROOT / "pyproject.toml", distributions: tuple[str, ...] = LAMBDA_DISTRIBUTIONS
) -> tuple[str, ...]:
    """The requirement specifiers of `distributions`, as ``pyproject.toml`` declares them.

    A distribution pyproject does not list is given by its bare name (latest release).
    """
    deps: list[str] = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    by_name: dict[str, str] = {}
    for spec in deps:
        match = _NAME.match(spec)
        if match:
            by_name[match.group(1).lower().replace("_", "-")] = spec
    return tuple(by_name.get(name, name) for name in distributions)


def _digest(parts: list[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:16]


def _source_files(root: Path, packages: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for package in packages:
        files += [
            p
            for p in sorted((root / package).rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        ]
    return files


def bundle_size(path: Path) -> int:
    """Total bytes of the files under `path` (the unzipped size Lambda counts)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _install_wheels(target: Path, requirements: tuple[str, ...], architecture: Architecture) -> None:
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--platform",
        platform_tag(architecture),
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--target",
        str(tmp),
        *requirements,
    ]
    logger.info("installing Lambda wheels", extra={"command": command})
    subprocess.run(command, check=True)
    tmp.rename(target)  # atomic: an interrupted pip leaves no half-filled cache entry


def build_lambda_bundle(
    architecture: Architecture = "x86_64",
    *,
    root: Path = REPO_ROOT,
    build_dir: Path = BUILD_DIR,
    packages: tuple[str, ...] = LAMBDA_PACKAGES,
    distributions: tuple[str, ...] = LAMBDA_DISTRIBUTIONS,
    name: str = "lambda",
    native: bool = True,
) -> LambdaBundle:
    """Build (or reuse) the Lambda code folder for `architecture`.

    Args:
        architecture: ``x86_64`` or ``arm64``; picks the manylinux wheels.
        root: the repository root (the packages and pyproject.toml).
        build_dir: where wheels and bundles are cached.
        packages: our packages to copy in (the transform's by default; `LIVE_PACKAGES`).
        distributions: their runtime dependencies (`LAMBDA_DISTRIBUTIONS`; `LIVE_DISTRIBUTIONS`).
        name: the bundle folder's prefix; one bundle per name and architecture is kept.
        native: add the transform's modules compiled by mypyc (`infra.native`) where this
            machine can build them for `architecture`; else, or with False, pure Python (the
            same behaviour, ~1.7x slower), with a warning saying why.

    Returns:
        The bundle folder: the wheels of `lambda_requirements` plus the packages' sources.

    Raises:
        subprocess.CalledProcessError: pip failed (offline on a first build, or no wheel for the
            platform: every dependency must ship one, --only-binary forbids building).
    """
    requirements = lambda_requirements(root / "pyproject.toml", distributions)
    deps_key = _digest(
        [platform_tag(architecture).encode(), PYTHON_VERSION.encode(), *map(str.encode, requirements)]
    )
    deps = build_dir / f"wheels-{architecture}-{deps_key}"
    downloaded = False
    if not deps.is_dir():
        build_dir.mkdir(parents=True, exist_ok=True)
        _install_wheels(deps, requirements, architecture)
        downloaded = True
    sources = _source_files(root, packages)
    compiled, native_reason = _native(architecture, root, packages) if native else (None, "not asked for")
    native_files = () if compiled is None else compiled.files
    src_key = _digest(
        [deps_key.encode(), str(None if compiled is None else compiled.path.name).encode()]
        + [f"{p.relative_to(root)}".encode() + p.read_bytes() for p in sources]
    )
    bundle = build_dir / f"{name}-{architecture}-{src_key}"
    if not bundle.is_dir():
        tmp = bundle.with_name(bundle.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(deps, tmp, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for path in sources:
            dest = tmp / path.relative_to(root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        for rel in native_files:  # beside the sources, which they shadow
            shutil.copy2(compiled.path / rel, tmp / rel)  # type: ignore[union-attr]
        tmp.rename(bundle)
        for old in build_dir.glob(f"{name}-{architecture}-*"):  # keep one bundle per name and architecture
            if old != bundle:
                shutil.rmtree(old, ignore_errors=True)
    return LambdaBundle(bundle, architecture, bundle_size(bundle), downloaded, native_files, native_reason)


def _native(
    architecture: Architecture, root: Path, packages: tuple[str, ...]
) -> tuple[NativeBuild | None, str | None]:
    """The compiled modules for a bundle of `packages`, or None and why not (logged as a warning)."""
    if not set(SOURCE_PACKAGES) <= set(packages):
        return None, f"the bundle lacks {', '.join(sorted(set(SOURCE_PACKAGES) - set(packages)))}"
    reason = native_unavailable(architecture)
    if reason is None:
        try:
            return build_native(root=root), None
        except NativeBuildError as exc:
            reason = str(exc)
    logger.warning(
        "the %s bundle's transform modules are pure Python (about 1.7x slower): %s", architecture, reason
    )
    return None, reason


def main() -> None:
    """Build the bundle for ``sys.argv[1]`` (default x86_64) and print its folder and size."""
    arch: Architecture = "arm64" if sys.argv[1:] == ["arm64"] else "x86_64"
    bundle = build_lambda_bundle(arch)
    sys.stdout.write(f"{bundle.path}\t{bundle.size_bytes / 1e6:.1f} MB\n")


if __name__ == "__main__":
    main()

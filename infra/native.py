"""Compile the transform's hot modules with mypyc, for the Lambda bundle and the benchmark.

The transformation Lambda spends most of its time in pure Python: checking Ion framing before
amazon-ion's C reader sees the bytes, turning parsed values into the record model, writing the
revision's Ion text and JSON projection. mypyc (part of mypy, which type-checks this code
already) compiles those modules, as they are, into C extensions: on the DMV benchmark the
transform runs ~1.7x faster (`benchmarks/bench_handler.py` prints both). Nothing is rewritten:
the compiled modules are the same sources, and tests run the handler both ways on the same
corpora and compare every result (tests/integration/test_native_transform.py).

The compiled modules are built here, never beside the sources (a ``.so`` next to its ``.py``
would silently shadow edits to it), cached under ``infra/build/native-<digest>`` by the
sources, the interpreter and mypy's version. The Lambda bundle copies them next to the sources
(`infra.bundle.build_lambda_bundle`), where they shadow the ``.py`` files; a bundle that cannot
take them gets the pure-Python modules and a warning, and works the same, only slower:

- the bundle's architecture must be this machine's (no cross-compiling: an ``arm64`` bundle
  built on x86_64 is pure Python), and this interpreter CPython 3.11, the Lambda runtime's;
- the extensions must need no newer glibc than the Lambda runtime's (Amazon Linux 2, 2.26 for
  ``python3.11``): checked on their ELF symbol versions with ``objdump``, which comes with the
  compiler mypyc needs.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "LAMBDA_GLIBC",
    "NATIVE_MODULES",
    "NativeBuild",
    "NativeBuildError",
    "build_native",
    "glibc_required",
    "host_architecture",
    "native_unavailable",
]

logger = logging.getLogger(__name__)

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
BUILD_DIR: Final = Path(__file__).resolve().parent / "build"

NATIVE_MODULES: Final = (
    "journal/ion_framing.py",
    "journal/ion_values.py",
    "journal/records.py",
    "firehose_transform/ion_text.py",
    "firehose_transform/normalise.py",
)
"""The modules compiled: where the transform's Python time goes (profiled on the DMV corpus)."""

SOURCE_PACKAGES: Final = ("journal", "firehose_transform")
"""What mypyc reads: the compiled modules and every module of ours they import (type-checked)."""

LAMBDA_PYTHON: Final = (3, 11)
LAMBDA_GLIBC: Final = (2, 26)
"""glibc of the ``python3.11`` Lambda runtime (Amazon Linux 2): the newest symbol version allowed."""

_MYPY_INI: Final = """\
[mypy]
strict = True
python_version = 3.11
[mypy-amazon.*]
ignore_missing_imports = True
"""
_GLIBC: Final = re.compile(r"GLIBC_(\d+)\.(\d+)")
_ARCH: Final = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


class NativeBuildError(RuntimeError):
    """mypyc failed, or produced extensions the Lambda runtime could not load."""


@dataclass(frozen=True, slots=True)
class NativeBuild:
    """Compiled modules in copies of their packages under `path` (put it first on ``sys.path``).

    Attributes:
        path: the packages' sources with the extensions beside them
            (``journal/records.cpython-311-*.so``...), and mypyc's shared runtime library beside
            the packages. Whole packages: a folder holding only the extensions would not shadow
            the installed packages (Python takes a regular package over a namespace portion).
        files: the extensions, relative to `path` (what a bundle adds to its copied sources).
        built: True when this call compiled (the cache missed).
    """

    path: Path
    files: tuple[Path, ...]
    built: bool


def host_architecture() -> str:
    """This machine's architecture, spelled as Lambda spells it (``x86_64`` or ``arm64``)."""
    return _ARCH.get(platform.machine().lower(), platform.machine().lower())


def native_unavailable(architecture: str) -> str | None:
    """Why compiled modules cannot go into a bundle for `architecture`, or None when they can."""
    if sys.platform != "linux":
        return f"mypyc builds for this system ({sys.platform}), not Lambda's Linux"
    if architecture != host_architecture():
        return f"the bundle is for {architecture} and this machine is {host_architecture()}"
    if sys.version_info[:2] != LAMBDA_PYTHON:
        return f"the Lambda runtime is Python 3.11 and this is {platform.python_version()}"
    try:
        import mypyc  # noqa: F401
    except ImportError:
        return "mypyc is not installed (it comes with mypy: pip install -e '.[dev]')"
    if shutil.which("objdump") is None:
        return "objdump (binutils) is missing: the extensions' glibc versions cannot be checked"
    return None


def _sources(root: Path) -> list[Path]:
    return [
        p
        for package in SOURCE_PACKAGES
        for p in sorted((root / package).rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]


def _key(root: Path) -> str:
    import mypy.version

    h = hashlib.sha256()
    for part in (sys.version, platform.machine(), mypy.version.__version__, _MYPY_INI, *NATIVE_MODULES):
        h.update(part.encode() + b"\0")
    for path in _sources(root):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def glibc_required(extension: Path) -> tuple[int, int]:
    """The newest glibc symbol version `extension` links against ((0, 0) for none)."""
    out = subprocess.run(["objdump", "-T", str(extension)], capture_output=True, text=True, check=True).stdout
    return max(((int(a), int(b)) for a, b in _GLIBC.findall(out)), default=(0, 0))


def build_native(*, root: Path = REPO_ROOT, build_dir: Path = BUILD_DIR) -> NativeBuild:
    """Compile `NATIVE_MODULES` (or reuse the cached build of the same sources).

    Raises:
        NativeBuildError: `native_unavailable` says why not, mypyc failed (its output's tail is
            in the message), or an extension needs a newer glibc than the Lambda runtime's.
    """
    reason = native_unavailable(host_architecture())
    if reason is not None:
        raise NativeBuildError(reason)
    dest = build_dir / f"native-{_key(root)}"
    if dest.is_dir():
        return NativeBuild(dest, tuple(sorted(p.relative_to(dest) for p in dest.rglob("*.so"))), built=False)
    build_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tmp-native-", dir=build_dir) as tmp:
        work = Path(tmp) / "src"
        for path in _sources(root):
            target = work / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        (work / "mypy.ini").write_text(_MYPY_INI)
        logger.info("compiling the transform's modules with mypyc", extra={"modules": NATIVE_MODULES})
        done = subprocess.run(
            [sys.executable, "-m", "mypyc", *NATIVE_MODULES],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise NativeBuildError(f"mypyc failed (exit {done.returncode}):\n{tail}")
        out = Path(tmp) / "out"
        for package in SOURCE_PACKAGES:  # whole packages: a folder of extensions alone would not shadow them
            shutil.copytree(
                root / package, out / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        files: list[Path] = []
        for ext in sorted(work.rglob("*.so")):
            if "build" in ext.relative_to(work).parts:
                continue  # setuptools' intermediate copies; mypyc copies the results in place
            need = glibc_required(ext)
            if need > LAMBDA_GLIBC:
                raise NativeBuildError(
                    f"{ext.name} needs glibc {need[0]}.{need[1]}; the Lambda runtime has "
                    f"{LAMBDA_GLIBC[0]}.{LAMBDA_GLIBC[1]}"
                )
            rel = ext.relative_to(work)
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ext, out / rel)
            files.append(rel)
        if len(files) < len(NATIVE_MODULES):
            raise NativeBuildError(f"mypyc wrote {len(files)} extensions for {len(NATIVE_MODULES)} modules")
        shutil.rmtree(dest, ignore_errors=True)
        out.rename(dest)  # atomic: an interrupted build leaves no half-filled cache entry
    for old in build_dir.glob("native-*"):  # keep one build
        if old != dest and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return NativeBuild(dest, tuple(files), built=True)


def main() -> None:
    """Build (or reuse) the compiled modules and print their folder: ``PYTHONPATH=<it>`` uses them."""
    try:
        native = build_native()
    except NativeBuildError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None
    sys.stdout.write(f"{native.path}\n")


if __name__ == "__main__":
    main()

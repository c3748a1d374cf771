"""What every command shares: error rendering, exit codes, JSON output and option aliases."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Annotated, Any

import typer

from journal.errors import QldbArchiveError

log = logging.getLogger(__name__)


class ExitCode(IntEnum):
    """Exit codes of every command."""

    OK = 0
    CHECK_FAILED = 1
    UNUSABLE_INPUT = 2


JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document for machines instead of text.")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]


class Settings:
    """Process-wide switches set by the top-level callback."""

    debug: bool = False


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn a `QldbArchiveError` into one `error:` line and exit 2; tracebacks only with --debug."""
    try:
        yield
    except QldbArchiveError as exc:
        if Settings.debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(ExitCode.UNUSABLE_INPUT) from None
    except OSError as exc:  # a missing file or folder is unusable input, not a crash
        if Settings.debug:
            raise
        name = f": {exc.filename}" if exc.filename else ""
        typer.echo(f"error: {exc.strerror or exc}{name}", err=True)
        raise typer.Exit(ExitCode.UNUSABLE_INPUT) from None


EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--s3-endpoint-url",
        envvar="QLDB_ARCHIVE_S3_ENDPOINT_URL",
        help="S3 endpoint for s3:// URLs (an S3-compatible server, or a moto server in tests).",
    ),
]


def render_summary(summary: Any, *, as_json: bool) -> None:
    """Print a library summary dataclass: JSON for machines, `name: value` lines for people."""
    doc = dataclasses.asdict(summary)
    if as_json:
        echo_json(doc)
        return
    for name, value in doc.items():
        if isinstance(value, dict):
            value = (
                ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in value.items()) or "-"
            )
        elif isinstance(value, (list, tuple)):
            value = "; ".join(map(str, value)) or "-"
        elif isinstance(value, int) and not isinstance(value, bool):
            value = f"{value:,}"
        typer.echo(f"{name.replace('_', ' ')}: {value}")


@contextmanager
def quiet_lambda_logs() -> Iterator[None]:
    """Send the transformation handler's JSON logs to stderr, warnings only, while a command runs.

    stdout belongs to the command's own output (`--json`); the previous level and streams are
    restored afterwards, so embedding callers (and tests) keep their logging as it was.
    """
    from firehose_transform.handler import logger

    streams = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    saved_level, saved_streams = logger.log_level, [h.stream for h in streams]
    logger.setLevel(logging.WARNING)
    for handler in streams:
        handler.stream = _CurrentStderr()  # not setStream: it flushes the old, maybe closed, stream
    try:
        yield
    finally:
        logger.setLevel(saved_level)
        for handler, stream in zip(streams, saved_streams, strict=True):
            handler.stream = stream


class _CurrentStderr:
    """Whatever `sys.stderr` is at write time (test runners swap it between invocations)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def echo_json(doc: Any) -> None:
    """Print a JSON document on stdout."""
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")

"""What every command shares: error rendering, exit codes, JSON output and option aliases."""

from __future__ import annotations

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


def echo_json(doc: Any) -> None:
    """Print a JSON document on stdout."""
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")

"""Render a query result (a pyarrow Table) as a terminal table, CSV, JSON lines or Parquet."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from journal.errors import QldbArchiveError

if TYPE_CHECKING:
    import pyarrow as pa


class OutputFormat(StrEnum):
    """How a result is written."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="table (for people), csv, json (one object per line) or parquet."),
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file instead of stdout (required for parquet)."),
]
MAX_TABLE_ROWS = 200


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal | bytes):
        return str(value)
    return value


def write_result(table: pa.Table, fmt: OutputFormat, output: Path | None) -> None:
    """Write `table` in `fmt` to `output` (or stdout).

    Raises:
        QldbArchiveError: Parquet was asked for without an output file.
    """
    if fmt is OutputFormat.PARQUET:
        if output is None:
            raise QldbArchiveError("--format parquet needs --output FILE (Parquet is binary)")
        import pyarrow.parquet as pq

        pq.write_table(table, output, compression="snappy")
        return
    stream = sys.stdout if output is None else output.open("w", encoding="utf-8", newline="")
    try:
        if fmt is OutputFormat.CSV:
            import pyarrow.csv as pacsv

            buf = io.BytesIO()
            pacsv.write_csv(table, buf)
            stream.write(buf.getvalue().decode("utf-8"))
        elif fmt is OutputFormat.JSON:
            for row in table.to_pylist():
                stream.write(json.dumps({k: _jsonable(v) for k, v in row.items()}, ensure_ascii=False) + "\n")
        else:
            _write_rich(table, stream)
    finally:
        if output is not None:
            stream.close()


def _write_rich(table: pa.Table, stream: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    view = Table(show_lines=False, header_style="bold")
    for name in table.column_names:
        view.add_column(name, overflow="fold")
    for row in table.slice(0, MAX_TABLE_ROWS).to_pylist():
        view.add_row(*("" if v is None else str(_jsonable(v)) for v in row.values()))
    console = Console(file=stream, width=200 if not stream.isatty() else None)
    console.print(view)
    if table.num_rows > MAX_TABLE_ROWS:
        console.print(f"... {table.num_rows - MAX_TABLE_ROWS:,} more rows (use --format csv|json|parquet)")
    else:
        console.print(f"{table.num_rows:,} rows")

"""Athena as a query engine: the local engine's `query` and `unload`, run on Athena itself.

The restore's plan SQL (`restore/sql`) is Athena SQL that `athena.local.LocalEngine` runs on
DuckDB. For an archive too large to plan on one machine, `AthenaEngine` runs the same
statements on Athena, over the tables and views `qldb-archive athena deploy` created:

- `AthenaEngine.query` submits one statement with ``ExecutionParameters`` (each ``?`` value
  rendered as a Trino literal by `execution_parameter`), waits for it and reads its result set
  into Arrow, typed from the result's column metadata. For the plan's small answers (counts,
  conflicts, gaps).
- `AthenaEngine.unload` wraps a SELECT in ``UNLOAD ... TO 's3://...'`` (Parquet, Snappy,
  optionally partitioned by its last columns): how a large answer leaves Athena.

The client is a boto3 ``athena`` client, or anything with its three methods (`QueryApi`).
Nothing here can be run against Athena on a machine without AWS; what the tests check is the
SQL (the same statements, with the parameters substituted as Athena substitutes them, give the
same answers on DuckDB) and the calls (against moto's Athena).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import pyarrow as pa

from athena.errors import AthenaError
from athena.local import utc_naive

__all__ = [
    "MAX_PARAMETER_CHARS",
    "MAX_UNLOAD_PARTITIONS",
    "AthenaEngine",
    "AthenaQueryError",
    "QueryApi",
    "execution_parameter",
    "render_unload",
]

logger = logging.getLogger(__name__)

MAX_PARAMETER_CHARS: Final = 1024
"""The longest value ``ExecutionParameters`` takes (the API's length constraint)."""

MAX_UNLOAD_PARTITIONS: Final = 100
"""The most partitions one UNLOAD may write (Athena's limit, as for CTAS)."""


class AthenaQueryError(AthenaError):
    """An Athena query that failed, was cancelled, or whose answer cannot be read.

    Attributes:
        query_id: the query execution id (None when it never started).
        reason: Athena's reason, or what was wrong.
    """

    def __init__(self, reason: str, *, query_id: str | None, what: str) -> None:
        self.query_id, self.reason = query_id, reason
        where = f" (query {query_id})" if query_id else ""
        super().__init__(
            f"Athena could not run {what}{where}: {reason}. Its SQL and error are in the workgroup's "
            "query history; fix the cause and run again (nothing is applied before the plan is read)"
        )


class QueryApi(Protocol):
    """The boto3 Athena client methods `AthenaEngine` calls."""

    def start_query_execution(self, **kwargs: Any) -> dict[str, Any]: ...  # noqa: D102
    def get_query_execution(self, **kwargs: Any) -> dict[str, Any]: ...  # noqa: D102
    def get_query_results(self, **kwargs: Any) -> dict[str, Any]: ...  # noqa: D102


def _string_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def execution_parameter(value: object) -> str:
    """One ``?`` value as the Trino literal Athena's ``ExecutionParameters`` takes.

    Athena substitutes each parameter's text for its ``?``, so strings are quoted here (a quote
    doubled), timestamps are ``TIMESTAMP '...'`` (naive: UTC), and a sequence of strings is an
    ``ARRAY[...]`` (empty: typed, so ``contains`` resolves).

    Raises:
        ValueError: a type with no literal here, or a value longer than Athena takes.

    >>> execution_parameter("it's"), execution_parameter(5), execution_parameter([])
    ("'it''s'", '5', 'CAST(ARRAY[] AS ARRAY(VARCHAR))')
    """
    if value is None:
        text = "NULL"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = _string_literal(value)
    elif isinstance(value, dt.datetime):
        text = f"TIMESTAMP '{utc_naive(value).isoformat(sep=' ', timespec='milliseconds')}'"
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        items = ", ".join(_string_literal(v) for v in value)
        text = f"ARRAY[{items}]" if value else "CAST(ARRAY[] AS ARRAY(VARCHAR))"
    else:
        raise ValueError(f"no Athena literal for a parameter of type {type(value).__name__}")
    if len(text) > MAX_PARAMETER_CHARS:
        raise ValueError(
            f"a parameter of {len(text)} characters is longer than Athena takes ({MAX_PARAMETER_CHARS}); "
            "select fewer tables at once"
        )
    return text


def render_unload(select: str, *, output: str, partitioned_by: Sequence[str] = ()) -> str:
    """``UNLOAD (select) TO output`` as Parquet with Snappy, partitioned by these (last) columns.

    `output` must be an ``s3://`` prefix; quotes are refused, not escaped. Partition names are
    the SELECT's own column names (plain identifiers).

    >>> print(render_unload("SELECT 1 AS a", output="s3://b/p/", partitioned_by=["a"]))
    UNLOAD (
    SELECT 1 AS a
    ) TO 's3://b/p/' WITH (format = 'PARQUET', compression = 'SNAPPY', partitioned_by = ARRAY['a'])
    """
    if not output.startswith("s3://") or "'" in output:
        raise ValueError(f"UNLOAD needs an s3:// prefix without quotes, not {output!r}")
    if any(not name.isidentifier() for name in partitioned_by):
        raise ValueError(f"partition columns must be plain names, not {list(partitioned_by)!r}")
    options = "format = 'PARQUET', compression = 'SNAPPY'"
    if partitioned_by:
        options += ", partitioned_by = ARRAY[" + ", ".join(f"'{n}'" for n in partitioned_by) + "]"
    return f"UNLOAD (\n{select}\n) TO '{output}' WITH ({options})"


_ARROW_TYPES: Final[dict[str, pa.DataType]] = {
    "boolean": pa.bool_(),
    "tinyint": pa.int64(),
    "smallint": pa.int64(),
    "integer": pa.int64(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "float": pa.float64(),
    "real": pa.float64(),
    "timestamp": pa.timestamp("ms"),
    "date": pa.date32(),
}
"""Athena result types -> Arrow; anything else (varchar, json, arrays, decimals) stays text."""


def _value(text: str | None, kind: pa.DataType) -> object:
    """One result-set cell (Athena returns every value as text, NULL as a missing value)."""
    if text is None:
        return None
    if pa.types.is_boolean(kind):
        return text == "true"
    if pa.types.is_integer(kind):
        return int(text)
    if pa.types.is_floating(kind):
        return float(text)
    if pa.types.is_timestamp(kind):
        return dt.datetime.fromisoformat(text)
    if pa.types.is_date(kind):
        return dt.date.fromisoformat(text)
    return text


@dataclass(frozen=True, slots=True)
class AthenaEngine:
    """Runs Athena SQL on Athena, in a workgroup, against one Glue database.

    Attributes:
        client: the boto3 ``athena`` client.
        workgroup: the workgroup (its settings give the results location and encryption).
        database: the Glue database holding the archive's tables and views.
        poll_seconds: how long to wait between status checks.
    """

    client: QueryApi
    workgroup: str
    database: str
    poll_seconds: float = 1.0

    def run(self, sql: str, params: Sequence[object] = (), *, what: str = "a query") -> str:
        """Start one statement, wait until it ends; its execution id.

        Raises:
            AthenaQueryError: it failed or was cancelled.
            ValueError: a parameter has no Athena literal.
        """
        request: dict[str, Any] = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": self.database},
            "WorkGroup": self.workgroup,
        }
        if params:
            request["ExecutionParameters"] = [execution_parameter(p) for p in params]
        query_id = str(self.client.start_query_execution(**request)["QueryExecutionId"])
        logger.info("athena query started", extra={"query_id": query_id, "what": what})
        while True:
            status = self.client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                return query_id
            if state in ("FAILED", "CANCELLED"):
                reason = f"{state}: {status.get('StateChangeReason', 'no reason given')}"
                raise AthenaQueryError(reason, query_id=query_id, what=what)
            time.sleep(self.poll_seconds)

    def _pages(self, query_id: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            request: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": 1000}
            if token:
                request["NextToken"] = token
            page = self.client.get_query_results(**request)
            yield page
            token = page.get("NextToken")
            if not token:
                return

    def query(self, sql: str, params: Sequence[object] = (), *, what: str = "a query") -> pa.Table:
        """Run one SELECT and return its rows, typed from the result's column metadata.

        For small answers: the result API pages 1,000 rows at a time (use `unload` for more).

        Raises:
            AthenaQueryError: the query failed, or its answer is not what a SELECT returns.
        """
        query_id = self.run(sql, params, what=what)
        names: list[str] = []
        kinds: list[pa.DataType] = []
        columns: list[list[object]] = []
        header_seen = False
        for page in self._pages(query_id):
            result = page.get("ResultSet", {})
            if not names:
                info = result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
                names = [str(c["Name"]) for c in info]
                kinds = [_ARROW_TYPES.get(str(c.get("Type", "varchar")).lower(), pa.string()) for c in info]
                columns = [[] for _ in names]
            for row in result.get("Rows", []):
                cells = [d.get("VarCharValue") for d in row.get("Data", [])]
                if not header_seen:  # a SELECT's first row repeats the column names
                    header_seen = True
                    if cells == names:
                        continue
                if len(cells) != len(names):
                    raise AthenaQueryError(
                        f"a row of {len(cells)} values for {len(names)} columns", query_id=query_id, what=what
                    )
                for column, kind, cell in zip(columns, kinds, cells, strict=True):
                    column.append(_value(cell, kind))
        schema = pa.schema([pa.field(n, k) for n, k in zip(names, kinds, strict=True)])
        return pa.table(columns, schema=schema) if names else pa.table({})

    def unload(
        self,
        select: str,
        params: Sequence[object] = (),
        *,
        output: str,
        partitioned_by: Sequence[str] = (),
        what: str = "an UNLOAD",
    ) -> str:
        """Write a SELECT's rows as Parquet under `output` (an empty ``s3://`` prefix); the query id.

        Raises:
            AthenaQueryError: the UNLOAD failed (Athena refuses a prefix that holds objects).
        """
        return self.run(
            render_unload(select, output=output, partitioned_by=partitioned_by), params, what=what
        )

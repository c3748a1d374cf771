"""The Glue/Athena DDL of the archive's tables, rendered from the archive schema with partition projection.

The columns and their Glue types come from `firehose_transform.schema` (`columns_for`,
`glue_types`), the partition keys from `PARTITION_KEYS`: nothing is retyped here. The table reads
the archive root; partition projection computes the partitions from TBLPROPERTIES, so no crawler
and no ``MSCK REPAIR TABLE`` is needed
(https://docs.aws.amazon.com/athena/latest/ug/partition-projection.html).

Projection per key:

- ``p_ledger``, ``p_table``: ``enum`` of the sanitised names (`partition_value`, as the
  transform writes them) when they are known, else ``injected``. Trap: an injected key makes
  Athena refuse every query that does not pin it with ``=``, so the views (which read every
  table) need the enum; injected suits ad-hoc tables only.
- ``p_record_type``: ``enum`` of the one record type the table holds (``revision_details`` or
  ``block_summary``). The blocks table's ``p_table`` is the one sentinel ``_block``, raw (the
  transform writes it unsanitised; `partition_value` would make it ``%5Fblock``).
- ``p_date``: ``date``, ``yyyy-MM-dd``, one day per partition. The key stays a ``string``
  column: a DATE partition column does not survive the sqlglot/DuckDB side (Hive partition
  values are read back as strings there), and projection does not need it.

Hive DDL (``CREATE EXTERNAL TABLE``) runs on Athena's Hive engine: identifiers in backticks,
string literals escaped with backslashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from athena.views import check_database_name
from firehose_transform.schema import (
    BLOCK_TABLE,
    PARTITION_KEYS,
    Column,
    RecordType,
    columns_for,
    glue_types,
    partition_value,
)

__all__ = [
    "BLOCKS_TABLE",
    "DEFAULT_DATE_RANGE",
    "REVISIONS_TABLE",
    "blocks_columns",
    "projection_properties",
    "render_blocks_ddl",
    "render_revisions_ddl",
    "revisions_columns",
]

REVISIONS_TABLE: Final = "revisions"
"""The table of REVISION_DETAILS rows that the views read."""

BLOCKS_TABLE: Final = "blocks"
"""The table of BLOCK_SUMMARY rows (one per block, as delivered: copies possible) the health view reads."""

DEFAULT_DATE_RANGE: Final = ("2019-01-01", "NOW")
"""``projection.p_date.range``: QLDB streams exist since 2019; ``NOW`` is Athena's today (UTC)."""


def revisions_columns() -> tuple[Column, ...]:
    """The columns of the revisions table, in schema order."""
    return columns_for(RecordType.REVISION_DETAILS)


def blocks_columns() -> tuple[Column, ...]:
    """The columns of the blocks table, in schema order."""
    return columns_for(RecordType.BLOCK_SUMMARY)


def _hive_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _names_projection(key: str, names: Sequence[str] | None) -> dict[str, str]:
    if names is None:
        return {f"projection.{key}.type": "injected"}
    values = sorted({partition_value(n) for n in names})
    if not values:
        raise ValueError(f"{key}: give at least one name, or None for an injected projection")
    return {f"projection.{key}.type": "enum", f"projection.{key}.values": ",".join(values)}


def projection_properties(
    location: str,
    *,
    record_type: RecordType = RecordType.REVISION_DETAILS,
    ledgers: Sequence[str] | None = None,
    tables: Sequence[str] | None = None,
    date_range: tuple[str, str] = DEFAULT_DATE_RANGE,
) -> dict[str, str]:
    """The partition projection TBLPROPERTIES of one record type's table, one entry per key.

    Args:
        location: the archive root (``s3://bucket/prefix/``), the delivery stream's S3 prefix.
        record_type: the record type the table holds.
        ledgers: ledger names (as in QLDB); None for an injected projection.
        tables: QLDB table names (as in QLDB); None for an injected projection. Ignored for
            block summaries, whose ``p_table`` is always ``_block``.
        date_range: first and last ``p_date`` (``yyyy-MM-dd`` or ``NOW``).

    Raises:
        ValueError: an empty list of ledgers or tables.

    >>> props = projection_properties("s3://b/a/", ledgers=["l"], tables=["T"])
    >>> props["projection.p_record_type.values"], props["projection.p_table.values"]
    ('revision_details', 'T')
    """
    per_key: dict[str, dict[str, str]] = {
        "p_ledger": _names_projection("p_ledger", ledgers),
        "p_record_type": {
            "projection.p_record_type.type": "enum",
            "projection.p_record_type.values": record_type.value.lower(),
        },
        "p_table": (
            _names_projection("p_table", tables)
            if record_type is RecordType.REVISION_DETAILS
            # block summaries sit under one sentinel table, written raw (never sanitised)
            else {"projection.p_table.type": "enum", "projection.p_table.values": BLOCK_TABLE}
        ),
        "p_date": {
            "projection.p_date.type": "date",
            "projection.p_date.format": "yyyy-MM-dd",
            "projection.p_date.range": ",".join(date_range),
            "projection.p_date.interval": "1",
            "projection.p_date.interval.unit": "DAYS",
        },
    }
    props = {"projection.enabled": "true"}
    template = location.rstrip("/")
    for key in PARTITION_KEYS:  # KeyError here: a partition key was added without its projection
        props.update(per_key[key.name])
        template += f"/{key.name}=${{{key.name}}}"
    props["storage.location.template"] = template + "/"
    return props


def render_revisions_ddl(
    *,
    database: str,
    location: str,
    ledgers: Sequence[str] | None = None,
    tables: Sequence[str] | None = None,
    date_range: tuple[str, str] = DEFAULT_DATE_RANGE,
) -> str:
    """The ``CREATE EXTERNAL TABLE`` statement of the revisions table (Hive DDL, for Athena).

    Args:
        database: the Glue database (lower-case letters, digits, underscores).
        location: the archive root, ``s3://bucket/prefix/``.
        ledgers: ledger names for the ``p_ledger`` enum; None: injected.
        tables: QLDB table names for the ``p_table`` enum; None: injected.
        date_range: the ``p_date`` projection range.

    Raises:
        InvalidNameError: `database` is not a usable Glue name.
        ValueError: an empty list of ledgers or tables.

    >>> ddl = render_revisions_ddl(database="qldb", location="s3://b/a/", ledgers=["l"], tables=["T"])
    >>> ddl.splitlines()[0]
    'CREATE EXTERNAL TABLE IF NOT EXISTS `qldb`.`revisions` ('
    """
    props = projection_properties(location, ledgers=ledgers, tables=tables, date_range=date_range)
    return _render_table_ddl(
        database=database,
        table=REVISIONS_TABLE,
        columns=revisions_columns(),
        comment="QLDB REVISION_DETAILS rows of the qldb-archive Parquet archive",
        location=location,
        props=props,
    )


def render_blocks_ddl(
    *,
    database: str,
    location: str,
    ledgers: Sequence[str] | None = None,
    date_range: tuple[str, str] = DEFAULT_DATE_RANGE,
) -> str:
    """The ``CREATE EXTERNAL TABLE`` statement of the blocks table (BLOCK_SUMMARY rows, Hive DDL).

    Same archive root and projection as the revisions table, with ``p_record_type`` pinned to
    ``block_summary`` and ``p_table`` to ``_block``.

    Args:
        database: the Glue database (lower-case letters, digits, underscores).
        location: the archive root, ``s3://bucket/prefix/``.
        ledgers: ledger names for the ``p_ledger`` enum; None: injected.
        date_range: the ``p_date`` projection range.

    Raises:
        InvalidNameError: `database` is not a usable Glue name.
        ValueError: an empty list of ledgers.

    >>> render_blocks_ddl(database="qldb", location="s3://b/a/").splitlines()[0]
    'CREATE EXTERNAL TABLE IF NOT EXISTS `qldb`.`blocks` ('
    """
    props = projection_properties(
        location, record_type=RecordType.BLOCK_SUMMARY, ledgers=ledgers, date_range=date_range
    )
    return _render_table_ddl(
        database=database,
        table=BLOCKS_TABLE,
        columns=blocks_columns(),
        comment="QLDB BLOCK_SUMMARY rows of the qldb-archive Parquet archive",
        location=location,
        props=props,
    )


def _render_table_ddl(
    *,
    database: str,
    table: str,
    columns: Sequence[Column],
    comment: str,
    location: str,
    props: dict[str, str],
) -> str:
    types = glue_types()
    defs = ",\n".join(f"  `{c.name}` {types[c.name]} COMMENT {_hive_string(c.doc)}" for c in columns)
    partitions = ",\n".join(f"  `{k.name}` string COMMENT {_hive_string(k.doc)}" for k in PARTITION_KEYS)
    properties = ",\n".join(f"  {_hive_string(k)}={_hive_string(v)}" for k, v in props.items())
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `{check_database_name(database)}`.`{table}` (\n"
        f"{defs}\n)\n"
        f"COMMENT {_hive_string(comment)}\n"
        f"PARTITIONED BY (\n{partitions}\n)\n"
        f"STORED AS PARQUET\n"
        f"LOCATION {_hive_string(location.rstrip('/') + '/')}\n"
        f"TBLPROPERTIES (\n{properties}\n)"
    )

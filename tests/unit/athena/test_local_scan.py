"""The local engine reads a folder's objects with DuckDB's own Parquet reader, as Athena reads them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
import pytest

from athena.errors import EngineMemoryError
from athena.local import LocalEngine

if TYPE_CHECKING:
    from tests.unit.athena.conftest import Archived


def test_partition_keys_stay_as_the_folders_spell_them_and_older_objects_lack_columns(
    archived: Archived, tmp_path: Path
) -> None:
    # GIVEN a copy of an archive in which one table's folder holds an escaped name (as the
    # transform writes a table name with a slash) and one object was written without a column
    archive = tmp_path / "archive"
    shutil.copytree(archived.archive, archive)
    person = next(archive.rglob("p_record_type=revision_details/p_table=Person"))
    escaped = person.rename(person.with_name("p_table=Per%2Fson"))
    old_object = sorted(escaped.rglob("*.parquet"))[0]
    table = pq.read_table(old_object)
    pq.write_table(table.drop_columns(["kinesis_arrival_time"]), old_object)
    with (
        LocalEngine.open(archived.archive) as original,
        LocalEngine.open(archive, memory_limit="64MB") as engine,
    ):
        # WHEN the revisions are read THEN the key is the folder's text, not its URI decoding
        tables = dict(engine.con.sql("SELECT p_table, count(*) FROM main.revisions GROUP BY 1").fetchall())
        expected = dict(
            original.con.sql("SELECT p_table, count(*) FROM main.revisions GROUP BY 1").fetchall()
        )
        expected["Per%2Fson"] = expected.pop("Person")
        assert tables == expected
        # AND the older object's rows read the missing column as NULL, the others keep theirs
        nulls = engine.con.sql(
            "SELECT count(*) FILTER (WHERE kinesis_arrival_time IS NULL), count(*) FROM main.revisions"
        ).fetchall()[0]
        assert nulls == (table.num_rows, sum(expected.values()))
        assert table.column("kinesis_arrival_time").null_count == 0
        # AND the views read the same documents as before
        current = engine.current().sort_by("doc_id").column("doc_id").to_pylist()
        assert current == original.current().sort_by("doc_id").column("doc_id").to_pylist()


def test_a_memory_limit_is_a_size_or_refused(archived: Archived) -> None:
    with LocalEngine.open(archived.archive, memory_limit="64MB") as engine:
        engine.set_memory_limit("96MB")
        limit = engine.con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
        assert limit == "91.5 MiB"  # DuckDB reads MB as 10^6 bytes and shows MiB
        with pytest.raises(ValueError, match="not a memory size"):
            engine.set_memory_limit("1GB'; DROP TABLE x; --")


def test_running_out_of_memory_names_the_limit_and_what_to_do(archived: Archived) -> None:
    # GIVEN an engine with little memory and a query that cannot spill (one list of 20M numbers)
    sql = "SELECT array_agg(x) AS xs FROM UNNEST(sequence(1, 20000000)) AS t(x)"
    with LocalEngine.open(archived.archive, memory_limit="16MB") as engine:
        # WHEN it runs, whole or streamed, THEN the error says so, with the limit and the option to raise
        for run in (engine.query, engine.query_batches):
            with pytest.raises(EngineMemoryError) as caught:
                run(sql)
            assert caught.value.limit == "16MB"
            assert "memory limit is 16MB" in str(caught.value)
            assert "--memory-limit" in str(caught.value)
        # AND the engine still answers what fits
        assert engine.query("SELECT count(*) AS n FROM revisions").column("n")[0].as_py() > 0


def test_running_out_of_the_default_memory_does_not_point_at_an_option_the_command_lacks() -> None:
    # GIVEN an engine opened without a limit (query, parity, verify: DuckDB's default, 80% of RAM)
    error = EngineMemoryError("Out of Memory Error: x", archive="/a", limit=None)
    # THEN the error says what to do without naming restore's --memory-limit
    assert "--memory-limit" not in str(error)
    assert "80% of this machine's memory" in str(error)

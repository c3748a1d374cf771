"""The parity cache: a warm run, reading only new objects, gives exactly what a cold run gives.

The archive is a simulated ledger (duplicates, out-of-order delivery, deletes, redactions) whose
objects arrive in three shuffled groups between runs, with two objects written by hand on top:
a redacted copy of a revision read again after its redaction, and a repeat of an object's
rows under another name (another Firehose buffer cut). The cold computation over the same
objects is the reference; a changed, removed or conflicting object must force a cold run.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from athena.local import LocalEngine, revision_objects
from firehose_transform.storage import Location
from qldb_archive.cli import app
from restore import parity_cache
from restore.parity import check_parity
from restore.parity_cache import CacheOutcome, prepare_archive_index
from restore.runner import RestoreOptions, run_restore

if TYPE_CHECKING:
    from tests.integration.conftest import SimulatedArchive

INDEXES = ("parity_current_index", "parity_history_index")


def archive_index(
    archive: Path | str, cache: str | None, *, rebuild: bool = False
) -> tuple[CacheOutcome, dict[str, Any]]:
    """The archive side's indexes, sorted, and how they were computed."""
    objects = revision_objects(archive)
    with LocalEngine.open(archive, revision_keys=[o.key for o in objects]) as engine:
        outcome = prepare_archive_index(engine, objects, archive=archive, cache=cache, rebuild=rebuild)
        if cache is None:  # the cold reference makes its history index when first asked for
            from restore.parity_index import ensure_history_index

            ensure_history_index(engine)
        rows = {
            i: engine.con.sql(f"SELECT * FROM parity.{i} ORDER BY ledger, doc_id, version").fetchall()
            for i in INDEXES
        }
    return outcome, rows


def revision_files(archive: Path) -> list[Path]:
    return sorted(p for p in archive.rglob("*.parquet") if "p_record_type=revision_details" in str(p))


def add_objects(source: Path, dest: Path, files: list[Path]) -> None:
    """New objects arrive: copied with their modification times, as immutable objects are."""
    for f in files:
        target = dest / f.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)


def write_variant(dest: Path, like: Path, name: str, change: Any) -> Path:
    """A new object in `like`'s partition holding `like`'s rows changed by `change`."""
    table = change(pq.read_table(like))
    out = like.parent / name if like.is_relative_to(dest) else dest / name
    pq.write_table(table, out)
    return out


def redacted(table: pa.Table) -> pa.Table:
    """Every row of the object again, as read after its revisions were redacted."""
    kept = table.filter(pc.invert(pc.is_null(table["data_json"])))
    kept = kept.set_column(
        kept.schema.get_field_index("is_redacted"), "is_redacted", pa.array([True] * len(kept))
    )
    return kept.set_column(
        kept.schema.get_field_index("data_json"), "data_json", pa.nulls(len(kept), pa.string())
    )


@dataclass(frozen=True, slots=True)
class Staged:
    """An archive filled a group of objects at a time from the simulated one (`source`)."""

    source: Path
    archive: Path
    groups: list[list[Path]]

    def arrive(self, files: list[Path]) -> None:
        add_objects(self.source, self.archive, files)


@pytest.fixture
def staged(simulated_archive: SimulatedArchive, tmp_path: Path) -> Staged:
    """An archive holding only the block summaries, and the revision objects in three shuffled groups."""
    source = simulated_archive.archive
    files = revision_files(source)
    random.Random(5).shuffle(files)
    third = len(files) // 3
    dest = tmp_path / "archive"
    add_objects(source, dest, [p for p in source.rglob("*.parquet") if p not in set(files)])
    return Staged(source, dest, [files[:third], files[third : 2 * third], files[2 * third :]])


def test_warm_runs_equal_cold_runs_as_objects_arrive(
    staged: Staged, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, groups = staged.archive, staged.groups
    cache = str(tmp_path / "cache")
    monkeypatch.setattr(parity_cache, "MAX_LAYERS", 2)  # the second warm run merges the layers
    # GIVEN a cache made from the first third of the objects
    staged.arrive(groups[0])
    first, rows = archive_index(archive, cache)
    assert first.mode == "cold"
    assert first.reason == "no cache yet"
    assert rows == archive_index(archive, None)[1]
    for step, group in enumerate(groups[1:]):
        # WHEN more objects arrive (with, at the end, a redacted copy and a repeated object)
        staged.arrive(group)
        if step == 1:
            copied = revision_files(archive)
            redactions = write_variant(archive, copied[0], "zz-redacted.parquet", redacted)
            write_variant(archive, copied[1], "zz-repeat.parquet", lambda t: t)
        warm, warm_rows = archive_index(archive, cache)
        # THEN the run is warm, reads only the new objects, and gives the cold result exactly
        assert warm.mode == "warm", warm
        assert warm.new_objects == len(group) + (2 if step == 1 else 0)
        assert warm.new_revisions > 0
        cold, cold_rows = archive_index(archive, None)
        assert cold.mode == "off"
        assert warm_rows == cold_rows
        # a layer per run, then all merged into one (three files each)
        assert len(list(Path(cache).glob("*.parquet"))) == (6 if step == 0 else 3)
    # AND the redacted copies won: those revisions have no content hash any more
    redacted_keys = {(r["doc_id"], r["version"]) for r in pq.read_table(redactions).to_pylist()}
    history = {(r[2], r[3]): r[5] for r in warm_rows["parity_history_index"]}
    assert redacted_keys
    assert all(history[k] is None for k in redacted_keys)
    # AND a run with nothing new is warm with no new object, same result
    again, again_rows = archive_index(archive, cache)
    assert (again.mode, again.new_objects) == ("warm", 0), again
    assert again_rows == cold_rows


def test_a_changed_removed_or_conflicting_object_forces_a_cold_run(staged: Staged, tmp_path: Path) -> None:
    archive, groups = staged.archive, staged.groups
    cache = str(tmp_path / "cache")
    staged.arrive([f for g in groups for f in g])
    assert archive_index(archive, cache)[0].mode == "cold"
    objects = revision_files(archive)
    # GIVEN an object rewritten in place (other rows, so another size)
    changed = objects[0]
    pq.write_table(pq.read_table(changed).slice(0, 1), changed)
    outcome, rows = archive_index(archive, cache)
    assert outcome.mode == "cold"
    assert outcome.reason.startswith("object changed: ")
    assert rows == archive_index(archive, None)[1]
    assert archive_index(archive, cache)[0].mode == "warm"  # the rewritten cache is warm again
    # GIVEN an object removed
    objects[1].unlink()
    outcome, rows = archive_index(archive, cache)
    assert outcome.mode == "cold"
    assert outcome.reason.startswith("object removed: ")
    assert rows == archive_index(archive, None)[1]

    # GIVEN a new object with a copy of a cached revision under another revision hash
    def conflicting(table: pa.Table) -> pa.Table:
        first = table.slice(0, 1)
        return first.set_column(
            first.schema.get_field_index("revision_hash"), "revision_hash", pa.array(["X" * 44])
        )

    write_variant(archive, objects[2], "zz-conflict.parquet", conflicting)
    outcome, rows = archive_index(archive, cache)
    assert outcome.mode == "cold"
    assert "conflicts with the cached one" in outcome.reason
    assert rows == archive_index(archive, None)[1]
    # AND a rebuild asked for is cold whatever the cache holds
    rebuilt = archive_index(archive, cache, rebuild=True)[0]
    assert (rebuilt.mode, rebuilt.reason) == ("cold", "rebuild asked for")


def test_a_run_killed_before_its_manifest_leaves_the_old_cache_usable(
    staged: Staged, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, groups = staged.archive, staged.groups
    cache = tmp_path / "cache"
    staged.arrive(groups[0])
    archive_index(archive, str(cache))
    staged.arrive(groups[1])

    def killed(self: Location, key: str, data: bytes) -> None:
        raise KeyboardInterrupt  # the process dies after writing its new files, before the switch

    with monkeypatch.context() as m:
        m.setattr(Location, "write_bytes", killed)
        with pytest.raises(KeyboardInterrupt):
            archive_index(archive, str(cache))
    outcome, rows = archive_index(archive, str(cache))
    assert (outcome.mode, outcome.new_objects) == ("warm", len(groups[1]))
    assert rows == archive_index(archive, None)[1]
    # a later cold run sweeps the files the killed run left behind
    archive_index(archive, str(cache), rebuild=True)
    assert len(list(cache.glob("*.parquet"))) == 3


def test_parity_with_a_cache_in_s3_reports_cold_then_warm(
    simulated_archive: SimulatedArchive, sqlite_url: str, s3_bucket: str, s3_endpoint_url: str
) -> None:
    run_restore(simulated_archive.archive, sqlite_url, RestoreOptions(history=True))
    cache = f"s3://{s3_bucket}/parity-cache"
    cold = check_parity(simulated_archive.archive, sqlite_url, cache=cache, endpoint_url=s3_endpoint_url)
    warm = check_parity(simulated_archive.archive, sqlite_url, cache=cache, endpoint_url=s3_endpoint_url)
    assert cold.equal, cold.summary_lines()
    assert warm.equal, warm.summary_lines()
    assert (cold.cache.mode, warm.cache.mode, warm.cache.new_objects) == ("cold", "warm", 0)
    assert "cache: warm, 0 new objects" in warm.summary_lines()[0]
    assert [t.history.archive_documents for t in warm.tables if t.history] == [
        t.history.archive_documents for t in cold.tables if t.history
    ]


def test_the_cli_takes_the_cache_from_an_option_or_the_environment(
    simulated_archive: SimulatedArchive, sqlite_url: str, tmp_path: Path
) -> None:
    run_restore(simulated_archive.archive, sqlite_url, RestoreOptions())
    runner = CliRunner()
    archive = str(simulated_archive.archive)
    first = runner.invoke(app, ["parity", archive, sqlite_url, "-q", "--cache", str(tmp_path / "c")])
    assert first.exit_code == 0, first.output
    assert "cache: cold (no cache yet)" in first.output
    env = {"QLDB_ARCHIVE_PARITY_CACHE": str(tmp_path / "c")}
    second = runner.invoke(app, ["parity", archive, sqlite_url, "-q"], env=env)
    assert "cache: warm, 0 new objects" in second.output, second.output
    off = runner.invoke(app, ["parity", archive, sqlite_url, "-q", "--no-cache"], env=env)
    assert "cache: off" in off.output, off.output
    rebuilt = runner.invoke(app, ["parity", archive, sqlite_url, "-q", "--rebuild-cache"], env=env)
    assert "cache: cold (rebuild asked for)" in rebuilt.output, rebuilt.output
    # a cache whose last full read is older than --rebuild-after-days is read in full again
    aged = runner.invoke(app, ["parity", archive, sqlite_url, "-q", "--rebuild-after-days", "0"], env=env)
    assert "cache: cold (last cold run 0.0 days ago)" in aged.output, aged.output
    fresh = runner.invoke(app, ["parity", archive, sqlite_url, "-q", "--rebuild-after-days", "1"], env=env)
    assert "cache: warm" in fresh.output, fresh.output

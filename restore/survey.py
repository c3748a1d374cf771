"""What the archive holds up to a block cut: tables, conflicts, gaps. The plan's questions, on any engine.

`survey` asks the plan queries (`restore/sql`) through `Ask`, a function from a query's name and
parameters to its rows, so the same questions run on the local engine (`restore.runner`) and on
Athena (`restore.split`). It reads no target: names and DDL come later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from athena.local import utc_naive
from restore.errors import RestoreError
from restore.plan import NO_BLOCK_CUT, Gap, TablePlan, missing_revision_table

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["GAP_CHECK_BLOCKS", "Ask", "Survey", "block_cut_for", "survey"]

Ask = Callable[[str, Sequence[object]], "pa.Table"]
"""Run the plan query of this name (`restore.plan_sql.PLAN_QUERIES`) with these parameters."""

GAP_CHECK_BLOCKS: Final = 1_000_000
"""Blocks whose summaries are checked against the revisions at a time (bounds the check's memory;
each range re-reads the archive, so at 1M revisions 100,000 took 2.6 s where one range takes 1.8 s)."""


@dataclass(frozen=True, slots=True)
class Survey:
    """The plan's findings, before any target is involved.

    Attributes:
        tables: per QLDB table, what a restore up to the cut would apply.
        conflicts: (table, document id, version) with two different revisions.
        gaps: every gap found (missing versions, unsummarised revisions, missing revisions).
    """

    tables: tuple[TablePlan, ...]
    conflicts: tuple[tuple[str, str, int], ...]
    gaps: tuple[Gap, ...]


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()  # type: ignore[no-any-return]


def block_cut_for(ask: Ask, *, as_of_block: int | None, moments: Sequence[dt.datetime]) -> int:
    """The last block to restore: `as_of_block` or the last block committed by each moment, the earliest."""
    cut = NO_BLOCK_CUT if as_of_block is None else as_of_block
    for moment in moments:
        found = _rows(ask("plan_block_for_time", [utc_naive(moment)]))[0]["block_seq"]
        cut = min(cut, -1 if found is None else int(found))
    return cut


def _missing_revisions(ask: Ask, block_cut: int) -> list[dict[str, Any]]:
    """`plan_missing_revisions` over every block up to the cut, `GAP_CHECK_BLOCKS` at a time."""
    bounds = _rows(ask("plan_block_range", [block_cut]))[0]
    if bounds["first_block"] is None:
        return []
    found: list[dict[str, Any]] = []
    for first in range(int(bounds["first_block"]), int(bounds["last_block"]) + 1, GAP_CHECK_BLOCKS):
        last = first + GAP_CHECK_BLOCKS - 1
        found += _rows(ask("plan_missing_revisions", [first, last] * 3))
    return found


def survey(
    ask: Ask, *, block_cut: int, selection: Sequence[str], missing: Sequence[Gap] | None = None
) -> Survey:
    """Ask the archive what a restore up to `block_cut` of the `selection` (empty: all) would apply.

    Args:
        ask: runs a plan query.
        block_cut: the last block (inclusive); `NO_BLOCK_CUT` for all.
        selection: QLDB table names; empty for every table.
        missing: the missing revisions already found (a split's, over the whole archive), instead
            of checking the block summaries again.

    Raises:
        RestoreError: a selected table has no revision up to the cut.
    """
    chosen = list(selection)
    params: list[object] = [block_cut, chosen, chosen]
    tables = tuple(
        TablePlan(str(row.pop("table_name")), **{k: int(v) for k, v in row.items()})
        for row in _rows(ask("plan_tables", params))
    )
    unknown = sorted(set(chosen) - {t.table_name for t in tables})
    if unknown:
        known = ", ".join(t.table_name for t in tables) or "none"
        raise RestoreError(
            f"no revisions of table(s) {', '.join(map(repr, unknown))} in the archive (tables: {known})"
        )
    conflicts = tuple(
        (str(r["table_name"]), str(r["doc_id"]), int(r["version"]))
        for r in _rows(ask("plan_conflicts", params))
    )
    gaps = [
        Gap(
            "missing_versions",
            r["table_name"],
            r["doc_id"],
            int(r["block_seq"]),
            f"versions {r['first_missing']}-{r['last_missing']} missing before version {r['version']}",
        )
        for r in _rows(ask("plan_version_gaps", params))
    ]
    gaps += [
        Gap(
            "unsummarised_revision",
            r["table_name"],
            r["doc_id"],
            int(r["block_seq"]),
            f"version {r['version']}: no block summary for block {r['block_seq']}",
        )
        for r in _rows(ask("plan_unsummarised", params))
    ]
    if missing is not None:
        gaps += [g for g in missing if g.kind == "missing_revision" and g.block_seq <= block_cut]
    else:
        gaps += [
            Gap(
                "missing_revision",
                missing_revision_table(r["documents_json"], r["doc_id"]),
                r["doc_id"],
                int(r["block_seq"]),
                f"revision {r['revision_hash']} listed by the block summary is not in the archive",
            )
            for r in _missing_revisions(ask, block_cut)
        ]
    return Survey(tables, conflicts, tuple(gaps))

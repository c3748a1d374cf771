"""Typed columns (`restore --typed`) on every target: generated from ``data``, typed, name-safe.

Expected values are the documents' own JSON: the simulator's truth for a restored archive, and
the hand-written documents of the hostile-name test.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from amazon.ion import simpleion

from athena.typed import infer_columns
from firehose_transform.normalise import ion_to_json
from restore.content import content_hash
from restore.identifiers import table_names
from restore.runner import RestoreOptions, run_restore
from restore.targets import Target, open_target
from restore.typed_columns import typed_columns_for
from tests.integration.test_restore_acceptance import expected_current
from tests.integration.test_restore_targets import apply, rev

if TYPE_CHECKING:
    from restore.batch import RevisionRow
    from tests.integration.conftest import SimulatedArchive


@pytest.fixture
def target(target_url: str) -> Iterator[Target]:
    with open_target(target_url) as t:
        yield t


def typed_values(target: Target, table: str, columns: list[str]) -> dict[str, tuple[Any, ...]]:
    quote = target.capabilities.quote
    selected = ", ".join(quote(c) for c in columns)
    rows = target.query(f"SELECT doc_id, {selected} FROM {quote(table)}", [])
    return {r[0]: tuple(r[1:]) for r in rows}


def test_typed_columns_hold_each_documents_fields(
    simulated_archive: SimulatedArchive, target_url: str
) -> None:
    # GIVEN the simulated archive restored with --typed
    report = run_restore(simulated_archive.archive, target_url, RestoreOptions(typed=True))
    by_table = {t.table_name: t for t in report.tables}
    truth = expected_current(simulated_archive.truth("history"))
    with open_target(target_url) as target:
        for table in ("Person", "Vehicle"):
            columns = by_table[table].typed_columns
            assert columns, table
            names = table_names([table], target.capabilities.identifiers)[table]
            got = typed_values(target, names.current, columns)
            # THEN every live document's typed columns equal its fields, typed (absent field: NULL)
            live = {d: t for d, t in truth.items() if t["table"] == table and t["kind"] == "live"}
            assert set(live) <= set(got)
            for doc_id, t in live.items():
                doc: dict[str, Any] = ion_to_json(simpleion.loads(t["data"]))  # type: ignore[assignment]
                for column, value in zip(columns, got[doc_id], strict=True):
                    expected = doc.get(column)
                    if isinstance(expected, dict | list) and isinstance(value, str):
                        value = json.loads(value)  # JSON text on the engines without a JSON type
                    assert value == expected, (doc_id, column)


QUOTED = 'it\'s "odd"; DROP TABLE x; --'
HOSTILE = {
    QUOTED: 7,
    "back\\slash `tick`": "a\\b",
    "Zürich ✓": True,
    "data": {"nested": [1, 2]},
    "Year": 2019,
    "price": 12.5,
}


def utf8_rev(doc_id: str, version: int, block_seq: int, data: dict[str, object]) -> RevisionRow:
    """A revision whose JSON is UTF-8 text, as the archive's projection writes it (no \\u escapes)."""
    text = json.dumps(data, ensure_ascii=False)
    return dataclasses.replace(
        rev(doc_id, version, block_seq, data), data_json=text, content_hash=content_hash(text)
    )


def test_hostile_field_names_and_mismatched_types(target: Target) -> None:
    # GIVEN typed columns inferred from one document with hostile field names
    names = table_names(["Person"], target.capabilities.identifiers)
    inferred = infer_columns([json.dumps(HOSTILE)])
    columns, skipped = typed_columns_for(
        inferred, target.capabilities.identifiers, target.capabilities.engine
    )
    if target.capabilities.engine == "sqlite":  # no escape for a quote in SQLite's JSON paths
        assert [s.field for s in skipped] == [QUOTED]
        assert "double quote" in skipped[0].reason
    else:
        assert not skipped
    target.ensure_schema(list(names.values()), history=True)
    added = target.add_typed_columns(names["Person"], columns)
    assert [c.column for c in columns] == added
    assert target.add_typed_columns(names["Person"], columns) == []  # idempotent
    # WHEN that document and one whose fields have other types are applied
    odd = {"Year": "MMXIX", "price": "cheap", "Zürich ✓": "yes", "data": 3}
    apply(target, names, (utf8_rev("A", 0, 1, HOSTILE), utf8_rev("B", 0, 2, odd)), seq=2)
    got = typed_values(target, "Person", [c.column for c in columns])
    by_field = {c.field: i for i, c in enumerate(columns)}
    # THEN the columns hold the values, with a suffix for the field named like a restore column
    assert [c.column for c in columns if c.field == "data"] == ["data_2"]
    a = got["A"]
    if QUOTED in by_field:
        assert a[by_field[QUOTED]] == 7
        assert got["B"][by_field[QUOTED]] is None  # absent
    assert a[by_field["back\\slash `tick`"]] == "a\\b"
    assert bool(a[by_field["Zürich ✓"]]) is True
    nested = a[by_field["data"]]
    assert (json.loads(nested) if isinstance(nested, str) else nested) == {"nested": [1, 2]}
    assert a[by_field["Year"]] == 2019
    assert a[by_field["price"]] == 12.5
    # AND a field of another type is NULL in a typed column, never a failed insert
    b = got["B"]
    assert b[by_field["Year"]] is None
    assert b[by_field["price"]] is None
    assert b[by_field["Zürich ✓"]] is None


def test_dry_run_prints_the_typed_ddl(simulated_archive: SimulatedArchive, sqlite_url: str) -> None:
    report = run_restore(simulated_archive.archive, sqlite_url, RestoreOptions(typed=True, dry_run=True))
    assert report.typed_ddl
    assert all("GENERATED ALWAYS AS" in s for s in report.typed_ddl)
    assert any("typed columns DDL" in line or "GENERATED ALWAYS" in line for line in report.summary_lines())

"""The simulator's ground truth: every revision once, the final state, and a summary.

Files (docs/files.md), all written as the blocks stream past, in bounded memory:

- `history.jsonl`: every user revision once, in block order (system revisions have no document);
- `final.jsonl`: one line per live document, its latest revision, in the order documents were
  settled (retired from the working set, or still live at the end): key it by `doc_id`;
- `summary.json`: counts per table and kind, blocks, the tip, its block hash and the digest.

Rows: `{"table", "table_id", "doc_id", "version", "block_seq", "tx_id", "tx_time", "kind",
"revision_hash", "data"}` with `tx_time` the Ion text of `metadata.txTime` (ISO 8601, UTC,
milliseconds), `revision_hash` base64, and `data` the Ion text of the revision's data (null
when deleted or redacted). Tests must take expected values from here, never from the code under
test.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from amazon.ion import simpleion

if TYPE_CHECKING:
    from journal.records import Block, Revision

__all__ = ["TruthWriter", "revision_row"]


def _iso_ms(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def revision_row(revision: Revision) -> dict[str, Any]:
    """The truth row of one revision (see the module doc)."""
    return {
        "table": revision.table_name,
        "table_id": revision.table_id,
        "doc_id": revision.doc_id,
        "version": revision.version,
        "block_seq": revision.block_seq,
        "tx_id": revision.tx_id,
        "tx_time": _iso_ms(revision.tx_time),
        "kind": revision.kind.value,
        "revision_hash": base64.b64encode(revision.revision_hash).decode("ascii"),
        "data": None
        if revision.data is None
        else simpleion.dumps(revision.data, binary=False, omit_version_marker=True),
    }


class TruthWriter:
    """Streams `history.jsonl` and `final.jsonl`; `close` writes `summary.json`."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._folder = folder
        self._history: IO[str] = (folder / "history.jsonl").open("w", encoding="utf-8")
        self._final: IO[str] = (folder / "final.jsonl").open("w", encoding="utf-8")

    def add_block(self, block: Block) -> None:
        """Record every user revision of `block`."""
        write = self._history.write
        for revision in block.revisions:
            write(json.dumps(revision_row(revision), separators=(",", ":")) + "\n")

    def add_final(self, revisions: tuple[Revision, ...]) -> None:
        """Record settled documents (their latest revisions)."""
        write = self._final.write
        for revision in revisions:
            write(json.dumps(revision_row(revision), separators=(",", ":")) + "\n")

    def close(self, summary: dict[str, Any]) -> None:
        """Close the row files and write `summary.json`."""
        self._history.close()
        self._final.close()
        text = json.dumps(summary, indent=2, sort_keys=False) + "\n"
        (self._folder / "summary.json").write_text(text, encoding="utf-8")

    def abort(self) -> None:
        """Close the row files (a failed run)."""
        self._history.close()
        self._final.close()

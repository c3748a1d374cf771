"""Errors of the restore: an unusable plan, gaps and conflicts, bad names, failing targets."""

from __future__ import annotations

from journal.errors import QldbArchiveError

__all__ = [
    "CheckpointError",
    "ConflictError",
    "GapError",
    "IdentifierError",
    "RestoreError",
    "TargetError",
    "TerminalTargetError",
    "TransientTargetError",
    "UnsupportedTargetError",
]


class RestoreError(QldbArchiveError):
    """Base of the errors of `restore`."""


class ConflictError(RestoreError):
    """The archive holds two different revisions for one (document id, version).

    QLDB never writes that, so the archive was changed or mixes two ledgers: restoring would
    have to pick one silently. `conflicts` names them (capped in the message).
    """

    def __init__(self, conflicts: list[tuple[str, str, int]], *, total: int) -> None:
        self.conflicts, self.total = conflicts, total
        shown = ", ".join(f"{table}/{doc_id} version {version}" for table, doc_id, version in conflicts[:5])
        more = f" ... and {total - 5} more" if total > 5 else ""
        super().__init__(
            f"{total} conflicting revision(s) in the archive (same document and version, another hash): "
            f"{shown}{more}. List them with `qldb-archive query 'SELECT * FROM history_conflicts'`; "
            "the restore cannot choose between them."
        )


class GapError(RestoreError):
    """The archive misses revisions or block summaries; restoring would build a wrong state."""

    def __init__(self, summary: str, *, count: int) -> None:
        self.summary, self.count = summary, count
        super().__init__(
            f"{count} gap(s) in the archive: {summary}. Backfill the missing records, or restore anyway "
            "with --allow-gaps (the report lists every gap)."
        )


class IdentifierError(RestoreError):
    """A QLDB table name that cannot become a table name in the target.

    Attributes:
        name: the QLDB table name.
        reason: what is wrong with it.
    """

    def __init__(self, name: str, *, reason: str) -> None:
        self.name, self.reason = name, reason
        super().__init__(
            f"cannot restore QLDB table {name!r}: {reason}. Map it to another name with "
            "--table-map 'QLDB_NAME=target_name', or leave it out with --table."
        )


class CheckpointError(RestoreError):
    """The target's checkpoint does not fit this run (other options, newer format, unfinished run)."""


class UnsupportedTargetError(RestoreError):
    """A target URL whose scheme no target handles, or whose driver is not installed."""


class TargetError(RestoreError):
    """A database error while applying revisions.

    Attributes:
        reason: the driver's message (no data, no password).
        where: what was being applied: blocks, or a document and version.
    """

    def __init__(self, reason: str, *, where: str) -> None:
        self.reason, self.where = reason, where
        super().__init__(f"{where}: {reason}")


class TransientTargetError(TargetError):
    """Lost connection, deadlock, lock timeout, serialisation failure: retried with backoff."""


class TerminalTargetError(TargetError):
    """Anything else: the restore stops, the failed transaction is rolled back."""

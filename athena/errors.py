"""Errors of the Athena layer: bad names, unknown views, failing local queries, failed deploys."""

from __future__ import annotations

from journal.errors import QldbArchiveError

__all__ = [
    "AthenaError",
    "DeployError",
    "EngineMemoryError",
    "InvalidNameError",
    "LocalQueryError",
    "UnknownSqlError",
]


class AthenaError(QldbArchiveError):
    """Base of the errors of `athena`."""


class InvalidNameError(AthenaError):
    """A database or table name that cannot go into Glue/Athena SQL as given.

    Attributes:
        name: the name at fault.
        reason: what is wrong with it.
    """

    def __init__(self, name: str, *, reason: str) -> None:
        self.name, self.reason = name, reason
        super().__init__(f"cannot use {name!r} as a Glue name: {reason}")


class UnknownSqlError(AthenaError):
    """A view or query name with no .sql file under athena/sql.

    Attributes:
        name: the name asked for.
        known: the names that exist.
    """

    def __init__(self, name: str, *, known: tuple[str, ...]) -> None:
        self.name, self.known = name, known
        super().__init__(f"no view or query called {name!r}; choose one of {', '.join(known)}")


class LocalQueryError(AthenaError):
    """SQL the local engine (sqlglot + DuckDB) could not translate or run.

    Attributes:
        reason: the parser's or DuckDB's message.
        archive: the archive the query ran on.
    """

    def __init__(
        self,
        reason: str,
        *,
        archive: str,
        hint: str = "write it in Athena (Trino) SQL against revisions, history, current or committed",
    ) -> None:
        self.reason, self.archive = reason, archive
        super().__init__(f"cannot run the query on the archive {archive}: {reason}; {hint}")


class EngineMemoryError(LocalQueryError):
    """The local engine needed more memory than its limit allows, even spilling to disk.

    Attributes:
        reason: DuckDB's message.
        archive: the archive the query ran on.
        limit: the engine's memory limit as it was set (``"640MB"``); None: DuckDB's default
            (80% of the machine's memory), which only more memory can raise.
    """

    def __init__(self, reason: str, *, archive: str, limit: str | None) -> None:
        self.limit = limit
        hint = (
            f"the local engine's memory limit is {limit}: give it more "
            "(qldb-archive restore --memory-limit 1GB) or free memory on this machine"
            if limit is not None
            else "the local engine had 80% of this machine's memory: free memory, or use a larger machine"
        )
        super().__init__(reason, archive=archive, hint=hint)


class DeployError(AthenaError):
    """A deployment step that cannot be planned or did not succeed.

    Attributes:
        kind: the step's kind (workgroup, database, table, view, named_query) or ``plan``.
        name: the resource (or plan field) at fault.
        reason: what went wrong.
        hint: what to do next.
    """

    def __init__(self, kind: str, name: str, *, reason: str, hint: str) -> None:
        self.kind, self.name, self.reason, self.hint = kind, name, reason, hint
        super().__init__(f"cannot deploy {kind} {name}: {reason}; {hint}")

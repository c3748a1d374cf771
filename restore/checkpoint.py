"""The restore's checkpoint: a row committed in the same transaction as the batch it follows.

Because the row and the batch commit together, a killed restore leaves either both or neither,
and ``--resume`` continues after the last committed block (dlt ``pipeline/state_sync.py`` keeps
its state the same way). The row carries a format version, so a newer checkpoint is refused
rather than misread, and the options that shaped the run (tables, point in time, history,
shard), so a resume with other options is refused rather than mixing two plans.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Any, Final

from restore.errors import CheckpointError

__all__ = ["CHECKPOINT_FORMAT", "Checkpoint", "RunIdentity", "resume_point"]

CHECKPOINT_FORMAT: Final = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class RunIdentity:
    """The options a resumed run must share with the run it resumes.

    Attributes:
        tables: the QLDB tables restored (sorted).
        history: whether history tables are written.
        as_of_block: the block cut, if any.
        as_of_time: the time cut (ISO, UTC), if any.
        shard: ``i/n`` or ``1/1``.
    """

    tables: tuple[str, ...]
    history: bool
    as_of_block: int | None
    as_of_time: str | None
    shard: str

    def to_json(self) -> str:
        """Stable JSON text, stored in the checkpoint row."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunIdentity:
        """Read `to_json`'s output back."""
        raw: dict[str, Any] = json.loads(text)
        raw["tables"] = tuple(raw["tables"])
        return cls(**raw)


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """Where a restore into one target stands.

    Attributes:
        restore_id: the checkpoint's key in the target: ``restore`` or ``restore-shard-i-of-n``.
        identity: the run's options (see `RunIdentity`).
        last_block_seq: the last block applied; -1 before the first batch.
        completed: the run reached the end of its plan.
        format_version: `CHECKPOINT_FORMAT` when written.
        updated_at: when the row was written (UTC).
    """

    restore_id: str
    identity: RunIdentity
    last_block_seq: int
    completed: bool
    format_version: int = CHECKPOINT_FORMAT
    updated_at: dt.datetime | None = None


def resume_point(saved: Checkpoint | None, identity: RunIdentity, *, resume: bool, incremental: bool) -> int:
    """The last block already applied for this run, or -1 to start from the beginning.

    Raises:
        CheckpointError: the saved checkpoint has a newer format, was written with other
            options, or is unfinished and neither ``--resume`` nor a restart was asked for.

    >>> ident = RunIdentity(tables=("T",), history=False, as_of_block=None, as_of_time=None, shard="1/1")
    >>> resume_point(None, ident, resume=False, incremental=False)
    -1
    """
    if saved is None:
        if resume:
            raise CheckpointError(
                "--resume: this target has no checkpoint for this restore; run it without --resume"
            )
        return -1
    if saved.format_version > CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"the target's checkpoint has format {saved.format_version}; this qldb-archive reads up to "
            f"{CHECKPOINT_FORMAT}: upgrade qldb-archive"
        )
    if resume or incremental:
        if saved.identity != identity and not (incremental and _same_but_cut(saved.identity, identity)):
            raise CheckpointError(
                f"the target's checkpoint {saved.restore_id!r} was written with other options "
                f"({saved.identity.to_json()}); resume with the same options, or restore into an empty target"
            )
        return saved.last_block_seq
    if not saved.completed:
        raise CheckpointError(
            f"a restore into this target stopped after block {saved.last_block_seq}; continue it with "
            "--resume (same options), or restore into an empty target"
        )
    raise CheckpointError(
        f"this target already holds a completed restore (up to block {saved.last_block_seq}); catch up "
        "with --incremental, or restore into an empty target"
    )


def _same_but_cut(saved: RunIdentity, now: RunIdentity) -> bool:
    """Incremental runs move the time cut forward (the settle window); the rest must match."""
    return (saved.tables, saved.history, saved.shard, saved.as_of_block) == (
        now.tables,
        now.history,
        now.shard,
        now.as_of_block,
    )

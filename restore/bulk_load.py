"""Load bulk slices (`restore.bulk`) over several connections at once, while the next are read.

A database server ingests one connection's ``COPY`` or ``LOAD DATA`` on one core; the archive's
rows are read and written as CSV on another. With two connections and the reading in the
calling thread, the server's work on a 2-core machine overlaps the reading and itself: each
slice is its own transaction on whichever connection is free. Slices never overlap (each
document's rows are in one slice or split at a revision), so their order does not matter.

At most one slice per connection is being loaded and one more is waiting, so memory is bounded
by a few slices whatever the archive's size. The first error stops the run: no new slice is
started, those being loaded finish or roll back, and the error is raised.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from restore.bulk import BulkRows
    from restore.identifiers import TableNames
    from restore.targets import Target

__all__ = ["load_slices"]

Retry = Callable[["Target", Callable[[], None]], int]
"""Runs one transaction on a target, retrying transient errors; returns the retries it took."""


def load_slices(
    loaders: Sequence[Target],
    slices: Iterable[list[BulkRows]],
    names: Mapping[str, TableNames],
    *,
    retry: Retry,
    on_loaded: Callable[[list[BulkRows]], None],
) -> tuple[int, int]:
    """Load every slice with `Target.load_bulk`, one transaction each, on the free connection.

    Args:
        loaders: one target per connection, all on the same database.
        slices: what each transaction loads, read lazily (in the calling thread).
        names: QLDB table -> target table names.
        retry: how each transaction is retried (`restore.runner.apply_with_retry`).
        on_loaded: called in the calling thread once a slice is committed (progress).

    Returns:
        (transactions committed, retries).

    Raises:
        TargetError: the first slice that failed for good (no further slice is started).
    """
    free: queue.SimpleQueue[Target] = queue.SimpleQueue()
    for loader in loaders:
        free.put(loader)

    failed = threading.Event()

    def load(parts: list[BulkRows]) -> tuple[list[BulkRows], int] | None:
        if failed.is_set():  # a slice already failed for good: start no other
            return None
        target = free.get()
        try:
            return parts, retry(target, lambda: target.load_bulk(parts, names))
        except BaseException:
            failed.set()
            raise
        finally:
            free.put(target)

    committed = retries = 0

    def settle(done: Iterable[Future[tuple[list[BulkRows], int] | None]]) -> None:
        nonlocal committed, retries
        for future in sorted(done, key=lambda f: f.exception() is None):  # the error first
            result = future.result()  # raises the slice's error
            if result is None:
                continue
            parts, tries = result
            committed += 1
            retries += tries
            on_loaded(parts)

    with ThreadPoolExecutor(max_workers=len(loaders), thread_name_prefix="bulk-load") as pool:
        pending: set[Future[tuple[list[BulkRows], int] | None]] = set()
        try:
            for parts in slices:
                while len(pending) > len(loaders):
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    settle(done)
                pending.add(pool.submit(load, parts))
            done, pending = wait(pending)
            settle(done)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return committed, retries

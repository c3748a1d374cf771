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

__all__ = ["ensure_schema_over", "load_slices", "share_out"]

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


def share_out(sizes: Mapping[str, int], workers: int) -> list[list[str]]:
    """Split the keys of `sizes` into `workers` lists of about equal total size (largest first).

    >>> share_out({"a": 5, "b": 4, "c": 3, "d": 2}, 2)
    [['a', 'd'], ['b', 'c']]
    >>> share_out({"a": 1}, 3)
    [['a']]
    """
    totals = [0] * max(1, workers)
    shares: list[list[str]] = [[] for _ in totals]
    for key in sorted(sizes, key=lambda k: (-sizes[k], k)):
        least = totals.index(min(totals))
        totals[least] += sizes[key]
        shares[least].append(key)
    return [keys for keys in shares if keys]


def _once(_target: Target, apply: Callable[[], None]) -> int:
    apply()
    return 0


def ensure_schema_over(
    loaders: Sequence[Target],
    names: Sequence[TableNames],
    sizes: Mapping[str, int],
    *,
    history: bool,
    retry: Retry | None = None,
) -> None:
    """`Target.ensure_schema` of `names`, their tables shared out over the connections at once.

    After a bulk load that dropped the parity indexes (`Target.rebuilds_parity_indexes`), this is
    where they are built again; MariaDB builds an index on one core, so two connections build two
    tables' at a time (at 1M revisions 2.96 s one table after another). `sizes`: rows per QLDB table.
    """
    if retry is None:
        retry = _once
    by_table = {n.qldb: n for n in names}
    shares = share_out({t: sizes.get(t, 0) for t in by_table}, len(loaders))
    if len(shares) <= 1:
        retry(loaders[0], lambda: loaders[0].ensure_schema(list(names), history=history))
        return

    def ensure(loader: Target, share: Sequence[str]) -> None:
        retry(loader, lambda: loader.ensure_schema([by_table[t] for t in share], history=history))

    with ThreadPoolExecutor(max_workers=len(shares), thread_name_prefix="bulk-index") as pool:
        futures = [pool.submit(ensure, loader, share) for loader, share in zip(loaders, shares, strict=False)]
        for future in futures:
            future.result()

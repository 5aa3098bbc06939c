"""The ledger's one writing thread: jobs come through a queue and commit in groups.

Whatever is queued while a commit runs goes into the next transaction together, so under
load one fsync serves many calls; jobs submitted with the same `batch` function are
handed to it together, so a group costs a few statements, not a few per call. If a job
fails on its own (a duplicate id), the group is redone one job at a time, each in a
savepoint, so that only that job fails. A failing database (a full disk, a lock) keeps the
whole group and retries it, while the callers are told at once so that no answer waits on
a broken disk.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from cortexd.errors import CortexError

log = logging.getLogger("cortexd.ledger")

Job = Callable[[sqlite3.Connection], Any]
Batch = Callable[[sqlite3.Connection, list[Any]], list[Any]]
#: What a job can do wrong on its own; any other `sqlite3.Error` is the database's.
_JOB_ERRORS = (sqlite3.IntegrityError, ValueError, TypeError, KeyError)


class LedgerUnavailableError(CortexError):
    """The ledger could not commit (yet); the rows stay queued and are retried."""


@dataclass
class _Item:
    job: Any  # a Job, or a value for `batch`
    batch: Batch | None
    future: Future[Any] | asyncio.Future[Any]
    queued: float = field(default_factory=time.monotonic)


@dataclass
class WriterStats:
    """What the writer has done; `waits` are seconds from queueing to commit."""

    jobs: int = 0
    commits: int = 0
    largest_group: int = 0
    failures: int = 0
    last_error: str | None = None
    waits: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=10_000)
    )

    def as_json(self, queued: int) -> dict[str, Any]:
        """For ``GET /v1/health``."""
        waits = sorted(self.waits)
        return {
            "jobs": self.jobs,
            "commits": self.commits,
            "largest_group": self.largest_group,
            "queued": queued,
            "commit_wait_ms": {
                "p50": _ms(quantile(waits, 0.5)),
                "p99": _ms(quantile(waits, 0.99)),
                "mean": round(math.fsum(waits) / len(waits) * 1000, 3) if waits else None,
            },
            "failures": self.failures,
            "last_error": self.last_error,
        }


def quantile(ordered: Sequence[float], q: float) -> float | None:
    """The `q` quantile of sorted values (nearest rank); None for none.

    >>> quantile([1.0, 2.0, 3.0, 4.0], 0.5), quantile([], 0.9)
    (2.0, None)
    """
    if not ordered:
        return None
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


_STOP = object()


class Writer:
    """Owns `connect()`'s connection in its own thread; `submit` is safe from any thread."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        on_commit: Callable[[Sequence[Any]], None] | None = None,
        group_max: int = 512,
        retry_s: float = 0.5,
    ) -> None:
        self._connect = connect
        self._on_commit = on_commit
        self._group_max = group_max
        self._retry_s = retry_s
        self._queue: queue.SimpleQueue[_Item | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.stats = WriterStats()

    def start(self) -> None:
        """Start the thread (the connection is opened in it)."""
        ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._main, args=(ready,), name="cortexd-ledger", daemon=True
        )
        self._thread.start()
        ready.result()  # an unopenable database fails the start, not the first call

    def submit(self, job: Any, batch: Batch | None = None) -> Future[Any]:
        """Queue `job` (a function of the connection, or a value for `batch`, which gets
        every value of a group at once and returns their results in order); the future
        resolves with its result once its group has committed."""
        future: Future[Any] = Future()
        if self._thread is None or self._stopping.is_set():
            future.set_exception(LedgerUnavailableError("the ledger is closed"))
            return future
        self._queue.put(_Item(job, batch, future))
        return future

    def submit_async(self, job: Any, batch: Batch | None = None) -> asyncio.Future[Any]:
        """`submit` for the event loop: an asyncio future, settled together with the rest
        of its group in one wake-up of the loop (not one per call)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._thread is None or self._stopping.is_set():
            future.set_exception(LedgerUnavailableError("the ledger is closed"))
            return future
        self._queue.put(_Item(job, batch, future))
        return future

    def queued(self) -> int:
        """Jobs waiting for the thread."""
        return self._queue.qsize()

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the thread and close the connection."""
        if self._thread is None:
            return
        self._stopping.set()
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("the ledger writer did not finish in %.0f s; queued rows are lost", timeout)
        self._thread = None

    def _main(self, ready: Future[None]) -> None:
        try:
            db = self._connect()
        except BaseException as error:  # noqa: BLE001 - handed to start()
            ready.set_exception(error)
            return
        ready.set_result(None)
        try:
            stop = False
            while not stop:
                first = self._queue.get()
                if first is _STOP:
                    break
                group = [first]
                while len(group) < self._group_max:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is _STOP:
                        stop = True
                        break
                    group.append(more)
                self._commit(db, [i for i in group if isinstance(i, _Item)])
        finally:
            db.close()

    def _transaction(
        self, db: sqlite3.Connection, group: list[_Item]
    ) -> list[tuple[_Item, Any, BaseException | None]]:
        """Apply the group in one transaction: all together, or, when one of its jobs fails,
        one at a time so that only the culprit fails."""
        db.execute("BEGIN IMMEDIATE")
        try:
            results = _apply(db, group)
        except _JOB_ERRORS:
            db.execute("ROLLBACK")
        else:
            db.execute("COMMIT")
            return [(item, result, None) for item, result in zip(group, results, strict=True)]
        outcomes: list[tuple[_Item, Any, BaseException | None]] = []
        db.execute("BEGIN IMMEDIATE")
        for item in group:
            db.execute("SAVEPOINT job")
            try:
                (result,) = _apply(db, [item])
            except _JOB_ERRORS as error:
                db.execute("ROLLBACK TO job")
                outcomes.append((item, None, error))
            else:
                outcomes.append((item, result, None))
            db.execute("RELEASE job")
        db.execute("COMMIT")
        return outcomes

    def _commit(self, db: sqlite3.Connection, group: list[_Item]) -> None:
        told = False
        tries = 0
        while True:
            tries += 1
            try:
                outcomes = self._transaction(db, group)
            except sqlite3.Error as error:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                self.stats.failures += 1
                self.stats.last_error = f"{type(error).__name__}: {error}"
                log.error("ledger commit failed, retrying: %s", self.stats.last_error)
                if not told:
                    told = True
                    failed = LedgerUnavailableError(f"the ledger cannot commit: {error}")
                    _settle_all([(item, None, failed) for item in group])
                if self._stopping.is_set() and tries > 20:
                    log.error("giving up on %d queued ledger rows at shutdown", len(group))
                    return
                time.sleep(self._retry_s)
                continue
            break
        now = time.monotonic()
        stats = self.stats
        stats.jobs += len(group)
        stats.commits += 1
        stats.largest_group = max(stats.largest_group, len(group))
        stats.last_error = None
        for item, _, _ in outcomes:
            stats.waits.append(now - item.queued)
        _settle_all(outcomes)
        if self._on_commit is not None:
            committed = [result for _, result, failure in outcomes if failure is None]
            try:
                self._on_commit(committed)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the writer
                log.exception("a ledger listener failed")


def _apply(db: sqlite3.Connection, items: list[_Item]) -> list[Any]:
    """Run the items in order, each run of one batch function in one call."""
    results: list[Any] = []
    i = 0
    while i < len(items):
        batch = items[i].batch
        if batch is None:
            results.append(items[i].job(db))
            i += 1
            continue
        j = i
        while j < len(items) and items[j].batch == batch:  # bound methods: ==, not is
            j += 1
        results += batch(db, [item.job for item in items[i:j]])
        i = j
    return results


def _settle_all(outcomes: list[tuple[_Item, Any, BaseException | None]]) -> None:
    """Settle thread futures here, and each loop's futures in one call on that loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any, BaseException | None]]] = {}
    for item, result, error in outcomes:
        future = item.future
        if isinstance(future, asyncio.Future):
            by_loop.setdefault(future.get_loop(), []).append((future, result, error))
        else:
            _settle(future, result, error)
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop has closed
            loop.call_soon_threadsafe(_settle_each, settled)


def _settle_each(settled: list[tuple[Any, Any, BaseException | None]]) -> None:
    for future, result, error in settled:
        _settle(future, result, error)


def _settle(
    future: Future[Any] | asyncio.Future[Any], result: Any, error: BaseException | None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)

"""The ledger as the daemon uses it: record calls and ratings, read stats, hear of commits.

Writes go to the one writer thread (`writer.Writer`); the request path only awaits the
commit of its call's rows. Reads open their own read-only connection in a worker thread
(WAL lets them run beside the writer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from cortexd.ledger import store
from cortexd.ledger.records import CallRecord, Feedback
from cortexd.ledger.writer import LedgerUnavailableError, Writer

log = logging.getLogger("cortexd.ledger")
T = TypeVar("T")
#: How much of the ledger a reader maps (address space, not memory: pages are read in as
#: they are touched and dropped when the connection closes).
READER_MAP_BYTES = 1 << 30
Listener = Callable[[Sequence[CallRecord]], None]


class Ledger:
    """The SQLite ledger at `path`.

    `keep_prompts_days` > 0 stores prompts and answers (in their own table) for that many
    days; 0 stores none. `secrets` (the API keys) are masked in anything written.
    """

    def __init__(
        self,
        path: Path,
        *,
        keep_prompts_days: float = 0.0,
        secrets: Sequence[str] = (),
        synchronous: str = "FULL",
        commit_timeout_s: float = 5.0,
    ) -> None:
        self.path = path
        self.keep_prompts_days = keep_prompts_days
        self._secrets = tuple(secrets)
        self._synchronous = synchronous
        self._commit_timeout_s = commit_timeout_s
        self._calls = store.CallWriter(b"")  # replaced once the database is open
        self._listeners: list[Listener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._writer = Writer(self._connect, on_commit=self._committed)
        self.lost = 0  # calls whose rows could not be handed over before their answer ended

    def _connect(self) -> sqlite3.Connection:
        db = store.connect(self.path, synchronous=self._synchronous)
        self._calls = store.CallWriter(
            store.secret(db), self._secrets, keep_contents=self.keep_prompts_days > 0
        )
        return db

    def _write_calls(self, db: sqlite3.Connection, calls: list[CallRecord]) -> list[CallRecord]:
        return self._calls(db, calls)

    def open(self) -> None:
        """Open the database (creating or migrating it) and start the writer thread.

        Raises `SchemaError` for a database of a newer cortexd, `sqlite3.Error` or `OSError`
        for one that cannot be opened.
        """
        self._writer.start()

    async def start(self) -> None:
        """Announce commits on this event loop from now on; prune old stored prompts."""
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        if self.keep_prompts_days > 0:
            await self.prune()

    def close(self) -> None:
        """Commit what is queued and stop."""
        self._writer.close()

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` on the event loop with the calls of each commit."""
        self._listeners.append(listener)

    def _committed(self, results: Sequence[Any]) -> None:
        calls = [r for r in results if isinstance(r, CallRecord)]
        if calls and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed at shutdown
                self._loop.call_soon_threadsafe(self._announce, calls)

    def _announce(self, calls: list[CallRecord]) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()
        for listener in self._listeners:
            try:
                listener(calls)
            except Exception:  # noqa: BLE001 - one listener's bug must not stop the others
                log.exception("a ledger listener failed")

    def next_commit(self) -> asyncio.Event:
        """An event set at the next commit of calls: take it before reading, then wait on
        it, and no commit falls between the read and the wait."""
        assert self._changed is not None, "start() first"
        return self._changed

    def submit(self, call: CallRecord) -> None:
        """Queue a call's rows without waiting (a call whose client left)."""
        self._writer.submit(call, self._write_calls)

    async def record(self, call: CallRecord) -> bool:
        """Write a call's rows and wait for their commit; False (logged) if they could not
        be committed in time — the rows stay queued and the answer goes on."""
        future = self._writer.submit_async(call, self._write_calls)
        try:
            async with asyncio.timeout(self._commit_timeout_s):
                await asyncio.shield(future)
        except (LedgerUnavailableError, TimeoutError) as error:
            self.lost += 1
            log.error("call %s answered before its rows were committed: %s", call.id, error)
            return False
        except (sqlite3.Error, ValueError, TypeError, KeyError) as error:
            log.error("call %s was not recorded: %s", call.id, error)
            return False
        return True

    async def rate(self, feedback: Feedback) -> bool:
        """Record the user's rating of a call; False when no call has that id."""
        stamped = (
            feedback
            if feedback.at
            else Feedback(feedback.call_id, feedback.rating, feedback.note, time.time())
        )
        job = partial(store.insert_feedback, feedback=stamped)
        return bool(await asyncio.wrap_future(self._writer.submit(job)))

    async def prune(self) -> int:
        """Delete stored prompts past their retention."""
        before = time.time() - self.keep_prompts_days * 86_400
        return int(
            await asyncio.wrap_future(
                self._writer.submit(partial(store.prune_contents, before=before))
            )
        )

    async def write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job` on the writer thread, in a transaction; its result once committed."""
        return await asyncio.wrap_future(self._writer.submit(job))

    def reader(self) -> sqlite3.Connection:
        """A read-only connection (for one thread's use)."""
        db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True)
        db.execute("PRAGMA busy_timeout=5000")
        # Read through a map of the file, not copies into a page cache of its own: the
        # report reads the whole month every 30 s at most, and the copies (freed when the
        # connection closes) left the heap a little larger each time.
        db.execute(f"PRAGMA mmap_size={READER_MAP_BYTES}")
        return db

    def read_now(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a query function on a fresh read-only connection, in this thread."""
        db = self.reader()
        try:
            return fn(db, *args, **kwargs)
        finally:
            db.close()

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`read_now` in a worker thread, off the event loop."""
        return await asyncio.to_thread(self.read_now, fn, *args, **kwargs)

    def health(self) -> dict[str, Any]:
        """The writer's counters, for ``GET /v1/health``."""
        out = self._writer.stats.as_json(self._writer.queued())
        out["path"] = str(self.path)
        out["not_committed_in_time"] = self.lost
        out["keeps_prompts_days"] = self.keep_prompts_days
        return out

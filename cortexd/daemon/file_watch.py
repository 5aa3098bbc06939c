"""Noticing that a file changed: watchdog on its folder, bursts of events debounced.

Editors save by writing a new file and renaming it over the old one, so watching the file's
inode would miss every save after the first: the folder is watched, and events are matched by
name (the source or destination of a rename, a creation, a write, a close after writing). A
symbolic link (a dotfiles repository) is followed: the target's folder is watched too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

log = logging.getLogger("cortexd")

#: A save is often several events (truncate, writes, close; or write, rename): wait this
#: long after the last one before acting, once.
DEBOUNCE_S = 0.1
#: Events that can mean "the file now has new content"; opening or reading it cannot.
_CHANGES = frozenset({"created", "modified", "moved", "closed", "deleted"})


class _Matcher(FileSystemEventHandler):
    def __init__(self, wanted: frozenset[str], poke: Callable[[], None]) -> None:
        self._wanted = wanted
        self._poke = poke

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in _CHANGES:
            return
        paths = (event.src_path, getattr(event, "dest_path", "") or "")
        if any(os.path.abspath(os.fsdecode(p)) in self._wanted for p in paths if p):
            self._poke()


class FileWatcher:
    """Calls `on_change` (on the event loop) once after each burst of changes to `path`;
    changes during a call lead to one more call after it."""

    def __init__(
        self,
        path: Path,
        on_change: Callable[[], Awaitable[None]],
        *,
        debounce_s: float = DEBOUNCE_S,
    ) -> None:
        self._path = path
        self._on_change = on_change
        self._debounce_s = debounce_s
        self._observer: BaseObserver | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def _targets(self) -> frozenset[str]:
        absolute = os.path.abspath(self._path)
        return frozenset({absolute, os.path.realpath(absolute)})

    async def start(self) -> None:
        """Start watching; raises OSError when the system refuses (inotify limits)."""
        loop = asyncio.get_running_loop()
        wanted = self._targets()

        def poke() -> None:  # on watchdog's thread
            loop.call_soon_threadsafe(self._poke)

        handler = _Matcher(wanted, poke)
        observer = Observer()
        for folder in sorted({os.path.dirname(p) for p in wanted}):
            observer.schedule(handler, folder, recursive=False)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def _poke(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self._debounce_s, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self._task is not None and not self._task.done():
            self._again = True  # changed while we were at it: look once more afterwards
            return
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._again = False
            try:
                await self._on_change()
            except Exception:  # a failed reaction must not end the watching
                log.exception("reacting to a change of %s failed", self._path)
            if not self._again:
                return

    async def stop(self) -> None:
        """Stop watching and wait for a reaction under way."""
        if self._timer is not None:
            self._timer.cancel()
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            await asyncio.to_thread(observer.join, 5)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

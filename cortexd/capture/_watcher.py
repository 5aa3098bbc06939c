"""Watching the inbox: watchdog notices new files, a scan at start and a periodic rescan
catch what it misses, and each file is claimed once it has settled, then filed.

Files are filed one at a time, in the order they settle. Claims left by a previous run are
resumed first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import stat
import time
from typing import TYPE_CHECKING, Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from cortexd.capture._errors import CaptureError
from cortexd.capture._inbox import Claim
from cortexd.capture._readiness import SETTLE_S, Settling, Signature, ignored
from cortexd.capture._service import Capture

if TYPE_CHECKING:
    from watchdog.observers.api import BaseObserver

log = logging.getLogger("cortexd.capture")

#: Seconds between looks while a file is settling (and after a burst of events).
POLL_S = 0.25
#: Seconds between scans when nothing is settling: the safety net under watchdog.
RESCAN_S = 30.0
#: … and when watchdog could not watch the folder (inotify limits, say).
RESCAN_UNWATCHED_S = 5.0


class _Poke(FileSystemEventHandler):
    """Wakes the scanner from watchdog's thread on any event in the inbox."""

    def __init__(self, loop: asyncio.AbstractEventLoop, wake: asyncio.Event) -> None:
        self._loop = loop
        self._wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed at shutdown
            self._loop.call_soon_threadsafe(self._wake.set)


class InboxWatcher:
    """Runs the inbox: ``await watcher.run()`` until cancelled."""

    def __init__(
        self,
        capture: Capture,
        *,
        settle_s: float = SETTLE_S,
        poll_s: float = POLL_S,
        rescan_s: float = RESCAN_S,
    ) -> None:
        self.capture = capture
        self.settling = Settling(settle_s)
        self.poll_s = poll_s
        self.rescan_s = rescan_s
        self._problem: str | None = None  # the last scan error, logged once

    async def run(self) -> None:
        """Resume left claims, then scan, claim and file until cancelled."""
        wake = asyncio.Event()
        observer = await asyncio.to_thread(self._observe, asyncio.get_running_loop(), wake)
        rescan = self.rescan_s if observer is not None else min(self.rescan_s, RESCAN_UNWATCHED_S)
        try:
            for claim in await self._guarded(self.capture.inbox.leftovers) or []:
                await self.capture.process(claim)
            while True:
                wake.clear()  # events from here on wake the next wait
                claims, settling = await self._guarded(self._scan) or ([], False)
                for claim in claims:
                    await self.capture.process(claim)
                if claims:
                    continue  # look again at once: more may have settled meanwhile
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_s if settling else rescan):
                        await wake.wait()
                await asyncio.sleep(self.poll_s)  # a burst of writes makes one look, not many
        finally:
            if observer is not None:
                await asyncio.to_thread(_stop, observer)

    def _observe(self, loop: asyncio.AbstractEventLoop, wake: asyncio.Event) -> BaseObserver | None:
        from watchdog.observers import Observer

        try:
            with self.capture.inbox.open():  # created when missing, so it can be watched
                pass
            observer = Observer()
            observer.schedule(_Poke(loop, wake), str(self.capture.inbox.path), recursive=False)
            observer.daemon = True
            observer.start()
        except (OSError, CaptureError) as error:
            log.warning(
                "cannot watch %s (%s); it is scanned every %.0f s instead",
                self.capture.inbox.path,
                error,
                RESCAN_UNWATCHED_S,
            )
            return None
        log.info("watching %s for notes to file", self.capture.inbox.path)
        return observer

    async def _guarded(self, work: Any) -> Any:
        """`work()` in a thread; an error is logged (once while it lasts) and gives None."""
        try:
            result = await asyncio.to_thread(work)
        except (OSError, CaptureError) as error:
            message = f"the inbox {self.capture.inbox.path} cannot be read: {error}"
            if message != self._problem:
                log.error("%s", message)
            self._problem = message
            return None
        self._problem = None
        return result

    def _scan(self) -> tuple[list[Claim], bool]:
        """Claim the entries that have settled; also whether any is still settling."""
        claims: list[Claim] = []
        settling = False
        present: set[str] = set()
        with self.capture.inbox.open() as inbox:
            for name in inbox.names():
                if ignored(name):
                    continue
                info = inbox.lstat(name)
                if info is None or stat.S_ISDIR(info.st_mode):
                    continue  # folders (failed/ among them) are not notes
                present.add(name)
                if stat.S_ISREG(info.st_mode) and info.st_size == 0:
                    self.settling.forget(name)  # created, not yet written: wait for its text
                    continue
                signature = Signature.of(info)
                if not self.settling.ready(name, signature, now=time.monotonic(), wall=time.time()):
                    settling = True
                    continue
                self.settling.forget(name)
                claim = self.capture.inbox.claim(inbox, name)
                if claim is not None:
                    claims.append(claim)
        self.settling.keep_only(present)
        return claims, settling


def _stop(observer: BaseObserver) -> None:
    observer.stop()
    observer.join(timeout=5)

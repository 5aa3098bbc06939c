"""Telling the user something happened: a small notifier interface and its three channels.

A `Notifier` takes a `Notice`. The daemon sends each notice to every channel at once: the
desktop (``notify-send`` on Linux, ``osascript`` on macOS, when the command exists), the
daemon's log, and ``alerts.md`` in the context folder — the one that is still there after a
laptop was asleep. One channel failing never stops the others, nor the caller.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from cortexd.context.paths import PRIVATE_FILE, private_folder

log = logging.getLogger("cortexd.bookkeeping.notices")

Level = Literal["info", "warning", "critical"]

#: A desktop notifier that hangs (no session bus, say) is given up on after this long.
DESKTOP_TIMEOUT_S = 5.0
ALERTS_HEADER = "# cortexd alerts\n\nBudget alerts and weekly digests, newest last.\n"


@dataclass(frozen=True)
class Notice:
    """One thing to tell the user: a short title, a body of a line or two, and a level."""

    title: str
    body: str
    level: Level = "info"
    kind: str = "info"  # budget | review | reload | …, for whoever files them


class Notifier(Protocol):
    """Anything that can deliver a notice. Raising is allowed; `Broadcast` contains it."""

    async def notify(self, notice: Notice) -> None: ...


class LogNotifier:
    """The daemon's log (journald under systemd)."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self._log = logger

    async def notify(self, notice: Notice) -> None:
        level = {"info": logging.INFO, "warning": logging.WARNING}.get(notice.level, logging.ERROR)
        self._log.log(level, "%s: %s", notice.title, notice.body)


class AlertsFile:
    """Appends each notice to a Markdown file (``alerts.md``), with its local time."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock

    def _append(self, notice: Notice) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(self._clock()))
        body = notice.body.replace("\n", "\n  ")
        entry = f"- **{stamp}** {notice.title}: {body}\n"
        private_folder(self.path.parent)
        fresh = not self.path.exists()
        # O_APPEND: each entry lands whole at the end, also if the user has the file open.
        # 0600: the alerts tell the month's spend.
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
        fd = os.open(self.path, flags, PRIVATE_FILE)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            if fresh:
                out.write(ALERTS_HEADER + "\n")
            out.write(entry)

    async def notify(self, notice: Notice) -> None:
        await asyncio.to_thread(self._append, notice)


def desktop_command(
    notice: Notice,
    *,
    platform: str = sys.platform,
    which: Callable[[str], str | None] = shutil.which,
) -> list[str] | None:
    """The command that shows `notice` on this desktop, or None where there is none.

    The title and body travel as arguments, never inside a script, so no text of theirs
    can be run as AppleScript.
    """
    if platform == "darwin":
        osascript = which("osascript")
        if osascript is None:
            return None
        show = "display notification (item 2 of argv) with title (item 1 of argv)"
        return [
            osascript,
            "-e",
            "on run argv",
            "-e",
            show,
            "-e",
            "end run",
            notice.title,
            notice.body,
        ]
    send = which("notify-send")
    if send is None:
        return None
    urgency = {"info": "low", "warning": "normal"}.get(notice.level, "critical")
    return [send, "--app-name=cortexd", f"--urgency={urgency}", notice.title, notice.body]


class DesktopNotifier:
    """A desktop notification, when this machine has a way to show one."""

    def __init__(
        self,
        platform: str = sys.platform,
        which: Callable[[str], str | None] = shutil.which,
        timeout_s: float = DESKTOP_TIMEOUT_S,
    ) -> None:
        self._platform = platform
        self._which = which
        self._timeout_s = timeout_s

    async def notify(self, notice: Notice) -> None:
        command = desktop_command(notice, platform=self._platform, which=self._which)
        if command is None:
            return
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(self._timeout_s):
                _, err = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise RuntimeError(f"{command[0]} did not finish in {self._timeout_s:.0f} s") from None
        if process.returncode:
            detail = err.decode(errors="replace").strip()[:200]
            raise RuntimeError(f"{command[0]} exited {process.returncode}: {detail}")


class Broadcast:
    """Every channel at once; a channel that fails is logged and the rest still deliver."""

    def __init__(self, channels: Sequence[Notifier]) -> None:
        self.channels = tuple(channels)

    async def notify(self, notice: Notice) -> None:
        results = await asyncio.gather(
            *(c.notify(notice) for c in self.channels), return_exceptions=True
        )
        for channel, result in zip(self.channels, results, strict=True):
            if isinstance(result, Exception):
                log.warning("%s could not deliver a notice: %s", type(channel).__name__, result)


def default_notifier(context_dir: Path) -> Broadcast:
    """The daemon's channels: desktop, log, and ``alerts.md`` in the context folder."""
    return Broadcast([DesktopNotifier(), LogNotifier(), AlertsFile(context_dir / "alerts.md")])

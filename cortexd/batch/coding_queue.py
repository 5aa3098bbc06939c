"""The queue of coding tasks: a file in ``queue/`` (beside ``inbox/``) is one task.

The routing file's Coding Workflow row "Dedicated coding task dispatched from queue → Codex"
is what routes it: each task is sent as the client ``cortex-queue``, so a coding task goes
to the row's tool and anything else where the Routing Table sends it. Layout::

    queue/fix-parser.md                  dropped, or written by `cortex queue add`
    queue/.running/fix-parser.md         claimed by one rename before it is read
    queue/done/fix-parser.md             the task, moved here once answered,
    queue/done/fix-parser.answer.md      and its answer beside it: model, cost, the text
    queue/failed/fix-parser.md           what could not be answered,
    queue/failed/fix-parser.md.reason.txt   and why

A task is answered exactly once: the answer is written (new, never over another) before the
task leaves ``.running/``, so a kill at any point leaves either a task to send again or an
answer with its task still to move, which the next start finishes without asking again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cortexd.batch.runner import RETRY_BASE_S, judge
from cortexd.context.paths import private_folder

log = logging.getLogger("cortexd.queue")

QUEUE_CLIENT = "cortex-queue"
RUNNING, DONE, FAILED = ".running", "done", "failed"
#: The largest task read.
MAX_TASK_BYTES = 1024 * 1024
#: Seconds between looks at the folder; a file is taken once it is unchanged for one look.
POLL_S = 0.5
#: Tasks answered at once.
AT_ONCE = 4

Send = Callable[[str, dict[str, Any]], Awaitable[tuple[int, dict[str, str], Any]]]


def task_name(text: str) -> str:
    """A file name for a task added from the CLI: its first words, and the time.

    >>> task_name("Write a parser for ISO 8601 durations").endswith("-write-a-parser-for-iso.md")
    True
    """
    words = re.findall(r"[a-z0-9]+", text.casefold())[:5]
    return time.strftime("%Y%m%d-%H%M%S-") + ("-".join(words) or "task") + ".md"


def render_answer(task: str, body: dict[str, Any]) -> str:
    """The answer's Markdown: who answered, what it cost, then the answer as written."""
    block = body.get("cortex") or {}
    text = body["choices"][0]["message"]["content"] or ""
    cost = block.get("cost_usd")
    lines = [
        f"# Answer to {task}",
        "",
        f"- model: {block.get('model')} ({body.get('model')}, {block.get('provider')})",
        f"- cost: {'unknown' if cost is None else '$' + str(cost)}",
        f"- call: {block.get('id')} (`cortex why {block.get('id')}`)",
        f"- task type: {block.get('task')}",
        f"- answered: {time.strftime('%Y-%m-%d %H:%M:%S')}",
        "",
        text,
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


class CodingQueue:
    """Runs the queue folder: ``await queue.run()`` until cancelled."""

    def __init__(self, folder: Path, send: Send, poll_s: float = POLL_S) -> None:
        self.folder = folder
        self._send = send
        self._poll_s = poll_s
        self._seen: dict[str, tuple[int, int]] = {}
        self._slots = asyncio.Semaphore(AT_ONCE)
        self._tasks: set[asyncio.Task[None]] = set()

    def listing(self) -> dict[str, list[str]]:
        """The tasks pending, running, done and failed, by file name."""

        def names(sub: Path, skip: Callable[[str], bool] = lambda _: False) -> list[str]:
            if not sub.is_dir():
                return []
            return sorted(p.name for p in sub.iterdir() if p.is_file() and not skip(p.name))

        return {
            "pending": names(self.folder, lambda n: n.startswith(".")),
            "running": names(self.folder / RUNNING),
            "done": names(self.folder / DONE, lambda n: n.endswith(".answer.md")),
            "failed": names(self.folder / FAILED, lambda n: n.endswith(".reason.txt")),
        }

    def add(self, text: str) -> str:
        """Put a task on the queue (`cortex queue add`); its file name."""
        for sub in ("", RUNNING, DONE, FAILED):
            private_folder(self.folder / sub)
        name = task_name(text)
        temp = self.folder / f".{name}.tmp"
        temp.write_text(text, encoding="utf-8")
        temp.chmod(0o600)
        os.replace(temp, self.folder / name)
        return name

    async def run(self) -> None:
        """Resume what a stopped daemon left running, then take each task as it settles."""
        for sub in ("", RUNNING, DONE, FAILED):
            private_folder(self.folder / sub)
        for left in sorted((self.folder / RUNNING).iterdir()):
            self._start(left.name)
        try:
            while True:
                for name in await asyncio.to_thread(self._settled):
                    with contextlib.suppress(FileNotFoundError):  # taken by another daemon
                        os.rename(self.folder / name, self.folder / RUNNING / name)
                        self._start(name)
                await asyncio.sleep(self._poll_s)
        finally:
            for task in self._tasks:
                task.cancel()

    def _settled(self) -> list[str]:
        """Regular files unchanged since the last look (a file still being written waits)."""
        ready, now = [], {}
        for entry in os.scandir(self.folder):
            if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            info = entry.stat(follow_symlinks=False)
            now[entry.name] = (info.st_size, info.st_mtime_ns)
            if self._seen.get(entry.name) == now[entry.name]:
                ready.append(entry.name)
        self._seen = {k: v for k, v in now.items() if k not in ready}
        return sorted(ready)

    def _start(self, name: str) -> None:
        task = asyncio.create_task(self._answer(name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, name: str) -> None:
        running, done = self.folder / RUNNING / name, self.folder / DONE
        answer = done / f"{Path(name).stem}.answer.md"
        if not answer.exists():
            async with self._slots:
                failure = await self._ask(name, running, answer)
            if failure is not None:
                await asyncio.to_thread(self._fail, name, failure)
                return
        await asyncio.to_thread(os.replace, running, done / name)
        log.info("queue: %s answered (%s)", name, answer.name)

    async def _ask(self, name: str, running: Path, answer: Path) -> str | None:
        """Send the task and write its answer; why it failed, or None."""
        try:
            data = await asyncio.to_thread(_read_task, running)
        except ValueError as error:
            return str(error)
        body = {
            "model": "auto",
            "messages": [{"role": "user", "content": data}],
            "cortex": {"client": QUEUE_CLIENT},
        }
        tries = 0
        while True:
            tries += 1
            status, headers, reply = await self._send("/v1/chat/completions", body)
            outcome = judge(status, headers, reply, tries)
            if outcome.final:
                break
            # A rate limit or an upstream failure: the task waits and is sent again.
            await asyncio.sleep(outcome.retry_after or RETRY_BASE_S * 2 ** (tries - 1))
        if status >= 400:
            said = reply.get("error") if isinstance(reply, dict) else None
            message = said.get("message") if isinstance(said, dict) else str(reply)[:500]
            return f"HTTP {status}: {message}"
        text = render_answer(name, reply)
        await asyncio.to_thread(_write_new, answer, text)
        return None

    def _fail(self, name: str, why: str) -> None:
        failed = self.folder / FAILED
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.folder / RUNNING / name, failed / name)
        (failed / f"{name}.reason.txt").write_text(why + "\n", encoding="utf-8")
        log.warning("queue: %s not answered: %s", name, why)


def _read_task(path: Path) -> str:
    info = path.lstat()
    if path.is_symlink() or not path.is_file():
        raise ValueError("not a regular file: cortexd never follows links")
    if info.st_size > MAX_TASK_BYTES:
        raise ValueError(f"too large: {info.st_size} bytes, the limit is {MAX_TASK_BYTES}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    if not text.strip():
        raise ValueError("empty")
    return text


def _write_new(path: Path, text: str) -> None:
    """Write `path` whole, never over a file there: written and synced under a temporary
    name, then linked into place (which fails if the name is taken)."""
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temp, 0o600)
    try:
        os.link(temp, path)
    finally:
        temp.unlink()

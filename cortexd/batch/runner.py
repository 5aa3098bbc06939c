"""Running one batch: every line sent through the daemon's own API, the output in order.

Each line goes to its endpoint in process (`Send`), so it is routed, budgeted, retried,
fallen back and recorded like any client's call; the batch adds a limit per provider that
adapts to rate limits (limits.py), retries of a line the whole chain could not answer for
now, and the journal (journal.py): a line is marked sent before it leaves and its answer
kept when it comes, and the output is appended in input order from what the journal holds.
A killed run resumes from the journal: answered lines are never sent again, a line that was
in flight is sent again and flagged, and the output is cut back to what the journal says it
held, so no line is ever written twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from cortexd.batch import journal
from cortexd.batch.estimate import LinePlan
from cortexd.batch.limits import ProviderLimits
from cortexd.batch.output import output_line
from cortexd.batch.provider_run import ProviderPhase
from cortexd.ledger import Ledger

log = logging.getLogger("cortexd.batch")

#: Sends of one line turned away for rate (or because cortexd was busy) before its last
#: answer is kept as it is.
MAX_LIMITED_TRIES = 10
#: Sends of one line that failed upstream (5xx) before the error is its answer.
MAX_FAILED_TRIES = 3
#: Seconds before a failed line is sent again, doubled each time.
RETRY_BASE_S = 1.0


class Send(Protocol):
    """Send one request to cortexd's own API: its status, headers and decoded body."""

    def __call__(
        self, url: str, body: dict[str, Any]
    ) -> Awaitable[tuple[int, dict[str, str], Any]]: ...


@dataclass(frozen=True)
class Outcome:
    """How a send went: `final` when its answer is the line's, `limited` when the provider
    (or cortexd) turned it away for rate, `budget` when a hard limit refused it."""

    final: bool
    limited: bool = False
    budget: bool = False
    retry_after: float | None = None
    #: The models are held back for a while (a circuit): the provider pauses, unhalved.
    held: bool = False


def judge(status: int, headers: dict[str, str], body: Any, tries: int) -> Outcome:
    """What to do after a send that answered `status` (this line's `tries`-th send)."""
    if status < 400:
        return Outcome(final=True)
    retry_after = _seconds(headers.get("retry-after"))
    code = _code(body)
    if status == 429 and code == "budget_exceeded":
        return Outcome(final=True, budget=True)
    if status in (429, 529) or (status == 503 and code in ("rate_limited", "busy")):
        return Outcome(tries >= MAX_LIMITED_TRIES, limited=True, retry_after=retry_after)
    if status == 503 and code == "no_route":
        # Every model held back by its health (an open circuit) until Retry-After: a wait,
        # not a failure of the line.
        return Outcome(tries >= MAX_LIMITED_TRIES, held=True, retry_after=retry_after)
    if status >= 500:
        return Outcome(tries >= MAX_FAILED_TRIES, retry_after=retry_after)
    return Outcome(final=True)


def _code(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        return code if isinstance(code, str) else None
    return None


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class BatchRun:
    """One batch's run (a first run or a resumed one); `stop` ends it early."""

    def __init__(
        self,
        batch_id: str,
        output: Path,
        ledger: Ledger,
        send: Send,
        limits: ProviderLimits,
        plan: Callable[[str, dict[str, Any]], LinePlan],
        phase: ProviderPhase | None = None,
    ) -> None:
        self.batch_id = batch_id
        #: The lines that go through the providers' Batch APIs (None: none do).
        self.phase = phase
        self._output = output
        self._ledger = ledger
        self._send = send
        self._limits = limits
        self._plan = plan
        self._stopped: tuple[str, str] | None = None  # (state, why)
        self._wrote = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._stop_asked = asyncio.Event()
        self._ending = False

    def stop(self, state: str, why: str) -> None:
        """Send no more lines; the run ends as `state` (cancelled, stopped) once the lines
        in flight are answered, and the lines never sent are reported with `why`."""
        if self._stopped is None:
            self._stopped = (state, why)
            self._stop_asked.set()
            if state == journal.CANCELLED and self.phase is not None:
                self.phase.cancel()

    def wrote(self) -> None:
        """A line was answered elsewhere (a provider's batch): the output may go on."""
        self._wrote.set()

    async def run(self) -> str:
        """Run the batch to its end; its final state."""
        head = await self._ledger.read(journal.summary, self.batch_id)
        if head is None:
            raise LookupError(self.batch_id)
        if not await asyncio.to_thread(_cut, self._output, head["out_bytes"]):
            # The output is shorter than written (moved, emptied): it is written again whole.
            await self._ledger.write(lambda db: journal.written(db, self.batch_id, 0, 0))
        todo = await self._ledger.read(journal.to_send, self.batch_id)
        flusher = asyncio.create_task(self._flusher())
        collector: asyncio.Task[list[int]] | None = None
        try:
            if self.phase is not None:
                if self._stopped is None:
                    todo = await self.phase.submit(todo)
                collector = asyncio.create_task(self.phase.collect())
            await self._send_all(todo)
            if collector is not None:
                # The lines no provider's batch answered (where that is allowed) go the
                # normal way once every submission is collected.
                if await collector and self._stopped is None:
                    await self._send_all(await self._ledger.read(journal.to_send, self.batch_id))
        finally:
            if collector is not None and not collector.done():
                collector.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await collector
            state, why = self._stopped or (journal.DONE, None)
            if why is not None:
                await self._ledger.write(lambda db: journal.leave_unsent(db, self.batch_id, why))
            # The flusher is told to end, never cancelled: a flush cut between its append and
            # its record would leave lines in the output that the next flush writes again.
            self._ending = True
            self._wrote.set()
            await flusher
        await self._flush()
        await self._ledger.write(lambda db: journal.finish(db, self.batch_id, state, why))
        return state

    async def _send_all(self, todo: list[tuple[int, str, str]]) -> None:
        """Send `todo`'s lines the normal way, each through the daemon's own API."""
        lines: set[asyncio.Task[None]] = set()
        # Lines are planned as they are taken up, a window ahead of the sends, so that a long
        # batch never holds the event loop to plan every line at once.
        window = asyncio.Semaphore(self._limits.window)
        try:
            for seq, url, body in todo:
                await window.acquire()
                if self._stopped is not None:
                    break
                task = asyncio.create_task(self._line(seq, url, body))
                lines.add(task)
                task.add_done_callback(lines.discard)
                task.add_done_callback(lambda _: window.release())
            await asyncio.gather(*lines)
        finally:
            for task in lines:
                task.cancel()

    async def _line(self, seq: int, url: str, raw: str) -> None:
        body = json.loads(raw)
        plan = self._plan(url, body)
        limit = self._limits.of(plan.provider or "-", plan.local)
        tries = 0
        while self._stopped is None:
            while limit.pause_s() > 0 and self._stopped is None:
                await self._sleep(limit.pause_s())
            if self._stopped is not None:
                return
            await limit.acquire()
            outcome = Outcome(final=True)
            try:
                if self._stopped is not None:
                    return
                tries += 1
                if tries == 1:
                    # On record before it leaves: found so after a kill, it was in flight.
                    await self._ledger.write(
                        lambda db: journal.mark_sent(db, [(self.batch_id, seq)])
                    )
                status, headers, answer = await self._send(url, body)
                outcome = judge(status, headers, answer, tries)
                if outcome.final:
                    call_id = headers.get("x-cortex-call-id") or _block_id(answer)
                    kept = journal.Answer(seq, status, answer, call_id)
                    await self._ledger.write(partial(journal.record, items=[(self.batch_id, kept)]))
                    self._wrote.set()
                    if outcome.budget:
                        message = _message(answer)
                        self.stop(journal.STOPPED, f"stopped at a budget's hard limit: {message}")
                    return
            finally:
                pause = outcome.limited or outcome.held
                await limit.release(outcome.limited, outcome.retry_after if pause else None)
            if not pause:
                await self._sleep(outcome.retry_after or RETRY_BASE_S * 2 ** (tries - 1))

    async def _sleep(self, seconds: float) -> None:
        """Wait `seconds`, or until the run is stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_asked.wait(), seconds)

    async def _flusher(self) -> None:
        while not self._ending:
            await self._wrote.wait()
            self._wrote.clear()
            await self._flush()
            await asyncio.sleep(0.05)  # gathers a few answers into one append

    async def _flush(self) -> None:
        """Append to the output the answered lines that come next, and journal how far."""
        async with self._flushing:
            await self._flush_now()

    async def _flush_now(self) -> None:
        while True:
            rows = await self._ledger.read(journal.ready_to_write, self.batch_id)
            if not rows:
                return
            text = "".join(output_line(row) + "\n" for row in rows)
            size = await asyncio.to_thread(_append, self._output, text)
            upto = rows[-1]["seq"] + 1
            await self._ledger.write(
                partial(journal.written, batch_id=self.batch_id, out_lines=upto, out_bytes=size)
            )


def _block_id(body: Any) -> str | None:
    """The call's id in a Chat Completions answer's ``cortex`` block."""
    block = body.get("cortex") if isinstance(body, dict) else None
    found = block.get("id") if isinstance(block, dict) else None
    return found if isinstance(found, str) else None


def _message(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("message")) if isinstance(error, dict) else "refused"


def _cut(path: Path, size: int) -> bool:
    """Cut the output back to the `size` the journal last recorded (what was appended after
    is written again); False when it is shorter than that, and is now empty."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        whole = handle.seek(0, os.SEEK_END) >= size
        handle.truncate(size if whole else 0)
        return whole


def _append(path: Path, text: str) -> int:
    """Append `text`, synced; the file's size after it."""
    with open(path, "ab") as handle:
        handle.write(text.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
        return handle.tell()

"""Hedged fallback: a primary with no content by its threshold gets its fallback beside it.

The threshold is the primary's recent time to first token for the task (its p95, with a
floor; a default before there is data), so a model answering as it usually does is never
hedged, and one slower than it has been lets the fallback start. Whichever produces content
first answers; the other is cancelled, and dispatch records it as such. Whether a call may
hedge at all (its input size, local-only, the budgets, the routing file's ``Hedging``
setting) is the caller's `HedgePolicy`: dispatch only runs the race.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cortexd.routing.catalog import ModelSpec
from cortexd.routing.providers.chat import StreamEvent

#: No model is hedged sooner than this: a fallback started for every slightly slow answer
#: doubles what calls cost.
HEDGE_FLOOR_S = 2.0
#: The threshold before a model has answered this task often enough to have a p95.
HEDGE_DEFAULT_S = 8.0
#: Time-to-first-token samples needed before the p95 is trusted.
MIN_SAMPLES = 5


def hedge_threshold(ttfts: Sequence[float]) -> float:
    """When to start the fallback: the recent TTFTs' 95th percentile, at least the floor.

    >>> hedge_threshold([]), hedge_threshold([0.4] * 20), hedge_threshold([3.0] * 19 + [9.0])
    (8.0, 2.0, 9.0)
    """
    if len(ttfts) < MIN_SAMPLES:
        return HEDGE_DEFAULT_S
    ordered = sorted(ttfts)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return max(HEDGE_FLOOR_S, p95)


@dataclass(frozen=True)
class HedgePolicy:
    """A call's hedging rules, from the pipeline.

    `after_s(primary)` is when to start the fallback; `refusal(partner)` says why the
    fallback may not run beside the primary (None: it may); `started(partner)` is told when
    the race begins, before the fallback is sent (its share of the budget is held then).
    """

    after_s: Callable[[ModelSpec], float]
    refusal: Callable[[ModelSpec], str | None]
    started: Callable[[ModelSpec], None] = lambda partner: None


@dataclass
class _Failure:
    error: BaseException


_DONE = object()
Attempt = Callable[[asyncio.Event], AsyncGenerator[StreamEvent, None]]


class _Runner:
    """One attempt run as a task: its events queued, `content` set when it has content."""

    def __init__(self, attempt: Attempt) -> None:
        self.content = asyncio.Event()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.task = asyncio.create_task(self._pump(attempt(self.content)))

    async def _pump(self, events: AsyncGenerator[StreamEvent, None]) -> None:
        try:
            async for event in events:
                self._queue.put_nowait(event)
        except asyncio.CancelledError:
            raise  # the attempt recorded itself as cancelled
        except BaseException as error:  # noqa: BLE001 - handed to the reader, raised there
            self._queue.put_nowait(_Failure(error))
            return
        finally:
            await events.aclose()
        self._queue.put_nowait(_DONE)

    async def events(self) -> AsyncIterator[StreamEvent]:
        """The attempt's events as they come; its failure is raised here."""
        while True:
            item = await self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item

    async def cancel(self) -> None:
        if not self.task.done():
            self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def _settled(runner: _Runner, timeout: float) -> bool:
    """Whether `runner` has content, or has ended, within `timeout`."""
    content = asyncio.ensure_future(runner.content.wait())
    waits: set[asyncio.Future[Any]] = {content, runner.task}
    try:
        done, _ = await asyncio.wait(
            waits, timeout=max(timeout, 0.0), return_when="FIRST_COMPLETED"
        )
    finally:
        content.cancel()
    return bool(done)


async def _first_content(a: _Runner, b: _Runner) -> tuple[_Runner, _Runner]:
    """The runner that answers first, and the other: the first with content, else, once one
    has ended without content, the one still running."""
    while True:
        watch: dict[asyncio.Future[Any], _Runner] = {
            asyncio.ensure_future(a.content.wait()): a,
            asyncio.ensure_future(b.content.wait()): b,
        }
        pending: set[asyncio.Future[Any]] = set(watch) | {a.task, b.task}
        try:
            await asyncio.wait(pending, return_when="FIRST_COMPLETED")
        finally:
            for future in watch:
                future.cancel()
        for runner in (a, b):
            if runner.content.is_set():
                return runner, (b if runner is a else a)
        if a.task.done() and b.task.done():
            return a, b
        if a.task.done():
            return b, a
        if b.task.done():
            return a, b


async def race(
    primary: Attempt, partner: Attempt, after_s: float, on_hedge: Callable[[], None]
) -> AsyncGenerator[StreamEvent, None]:
    """The primary's events; if it has no content by `after_s`, the partner starts beside
    it and whichever has content first is followed, the other cancelled."""
    first = _Runner(primary)
    runners = [first]
    try:
        order = [first]
        if not await _settled(first, after_s):
            on_hedge()
            second = _Runner(partner)
            runners.append(second)
            winner, loser = await _first_content(first, second)
            if winner.content.is_set():
                await loser.cancel()
                order = [winner]
            else:
                order = [first, second]  # neither answered: each one's outcome, in turn
        for runner in order:
            async for event in runner.events():
                yield event
    finally:
        for runner in runners:
            await runner.cancel()

"""The one way a test waits: for a condition, with a deadline, failing with what it waited for.

Where an event can be awaited (a daemon's answer, a queue, a process's exit) a test awaits
it; these are for conditions nothing announces (a file another thread writes, a count that
grows), polled often enough that a test never waits longer than it must.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

#: Long enough for a loaded 2-core CI machine; a passing test never waits this long.
DEADLINE_S = 20.0
POLL_S = 0.02


def _polls(what: str, timeout: float) -> Iterator[None]:
    """One step per poll until `timeout` seconds have passed, then the failure."""
    deadline = time.monotonic() + timeout
    while True:
        yield
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_for(check: Callable[[], T], what: str, timeout: float = DEADLINE_S) -> T:
    """`check()`'s first true value; AssertionError naming `what` after `timeout` s."""
    for _ in _polls(what, timeout):
        if found := check():
            return found
        time.sleep(POLL_S)
    raise AssertionError("unreachable")  # pragma: no cover - _polls raises


async def until(check: Callable[[], T], what: str, timeout: float = DEADLINE_S) -> T:
    """`wait_for` on an event loop: polls without blocking it."""
    for _ in _polls(what, timeout):
        if found := check():
            return found
        await asyncio.sleep(POLL_S / 2)
    raise AssertionError("unreachable")  # pragma: no cover - _polls raises

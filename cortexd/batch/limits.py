"""How many of a batch's lines each provider gets at once: a limit that adapts.

Each provider starts at its ceiling (the batch's concurrency; local models their own, lower
one). A line its provider turned away for rate (a 429, a chain that was all rate-limited)
halves the limit and holds new sends until its ``Retry-After`` has passed; each run of
answered lines as long as the limit raises it by one again, up to the ceiling. The
additive-increase, multiplicative-decrease rule TCP uses: the limit settles just under what
the account allows.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class AdaptiveLimit:
    """One provider's limit; `acquire` before a send and `release` after it."""

    ceiling: int
    limit: int = 0
    active: int = 0
    #: When new sends may start again (monotonic seconds), after a rate limit.
    paused_until: float = 0.0
    _run: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def __post_init__(self) -> None:
        self.ceiling = max(1, self.ceiling)
        self.limit = self.limit or self.ceiling

    def pause_s(self) -> float:
        """How long new sends must still wait after a rate limit (0 when they need not)."""
        return max(0.0, self.paused_until - time.monotonic())

    async def acquire(self) -> None:
        """Wait for a free place under the limit (the caller waits out `pause_s` first)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.active < self.limit)
            self.active += 1

    async def release(self, limited: bool = False, retry_after: float | None = None) -> None:
        """A send is over; `limited` when the provider turned it away for rate (the limit
        halves), `retry_after` when new sends must wait that long."""
        async with self._changed:
            self.active -= 1
            if limited or retry_after is not None:
                pause = retry_after if retry_after is not None else 1.0
                self.paused_until = max(self.paused_until, time.monotonic() + min(pause, 60.0))
            if limited:
                self.limit = max(1, self.limit // 2)
                self._run = 0
            else:
                self._run += 1
                if self._run >= self.limit and self.limit < self.ceiling:
                    self.limit += 1
                    self._run = 0
            self._changed.notify_all()


@dataclass
class ProviderLimits:
    """A limit per provider, made on first use: cloud providers at `cloud`, local at `local`."""

    cloud: int
    local: int
    limits: dict[str, AdaptiveLimit] = field(default_factory=dict)

    @property
    def window(self) -> int:
        """How many lines a run takes up at once: enough to keep two cloud providers and a
        local one busy while others wait out a rate limit."""
        return 2 * self.cloud + self.local

    def of(self, provider: str, is_local: bool) -> AdaptiveLimit:
        """The limit for `provider`."""
        if provider not in self.limits:
            self.limits[provider] = AdaptiveLimit(self.local if is_local else self.cloud)
        return self.limits[provider]

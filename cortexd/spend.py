"""This month's spend, kept in memory for the request path.

The budget gate runs before every call and must not read the database, so spend is held
here: loaded from the ledger at start and at each scheduled check, and added to as dispatch
reports each priced try. Calls in flight hold a reservation of their estimated cost, so a
burst of concurrent calls cannot all slip under a hard limit together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cortexd.ledger.months import Month
from cortexd.routing import Budget, Spend, crossed, pico
from cortexd.routing.dispatch import Attempt


@dataclass(frozen=True)
class _Hold:
    provider: str
    amount: int


class SpendTracker:
    """Month-to-date spend per provider plus the reservations of calls in flight.

    `budgets` gives the routing file's budgets as they are now (they change on reload);
    `on_cross` is called, on the event loop, when a recorded try takes spend past an alert
    threshold (the scheduled check then alerts, once).
    """

    def __init__(
        self,
        budgets: Callable[[], Mapping[str, Budget]],
        on_cross: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._budgets = budgets
        self.on_cross = on_cross
        self._clock = clock
        self._month = Month.of(clock())
        self._spent: dict[str, int] = {}
        self._holds: dict[str, _Hold] = {}
        self._held: dict[str, int] = {}  # the holds summed per provider, kept as they change
        # The event loop writes; the report's thread reads. Uncontended, it costs ~0.1 µs.
        self._lock = threading.RLock()

    def _roll(self) -> None:
        now = self._clock()
        with self._lock:
            if not self._month.start <= now < self._month.end:
                self._month, self._spent = Month.of(now), {}

    @property
    def month(self) -> Month:
        """The month being counted."""
        self._roll()
        return self._month

    def load(self, month: Month, spent: Mapping[str, int]) -> None:
        """Replace the counts with the ledger's (`month` must be the current one to count)."""
        with self._lock:
            self._roll()
            if month.start == self._month.start:
                self._spent = dict(spent)

    def committed(self) -> Spend:
        """Spend from tries that ended (safe to ask from another thread)."""
        with self._lock:
            self._roll()
            return Spend(dict(self._spent))

    def spend(self) -> Spend:
        """Spend from tries that ended, plus what calls in flight have reserved."""
        self._roll()
        total = dict(self._spent)
        for provider, amount in self._held.items():
            total[provider] = total.get(provider, 0) + amount
        return Spend(total)

    def reserve(self, call_id: str, provider: str, amount: int) -> None:
        """Hold `amount` against `provider` until `release(call_id)`."""
        if amount > 0:
            self.release(call_id)
            self._holds[call_id] = _Hold(provider, amount)
            self._held[provider] = self._held.get(provider, 0) + amount

    def release(self, call_id: str) -> None:
        """The call ended (its tries are counted by now); idempotent."""
        hold = self._holds.pop(call_id, None)
        if hold is not None:
            self._held[hold.provider] -= hold.amount

    def settle(self, call_id: str) -> None:
        """The call ended without a price (a broken or abandoned stream bills its tokens,
        but their count never came): count its reservation as spent."""
        hold = self._holds.get(call_id)
        self.release(call_id)
        if hold is not None:
            self._add(hold.provider, hold.amount)

    def __call__(self, attempt: Attempt) -> None:
        """Dispatch's sink: count a priced try; tell `on_cross` when a threshold is passed."""
        if attempt.cost_usd is None or attempt.outcome not in ("ok", "error"):
            return
        amount = pico(attempt.cost_usd)
        if amount > 0:
            self._add(attempt.provider, amount)

    def _add(self, provider: str, amount: int) -> None:
        with self._lock:
            self._roll()
            was = self._spent.get(provider, 0)
            self._spent[provider] = was + amount
        budgets = self._budgets()
        if budgets:
            before = Spend({**self._spent, provider: was})
            if crossed(before, Spend(self._spent), budgets):
                self.on_cross()

"""This month's spend, kept in memory for the request path: the ledger's, and what calls in
flight hold.

The budget gate runs before every call and must not read the database, so spend is held
here. The settled part is the ledger's own: loaded at start, then added to as the ledger
announces each commit, counting the very tries `bookkeeping.month_spend` sums (every priced
try of the calls started this month, at the same rounding). So ``GET /v1/budgets``,
``cortex costs``, the alerts and a restart agree to the cent: nothing is counted here that
the ledger does not hold.

Calls in flight are counted apart (`held`): each holds its reservation (its estimated cost)
from before it is sent, and once its tries cost more than that, what they cost; the hold
ends when the call's record is committed, and its tries are settled in the same step. The
gate counts both (`spend`), so a burst of concurrent calls cannot all slip under a hard
limit together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cortexd.ledger import CallRecord
from cortexd.ledger.months import Month
from cortexd.ledger.records import to_pico
from cortexd.routing import Budget, Spend, crossed
from cortexd.routing.dispatch import Attempt


@dataclass(frozen=True)
class _Hold:
    """One call in flight: its reservations per provider (its first model's; a hedged
    call's second model's too), and what its finished tries cost so far, per provider."""

    reserved: Mapping[str, int] = field(default_factory=dict)
    tried: Mapping[str, int] = field(default_factory=dict)

    def amounts(self) -> dict[str, int]:
        """What the call counts now, per provider: its reservation, or its tries where they
        cost more."""
        out = dict(self.tried)
        for provider, amount in self.reserved.items():
            out[provider] = max(amount, out.get(provider, 0))
        return out


def _priced(attempt: Attempt) -> int | None:
    """What a try counts, as the ledger stores it (None: nothing, or a price unknown)."""
    if attempt.outcome == "skipped":
        return None
    return to_pico(attempt.cost_usd)


class SpendTracker:
    """Month-to-date spend per provider: settled (the ledger's) and held by calls in flight.

    `budgets` gives the routing file's budgets as they are now (they change on reload);
    `on_cross` is called, on the event loop, when a commit takes the settled spend past an
    alert threshold (the scheduled check then alerts, once).
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
        """Start from the ledger's figures (`bookkeeping.month_spend`), read before any call
        (`month` must be the current one to count). Commits announced after the read are
        added by `settle`, so this is for the start, not for a running daemon."""
        with self._lock:
            self._roll()
            if month.start == self._month.start:
                self._spent = dict(spent)

    def committed(self) -> Spend:
        """The settled spend: what the ledger holds (safe to ask from another thread)."""
        with self._lock:
            self._roll()
            return Spend(dict(self._spent))

    def held(self) -> Spend:
        """What calls in flight hold: reservations, or their tries where those cost more."""
        return Spend({p: amount for p, amount in self._held.items() if amount})

    def spend(self) -> Spend:
        """The settled spend plus what calls in flight hold: what the budget gate counts."""
        self._roll()
        total = dict(self._spent)
        for provider, amount in self._held.items():
            total[provider] = total.get(provider, 0) + amount
        return Spend(total)

    def reserve(self, call_id: str, provider: str, amount: int, *, more: bool = False) -> None:
        """Hold `amount` against `provider` for `call_id` until its record is committed (a
        second reservation on another provider adds to the call's hold; on the same one it
        replaces the first, unless it is `more`: a hedge's second model on one provider)."""
        if amount > 0:
            hold = self._holds.get(call_id) or _Hold()
            held = hold.reserved.get(provider, 0) if more else 0
            self._change(call_id, _Hold({**hold.reserved, provider: held + amount}, hold.tried))

    def __call__(self, attempt: Attempt) -> None:
        """Dispatch's sink: a priced try counts in its call's hold until the call is settled
        (a second opinion's and a judge's tries count in their call's)."""
        amount = _priced(attempt)
        if not amount:
            return
        call_id = attempt.request_id.partition(":")[0]
        hold = self._holds.get(call_id) or _Hold()
        tried = {**hold.tried, attempt.provider: hold.tried.get(attempt.provider, 0) + amount}
        self._change(call_id, _Hold(hold.reserved, tried))

    def settle(self, calls: Sequence[CallRecord]) -> None:
        """The ledger committed `calls` (its listener, on the event loop): their holds end
        and their tries are settled, when the call started this month, as the ledger sums
        them. Tells `on_cross` when a budget's threshold was passed."""
        with self._lock:
            self._roll()
            before = Spend(dict(self._spent))
            for call in calls:
                self._change(call.id, None)
                if not self._month.start <= call.started_at < self._month.end:
                    continue
                for attempt in call.attempts:
                    amount = _priced(attempt)
                    if amount:
                        spent = self._spent.get(attempt.provider, 0)
                        self._spent[attempt.provider] = spent + amount
            after = Spend(dict(self._spent))
        budgets = self._budgets()
        if budgets and crossed(before, after, budgets):
            self.on_cross()

    def _change(self, call_id: str, hold: _Hold | None) -> None:
        """Replace `call_id`'s hold (None: end it), keeping the sums per provider."""
        old = self._holds.pop(call_id, None)
        if old is not None:
            for provider, amount in old.amounts().items():
                self._held[provider] -= amount
        if hold is not None:
            self._holds[call_id] = hold
            for provider, amount in hold.amounts().items():
                self._held[provider] = self._held.get(provider, 0) + amount

"""A call's hedging rules (routing/dispatch/hedge.py runs the race): when a late primary
gets its fallback started beside it, and when it may not.

The threshold is the primary's recent time to first token for the task (its p95, from the
calls this daemon answered; a default until there are enough). No hedge for a local-only
call (there is no second local model to race), above an input size where sending the
prompt twice costs real money, or when the fallback's provider is past a budget's hard
limit or already past its first alert (an extra call is a luxury).
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

from cortexd.routing import ModelSpec, call_estimate
from cortexd.routing.dispatch import HedgePolicy, estimate_tokens, hedge_threshold

if TYPE_CHECKING:
    from cortexd.bookkeeping.spend import SpendTracker
    from cortexd.pipeline.plan import Planned
    from cortexd.routing_generation import Routing

#: Time-to-first-token samples kept per model and task.
KEPT = 50


class RecentTtfts:
    """Per (model, task), the times to first token of the latest answered calls.

    >>> recent = RecentTtfts()
    >>> for seconds in (0.5, 0.7, 0.6, 0.9, 0.8):
    ...     recent.observe("sonnet", "Code review", seconds)
    >>> recent.threshold("sonnet", "Code review"), recent.threshold("opus", "Code review")
    (2.0, 8.0)
    """

    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._ttfts: dict[tuple[str, str], collections.deque[float]] = {}

    def observe(self, model: str, task: str, seconds: float | None) -> None:
        """A call of `task` answered by `model` had its first token after `seconds`."""
        if seconds is None or seconds < 0:
            return
        key = (model, task)
        if key not in self._ttfts:
            self._ttfts[key] = collections.deque(maxlen=self._kept)
        self._ttfts[key].append(seconds)

    def threshold(self, model: str, task: str) -> float:
        """When a late `model` gets its fallback beside it, for `task`."""
        return hedge_threshold(list(self._ttfts.get((model, task), ())))


def hedge_policy(
    routing: Routing,
    spend: SpendTracker,
    ttfts: RecentTtfts,
    planned: Planned,
    call_id: str,
    *,
    session: str | None = None,
) -> HedgePolicy | None:
    """The call's hedging rules under `routing` (the generation the call took); None where
    it may not hedge at all. A late primary is one past its `ttfts` threshold. A started
    race holds the fallback's estimate in the call's budget hold (`spend`) beside the
    primary's. A coding agent's `session` is raced only inside the provider it is on
    (`pipeline/pins`)."""
    plan = planned.plan
    table = routing.table
    if plan.local_only or len(plan.chain) < 2:
        return None
    route = table.routes.get(plan.task)
    row = route.hedging if route is not None else None
    if row is False or row is None and not table.hedging.enabled:
        return None  # the routing file's Hedging setting, for this row or for all
    if estimate_tokens(planned.chat) > table.hedging.max_input_tokens:
        return None

    chain = planned.chain

    def refusal(partner: ModelSpec) -> str | None:
        from cortexd.api.budgets import within_budget  # the budgets' own rule for extras

        index = chain.index(partner.name) if partner.name in chain else 0
        primary = routing.catalog.resolve(chain[index - 1]) if index else None
        if session and primary is not None and primary.provider != partner.provider:
            # A race won by another provider would move the session on a whim.
            return "a hedge never moves a session to another provider"

        kept, why = within_budget(routing, spend, (partner.name,), planned.priced)
        return None if kept else ("; ".join(why) or "past a budget")

    def started(partner: ModelSpec) -> None:
        estimate = call_estimate(routing.catalog, planned.priced)(partner)
        spend.reserve(call_id, partner.provider.value, estimate, more=True)

    return HedgePolicy(
        after_s=lambda primary: ttfts.threshold(primary.name, plan.task),
        refusal=refusal,
        started=started,
    )

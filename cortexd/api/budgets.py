"""Budgets on the API: the gate every chat call passes before it is sent, and
``GET /v1/budgets`` (where each monthly budget stands, and the alerts sent)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cortexd.ledger.bookkeeping import alerts_of
from cortexd.ledger.queries import usd
from cortexd.routing import (
    DEFAULT_TASK,
    Gated,
    ModelSpec,
    RoutePlan,
    RoutingTable,
    Toggle,
    call_estimate,
    gate,
    past_alert,
    statuses,
)
from cortexd.routing.providers import ChatRequest
from cortexd.services import Services

if TYPE_CHECKING:
    from cortexd.bookkeeping.spend import SpendTracker
    from cortexd.routing_generation import Routing

#: Why no call is ever held back, for `cortex costs` and the health check.
NO_BUDGET = (
    "no budget set: spend is tracked but never limited or alerted on "
    "(cortex budget set PROVIDER AMOUNT)"
)


def _gate(
    routing: Routing,
    spend: SpendTracker,
    chain: tuple[str, ...],
    chat: ChatRequest,
    local: str | None = None,
) -> tuple[Gated, Callable[[ModelSpec], int]]:
    """`chain` through `routing`'s budgets (the caller has checked there are some) at the
    month's `spend`, and the estimate it was judged with."""
    estimate = call_estimate(routing.catalog, chat)
    spent = spend.spend()
    return gate(chain, routing.catalog, spent, routing.table.budgets, estimate, local), estimate


def budget_plan(
    routing: Routing,
    spend: SpendTracker,
    active: frozenset[str],
    plan: RoutePlan,
    chat: ChatRequest,
) -> tuple[RoutePlan, str | None, tuple[str, int] | None]:
    """The plan after the budgets' policies at 100%, the refusal if the call may not be
    sent, and what it should hold while it runs (its first model's provider and estimate).
    `routing` is the generation the call took, `active` the local models active on this
    machine. Changes nothing."""
    if not routing.table.budgets:
        return plan, None, None
    local = _active_local(routing.table, plan.task, active)
    gated, estimate = _gate(routing, spend, plan.chain, chat, local)
    if gated.notes:
        plan = replace(plan, chain=gated.chain or plan.chain, reasons=plan.reasons + gated.notes)
    first = routing.catalog.resolve(plan.chain[0])
    if first is None or first.local:
        return plan, gated.refusal, None
    return plan, gated.refusal, (first.provider.value, estimate(first))


def _active_local(table: RoutingTable, task: str, active: frozenset[str]) -> str | None:
    """The task's local model (else the default route's) when its row is in use — forced
    on, or active on this machine: an inactive row cannot take a spent provider's calls."""
    row = table.local.get(task) or table.local.get(DEFAULT_TASK)
    if row is None or row.toggle is Toggle.OFF:
        return None
    return row.model if row.toggle is Toggle.ON or row.model in active else None


def within_budget(
    routing: Routing, spend: SpendTracker, chain: tuple[str, ...], chat: ChatRequest
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The models of `chain` the budgets leave for an extra call (a second opinion, its
    judge), and why others were dropped: past a hard limit, and already past a budget's
    first alert threshold, since an extra call is a luxury. Such calls are skipped, never
    refused. `routing` is the generation the call took."""
    table = routing.table
    if not table.budgets:
        return chain, ()
    gated, _ = _gate(routing, spend, chain, chat)
    notes = list(gated.notes)
    spent = spend.spend()
    kept = []
    for name in () if gated.refusal else gated.chain:
        spec = routing.catalog.resolve(name)
        why = past_alert(spec, spent, table.budgets) if spec is not None else None
        if why is None:
            kept.append(name)
        else:
            notes.append(f"{name} not asked: {why}")
    return tuple(kept), tuple(notes)


def budget_json(routing: Routing, spend: SpendTracker) -> dict[str, Any]:
    """Each budget of `routing`'s table: its limit, spend, percent and policy; or why there
    are none.

    `spent_usd` is the settled spend, the ledger's (what `cortex costs` and the alerts
    count); `reserved_usd` what calls in flight hold against it (the gate counts both).
    """
    budgets = routing.table.budgets
    found = statuses(spend.committed(), budgets)
    held = spend.held()
    return {
        "month": spend.month.label,
        "set": bool(budgets),
        "note": None if budgets else NO_BUDGET,
        "reserved_usd": usd(sum(held.by_provider.values())),
        "budgets": [
            {
                "scope": s.budget.scope,
                "limit_usd": format(s.budget.monthly_limit, "f"),
                "spent_usd": usd(s.spent),
                "reserved_usd": usd(held.of(s.budget.scope)),
                "percent": round(s.percent, 1),
                "thresholds": list(s.budget.thresholds),
                "reached": list(s.reached),
                "at_limit": s.budget.at_limit.value,
                "line": s.budget.line,
            }
            for s in found
        ],
    }


async def budgets_route(request: Request) -> Response:
    """``GET /v1/budgets``: the budgets, this month's spend against them, the alerts sent."""
    services: Services = request.app.state.services
    out = budget_json(services.routing, services.spend)
    out["alerts"] = await services.ledger.read(alerts_of, month=out["month"])
    return JSONResponse(out)

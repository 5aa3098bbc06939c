"""Monthly budgets as pure policy: where spend stands, which thresholds it crossed, and
what a call may use before it is sent.

Money is integer pico-dollars (10⁻¹² USD), as in the ledger, so sums are exact. A budget's
scope is a cloud provider (``anthropic``, ``openai``) or ``total`` (every cloud provider);
local models cost nothing and are never held back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from cortexd.errors import CortexError
from cortexd.routing.catalog import Catalog, ModelSpec, Provider
from cortexd.routing.dispatch.attempt import cost_usd
from cortexd.routing.dispatch.requirements import DEFAULT_ANSWER_TOKENS, estimate_tokens
from cortexd.routing.providers.anthropic_wire import answer_cap
from cortexd.routing.providers.chat import ChatRequest, Usage
from cortexd.routing.table import Budget, BudgetPolicy

PICO = 10**12
TOTAL = "total"

#: When several budgets bind one model (its provider's and the total), the strictest wins.
_STRICTNESS = {
    BudgetPolicy.CONTINUE: 0,
    BudgetPolicy.FALLBACK: 1,
    BudgetPolicy.LOCAL: 2,
    BudgetPolicy.REFUSE: 3,
}


def pico(usd: Decimal) -> int:
    """Dollars as integer pico-dollars (rounded to the nearest).

    >>> pico(Decimal("0.000003"))
    3000000
    """
    return int((usd * PICO).to_integral_value())


def dollars(amount: int) -> str:
    """Pico-dollars for people: ``$12.34``, or four decimals under a dollar.

    >>> dollars(12_345_000_000_000), dollars(4_200_000_000)
    ('$12.35', '$0.0042')
    """
    value = Decimal(amount) / PICO
    return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.4f}"


class BudgetExceededError(CortexError):
    """A call was not sent: its models' budgets are spent and the policy at 100% refuses."""


@dataclass(frozen=True)
class Spend:
    """Month-to-date spend per cloud provider, in pico-dollars."""

    by_provider: Mapping[str, int]

    def of(self, scope: str) -> int:
        """The spend a budget of `scope` counts."""
        if scope == TOTAL:
            return sum(self.by_provider.values())
        return self.by_provider.get(scope, 0)


@dataclass(frozen=True)
class BudgetStatus:
    """Where one budget stands this month."""

    budget: Budget
    spent: int

    @property
    def limit(self) -> int:
        return self.budget.limit_pico

    @property
    def percent(self) -> float:
        return 100.0 * self.spent / self.limit

    @property
    def reached(self) -> tuple[int, ...]:
        """The alert thresholds (percent) that spend has reached."""
        return tuple(t for t in self.budget.thresholds if self.spent * 100 >= self.limit * t)


def statuses(spend: Spend, budgets: Mapping[str, Budget]) -> list[BudgetStatus]:
    """Every budget with its spend, providers first and the total last."""
    order = sorted(budgets, key=lambda scope: (scope == TOTAL, scope))
    return [BudgetStatus(budgets[s], spend.of(s)) for s in order]


def crossed(before: Spend, after: Spend, budgets: Mapping[str, Budget]) -> list[tuple[str, int]]:
    """The (scope, threshold) pairs that `after` reached and `before` had not.

    >>> b = {"openai": Budget("openai", Decimal(10), (50, 80), BudgetPolicy.CONTINUE, 1)}
    >>> crossed(Spend({"openai": 4 * PICO}), Spend({"openai": 9 * PICO}), b)
    [('openai', 50), ('openai', 80)]
    """
    found = []
    for scope, budget in budgets.items():
        was, now = before.of(scope) * 100, after.of(scope) * 100
        if now > was:
            limit = budget.limit_pico
            found += [(scope, t) for t in budget.thresholds if was < limit * t <= now]
    return found


def past_alert(spec: ModelSpec, spend: Spend, budgets: Mapping[str, Budget]) -> str | None:
    """Why an optional extra call (a second opinion, its judge) on `spec` is not worth its
    cost: a budget that counts it — its provider's or the total — has reached its first
    alert threshold. None when the call may go.

    >>> b = {"total": Budget("total", Decimal(10), (80, 100), BudgetPolicy.FALLBACK, 1)}
    >>> from cortexd.routing.catalog import Api
    >>> opus = ModelSpec("opus", Provider.ANTHROPIC, "claude-opus-4-5", Api.MESSAGES)
    >>> past_alert(opus, Spend({"anthropic": 8 * PICO}), b)
    'the total budget is at 80% of $10, past its 80% alert'
    >>> past_alert(opus, Spend({"anthropic": 7 * PICO}), b) is None
    True
    """
    if spec.local:
        return None
    for scope in (spec.provider.value, TOTAL):
        budget = budgets.get(scope)
        if budget is None or not budget.thresholds:
            continue
        first = min(budget.thresholds)
        spent = spend.of(scope)
        if spent * 100 >= budget.limit_pico * first:
            name = "the total budget" if scope == TOTAL else f"the {scope} budget"
            percent = 100 * spent // budget.limit_pico
            return f"{name} is at {percent}% of ${budget.monthly_limit:g}, past its {first}% alert"
    return None


@dataclass(frozen=True)
class Gated:
    """A chain after the budgets had their say.

    `refusal` is set when the call must not be sent at all; `notes` say what changed and why,
    for the plan's reasons; `limited` names the budgets that acted.
    """

    chain: tuple[str, ...]
    notes: tuple[str, ...] = ()
    refusal: str | None = None
    limited: tuple[str, ...] = ()


def _binding(
    spec: ModelSpec, spend: Spend, budgets: Mapping[str, Budget], estimate: int
) -> tuple[Budget, int] | None:
    """The strictest budget this model's call would take past its limit, with its spend."""
    found: tuple[Budget, int] | None = None
    for scope in (spec.provider.value, TOTAL):
        budget = budgets.get(scope)
        if budget is None or budget.at_limit is BudgetPolicy.CONTINUE:
            continue
        spent = spend.of(scope)
        if spent + estimate <= budget.limit_pico:
            continue
        if found is None or _STRICTNESS[budget.at_limit] > _STRICTNESS[found[0].at_limit]:
            found = (budget, spent)
    return found


def gate(
    chain: tuple[str, ...],
    catalog: Catalog,
    spend: Spend,
    budgets: Mapping[str, Budget],
    estimate: Callable[[ModelSpec], int],
    local_model: str | None = None,
) -> Gated:
    """Apply the budgets' 100% policies to `chain` before anything is sent.

    A cloud model whose call (spend so far plus `estimate` of this call) would pass a hard
    limit is handled by that budget's policy: ``fallback`` drops it so the chain's next
    model answers; ``local`` puts `local_model` (the task's local model) in its place;
    ``refuse`` refuses the call when it is the primary (a fallback of that provider is
    dropped). ``continue`` only alerts. A chain left empty is refused.
    """
    kept: list[str] = []
    notes: list[str] = []
    limited: list[str] = []
    for index, name in enumerate(chain):
        spec = catalog.resolve(name)
        if spec is None or spec.local:
            kept.append(name)
            continue
        bound = _binding(spec, spend, budgets, estimate(spec))
        if bound is None:
            kept.append(name)
            continue
        budget, spent = bound
        limited.append(budget.scope)
        why = (
            f"{budget.scope} budget {dollars(budget.limit_pico)}/month would be "
            f"passed ({dollars(spent)} spent)"
        )
        if budget.at_limit is BudgetPolicy.REFUSE and index == 0:
            return Gated(
                (), (*notes, f"{name} refused: {why}"), _refusal(name, why), (budget.scope,)
            )
        if budget.at_limit is BudgetPolicy.LOCAL and local_model is not None:
            kept.append(local_model)
            notes.append(f"{name} → {local_model} (local): {why}")
        elif budget.at_limit is BudgetPolicy.LOCAL:
            notes.append(f"{name} skipped: {why}, and no local model is in use for this task")
        else:
            notes.append(f"{name} skipped: {why}")
    chain_left = tuple(dict.fromkeys(kept))
    if not chain_left:
        return Gated(
            (),
            tuple(notes),
            _refusal(chain[0], "no model of its chain is within budget"),
            tuple(limited),
        )
    return Gated(chain_left, tuple(notes), None, tuple(dict.fromkeys(limited)))


def _refusal(model: str, why: str) -> str:
    return (
        f"not sent to {model}: {why}. Raise the limit in the routing file's Budgets section "
        "(cortex budget set PROVIDER AMOUNT) or change its policy at 100%"
    )


def call_estimate(catalog: Catalog, request: ChatRequest) -> Callable[[ModelSpec], int]:
    """What a request would cost on each model, before it is sent: its prompt (estimated
    locally) and the longest answer it may get — its ``max_tokens``, else the cap the
    provider's adapter sends (Anthropic's 8,192, more with a thinking budget), else a
    typical 1,024 tokens where nothing caps the answer (OpenAI without ``max_tokens``)."""
    prompt = estimate_tokens(request)
    anthropic = Usage(input_tokens=prompt, output_tokens=answer_cap(request))
    other = Usage(input_tokens=prompt, output_tokens=request.max_tokens or DEFAULT_ANSWER_TOKENS)

    def estimate(spec: ModelSpec) -> int:
        usage = anthropic if spec.provider is Provider.ANTHROPIC else other
        cost = cost_usd(catalog.price(spec), usage)
        return 0 if cost is None else pico(cost)  # an unknown price cannot be held back

    return estimate

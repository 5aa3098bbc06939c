"""What the ledger says of models and money, as typed objects for the client library.

``GET /v1/stats`` answers `Stats` (a row per task type × model, and spend per day),
``GET /v1/costs`` `Costs` (this month's spend per provider and its projection), ``GET
/v1/budgets`` `Budgets` (each monthly budget against the spend, and the alerts sent). The
JSON is `cortexd.ledger.queries`' and `cortexd.api.budgets`'; money comes as `Decimal`,
exact as the ledger sums it, and each object keeps its JSON as `json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from cortexd.client_json import (
    Json,
    opt_float,
    opt_int,
    opt_str,
    pico_usd,
    usd0,
)


@dataclass(frozen=True)
class Quantiles:
    """The median and 95th percentile of a time in seconds (None: no answered try)."""

    p50: float | None
    p95: float | None

    @classmethod
    def from_json(cls, data: Json | None) -> Quantiles:
        """A ``{"p50": …, "p95": …}`` object."""
        data = data or {}
        return cls(opt_float(data.get("p50")), opt_float(data.get("p95")))


@dataclass(frozen=True)
class StatsRow:
    """One task type × model (× client, project or session: `group`) row of ``cortex
    stats``: its tries, how many completed and achieved their task, its times, tokens and
    cost. `role` keeps a cross-validated call's second opinion and judge apart from the
    answers; completion and achievement are the answers' (None on the other rows)."""

    task: str
    model: str
    provider: str
    role: str  # answer, second opinion, judge, cross-check
    group: str | None  # the client, project or session, when the stats are grouped
    tries: int
    answered: int
    errors: int
    completed_rate: float | None
    achieved_rate: float | None
    total_s: Quantiles
    first_token_s: Quantiles
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cost_usd: Decimal
    unpriced_tries: int  # tries of a model with no known price: not in `cost_usd`
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json, by: str | None = None) -> StatsRow:
        """A row of ``rows``; `by` is what the stats are grouped by."""
        return cls(
            task=str(data.get("task", "")),
            model=str(data.get("model", "")),
            provider=str(data.get("provider", "")),
            role=str(data.get("role") or "answer"),
            group=opt_str(data.get(by)) if by else None,
            tries=int(data.get("tries") or 0),
            answered=int(data.get("answered") or 0),
            errors=int(data.get("errors") or 0),
            completed_rate=opt_float(data.get("completed_rate")),
            achieved_rate=opt_float(data.get("achieved_rate")),
            total_s=Quantiles.from_json(data.get("total_s")),
            first_token_s=Quantiles.from_json(data.get("first_token_s")),
            input_tokens=int(data.get("input_tokens") or 0),
            output_tokens=int(data.get("output_tokens") or 0),
            cache_read_tokens=int(data.get("cache_read_tokens") or 0),
            cost_usd=usd0(data.get("cost_usd")),
            unpriced_tries=int(data.get("unpriced_tries") or 0),
            json=data,
        )


@dataclass(frozen=True)
class GroupTotal:
    """What one client (project, session) cost in all, in stats grouped by it."""

    name: str | None  # None: calls with no client (project, session)
    calls: int
    tries: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    unpriced_tries: int

    @classmethod
    def from_json(cls, data: Json, by: str) -> GroupTotal:
        """One of ``totals``."""
        return cls(
            opt_str(data.get(by)),
            int(data.get("calls") or 0),
            int(data.get("tries") or 0),
            int(data.get("input_tokens") or 0),
            int(data.get("output_tokens") or 0),
            usd0(data.get("cost_usd")),
            int(data.get("unpriced_tries") or 0),
        )


@dataclass(frozen=True)
class DaySpend:
    """The spend of one local day (``YYYY-MM-DD``)."""

    day: str
    cost_usd: Decimal


@dataclass(frozen=True)
class Stats:
    """``GET /v1/stats``: from `since` to `until` (Unix times), the rows per task type ×
    model (of one `task`, grouped `by` client, project or session where asked, with each
    group's `totals`), and the spend of every day."""

    since: float
    until: float
    task: str | None
    by: str | None
    rows: tuple[StatsRow, ...]
    totals: tuple[GroupTotal, ...]  # empty unless grouped `by`
    spend_per_day: tuple[DaySpend, ...]
    json: Json = field(default_factory=dict, repr=False)

    @property
    def cost_usd(self) -> Decimal:
        """The period's spend (tries with no known price left out)."""
        return sum((d.cost_usd for d in self.spend_per_day), Decimal(0))

    @classmethod
    def from_json(cls, data: Json) -> Stats:
        """The stats answer."""
        by = opt_str(data.get("by"))
        return cls(
            since=float(data.get("since") or 0.0),
            until=float(data.get("until") or 0.0),
            task=opt_str(data.get("task")),
            by=by,
            rows=tuple(StatsRow.from_json(r, by) for r in data.get("rows") or ()),
            totals=tuple(GroupTotal.from_json(t, by) for t in data.get("totals") or ())
            if by
            else (),
            spend_per_day=tuple(
                DaySpend(str(d.get("day", "")), usd0(d.get("cost_usd")))
                for d in data.get("spend_per_day") or ()
            ),
            json=data,
        )


@dataclass(frozen=True)
class BudgetState:
    """One monthly budget (a provider's, or the total): its limit, the spend recorded and
    what calls in flight hold against it, the alert thresholds (percent) and those reached,
    and what happens at 100% (`at_limit`)."""

    scope: str  # anthropic, openai or total
    limit_usd: Decimal
    spent_usd: Decimal
    reserved_usd: Decimal
    percent: float
    thresholds: tuple[int, ...]
    reached: tuple[int, ...]
    at_limit: str
    line: int | None  # the routing file's line that sets it

    @classmethod
    def from_json(cls, data: Json) -> BudgetState:
        """One of ``budgets``."""
        return cls(
            scope=str(data.get("scope", "")),
            limit_usd=usd0(data.get("limit_usd")),
            spent_usd=usd0(data.get("spent_usd")),
            reserved_usd=usd0(data.get("reserved_usd")),
            percent=float(data.get("percent") or 0.0),
            thresholds=tuple(int(t) for t in data.get("thresholds") or ()),
            reached=tuple(int(t) for t in data.get("reached") or ()),
            at_limit=str(data.get("at_limit", "")),
            line=opt_int(data.get("line")),
        )


@dataclass(frozen=True)
class BudgetAlert:
    """An alert sent this month: a budget's `threshold` (percent) reached, with the limit
    and the spend then; `delivered_at` None while it has not been delivered."""

    scope: str
    threshold: int
    limit_usd: Decimal | None
    spent_usd: Decimal | None
    at: float
    delivered_at: float | None

    @classmethod
    def from_json(cls, data: Json) -> BudgetAlert:
        """One of ``alerts``."""
        return cls(
            str(data.get("scope", "")),
            int(data.get("threshold") or 0),
            pico_usd(data.get("limit_pico_usd")),
            pico_usd(data.get("spent_pico_usd")),
            float(data.get("at") or 0.0),
            opt_float(data.get("delivered_at")),
        )


@dataclass(frozen=True)
class Budgets:
    """The monthly budgets in `month` (``GET /v1/budgets``, and `Costs.budgets`): each one's
    state, what calls in flight hold, and the alerts sent (``GET /v1/budgets`` only); when
    none is set (`any_set` False), `note` says so."""

    month: str
    any_set: bool
    note: str | None
    reserved_usd: Decimal
    budgets: tuple[BudgetState, ...]
    alerts: tuple[BudgetAlert, ...]
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> Budgets:
        """The budgets answer (the JSON's ``set`` is `any_set`)."""
        return cls(
            month=str(data.get("month", "")),
            any_set=bool(data.get("set")),
            note=opt_str(data.get("note")),
            reserved_usd=usd0(data.get("reserved_usd")),
            budgets=tuple(BudgetState.from_json(b) for b in data.get("budgets") or ()),
            alerts=tuple(BudgetAlert.from_json(a) for a in data.get("alerts") or ()),
            json=data,
        )


@dataclass(frozen=True)
class ProviderSpend:
    """One provider's spend this month: its calls, what they cost (of which `estimated_usd`
    was counted from streams cut short) and the projection to the month's end."""

    provider: str
    calls: int
    cost_usd: Decimal
    projected_usd: Decimal
    estimated_usd: Decimal
    unpriced_tries: int


@dataclass(frozen=True)
class Unpriced:
    """A model whose tries this month have no known price (left out of the sums)."""

    model: str
    provider: str
    tries: int

    @classmethod
    def from_json(cls, data: Json) -> Unpriced:
        """One of ``unpriced``."""
        return cls(
            str(data.get("model", "")), str(data.get("provider", "")), int(data.get("tries") or 0)
        )


@dataclass(frozen=True)
class Costs:
    """``GET /v1/costs``: `month`'s spend so far, per provider and in all (`days_elapsed`
    of `days_in_month`), its projection to the month's end, the models with no known
    price, and the budgets."""

    month: str
    since: float
    now: float
    days_elapsed: float
    days_in_month: int
    providers: tuple[ProviderSpend, ...]
    total_usd: Decimal
    estimated_usd: Decimal  # of the total, counted from streams cut short
    projected_usd: Decimal
    unpriced: tuple[Unpriced, ...]
    budgets: Budgets | None
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> Costs:
        """The costs answer."""
        budgets = data.get("budgets")
        return cls(
            month=str(data.get("month", "")),
            since=float(data.get("since") or 0.0),
            now=float(data.get("now") or 0.0),
            days_elapsed=float(data.get("days_elapsed") or 0.0),
            days_in_month=int(data.get("days_in_month") or 0),
            providers=tuple(
                ProviderSpend(
                    str(p.get("provider", "")),
                    int(p.get("calls") or 0),
                    usd0(p.get("cost_usd")),
                    usd0(p.get("projected_usd")),
                    usd0(p.get("estimated_usd")),
                    int(p.get("unpriced_tries") or 0),
                )
                for p in data.get("providers") or ()
            ),
            total_usd=usd0(data.get("total_usd")),
            estimated_usd=usd0(data.get("estimated_usd")),
            projected_usd=usd0(data.get("projected_usd")),
            unpriced=tuple(Unpriced.from_json(u) for u in data.get("unpriced") or ()),
            budgets=None if budgets is None else Budgets.from_json(budgets),
            json=data,
        )

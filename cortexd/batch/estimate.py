"""Before a batch starts: where each line would go and what the batch would cost.

Each line is planned as the router would plan it (the text it would be routed on, its
model, its task), without calling any model; the estimate is the routed model's price × the
prompt's size (about four characters a token) and the answer's (the line's own cap, else
`ANSWER_TOKENS`). A line that names an unknown model or task is reported here by its line
number, before anything is spent.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cortexd.batch.lines import BatchLine
from cortexd.routing import (
    Availability,
    CortexError,
    Message,
    RouteRequest,
    UnknownModelError,
    UnknownTaskError,
)
from cortexd.routing.dispatch import cost_usd
from cortexd.routing.providers import Usage

#: An answer's size where a line sets no cap.
ANSWER_TOKENS = 1024
#: The client name a batch's calls are recorded under.
BATCH_CLIENT = "cortex-batch"


@dataclass(frozen=True)
class LinePlan:
    """Where one line goes: its model and provider, its estimated cost (None: unknown
    price), or why it cannot be routed."""

    model: str | None
    provider: str | None
    local: bool = False
    cost: Decimal | None = None
    error: str | None = None


#: The providers whose Batch APIs cortexd uses.
BATCH_PROVIDERS = ("anthropic", "openai")


def plan_line(
    routing: Any,
    local_models: Iterable[str],
    url: str,
    body: dict[str, Any],
    provider_batch: bool = False,
) -> LinePlan:
    """The plan of one line's request (`routing` is the daemon's `Routing`), priced at the
    Batch API's price where the line would go there (`provider_batch`, or its task's row)."""
    given = body.get("cortex")
    cortex: dict[str, Any] = given if isinstance(given, dict) else {}
    model = body.get("model") if isinstance(body.get("model"), str) else None
    request = RouteRequest(
        messages=tuple(_messages(url, body)),
        model=model,
        task=cortex.get("task"),
        client=BATCH_CLIENT,
    )
    try:
        plan = routing.router.plan(request, Availability(frozenset(local_models)))
    except (UnknownModelError, UnknownTaskError) as error:
        return LinePlan(None, None, error=str(error))
    spec = routing.catalog.resolve(plan.primary) if plan.primary else None
    if spec is None:
        return LinePlan(plan.primary, None, error="no model to route it to")
    size = len(json.dumps(body, ensure_ascii=False)) // 4
    cap = next(
        (
            body[k]
            for k in ("max_tokens", "max_completion_tokens", "max_output_tokens")
            if isinstance(body.get(k), int)
        ),
        ANSWER_TOKENS,
    )
    output = 0 if url.endswith("/embeddings") else cap
    price = routing.catalog.price(spec)
    route = routing.table.routes.get(routing.table.find_task(plan.task) or "")
    batched = provider_batch or (route is not None and route.provider_batch)
    if batched and spec.provider.value in BATCH_PROVIDERS and not spec.local and output:
        price = routing.catalog.batch_price(spec)[0]
    cost = cost_usd(price, Usage(input_tokens=size, output_tokens=output))
    return LinePlan(spec.name, spec.provider.value, spec.local, cost)


def provider_of(
    routing: Any, local_models: Iterable[str], url: str, body: dict[str, Any]
) -> LinePlan:
    """Where a line goes, for its provider's limit: a named model's provider at once (no
    classification), else the line's plan."""
    model = body.get("model")
    if isinstance(model, str) and model != "auto" and not model.startswith("task:"):
        try:
            spec = routing.catalog.resolve(model)
        except CortexError:
            spec = None
        if spec is not None:
            return LinePlan(spec.name, spec.provider.value, spec.local)
    return plan_line(routing, local_models, url, body)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = (p.get("text") for p in content if isinstance(p, dict))
        return "\n".join(p for p in parts if isinstance(p, str))
    return ""


def _messages(url: str, body: dict[str, Any]) -> list[Message]:
    """The messages a line's body holds, as text, whichever wire it is written for."""
    if url.endswith("/embeddings"):
        given = body.get("input")
        return [Message("user", given if isinstance(given, str) else json.dumps(given)[:2000])]
    if url.endswith("/responses"):
        given = body.get("input")
        if isinstance(given, str):
            return [Message("user", given)]
        items: list[Any] = given if isinstance(given, list) else []
    else:
        listed = body.get("messages")
        items = listed if isinstance(listed, list) else []
    found = [
        Message(str(m.get("role", "user")), _text(m.get("content")))
        for m in items
        if isinstance(m, dict)
    ]
    return found or [Message("user", "")]


@dataclass(frozen=True)
class Estimate:
    """A batch's estimate: its cost (of the lines whose price is known), the lines per
    model, and the lines that will fail (line number, why)."""

    cost: Decimal
    lines: int
    per_model: dict[str, int]
    unpriced: int
    problems: list[tuple[int, str]]
    per_provider: dict[str, Decimal]

    @classmethod
    def combined(cls, parts: Sequence[Estimate]) -> Estimate:
        """The estimate of a batch planned in slices."""
        per_model: Counter[str] = Counter()
        per_provider: dict[str, Decimal] = {}
        for part in parts:
            per_model.update(part.per_model)
            for provider, cost in part.per_provider.items():
                per_provider[provider] = per_provider.get(provider, Decimal(0)) + cost
        return cls(
            sum((p.cost for p in parts), Decimal(0)),
            sum(p.lines for p in parts),
            dict(per_model),
            sum(p.unpriced for p in parts),
            [problem for p in parts for problem in p.problems],
            per_provider,
        )

    def as_json(self) -> dict[str, Any]:
        """For the API and ``cortex batch run --json``."""
        return {
            "cost_usd": float(self.cost),
            "lines": self.lines,
            "per_model": self.per_model,
            "unpriced_lines": self.unpriced,
            "problems": [{"line": n, "error": why} for n, why in self.problems],
            "per_provider_usd": {p: float(c) for p, c in self.per_provider.items()},
        }


def estimate(
    routing: Any,
    local_models: Iterable[str],
    lines: Sequence[BatchLine],
    provider_batch: bool = False,
) -> Estimate:
    """The whole batch's estimate (at the Batch APIs' prices with `provider_batch`)."""
    local = frozenset(local_models)
    cost, unpriced, per_model = Decimal(0), 0, Counter[str]()
    per_provider: dict[str, Decimal] = {}
    problems: list[tuple[int, str]] = []
    for line in lines:
        if line.error is not None or line.url is None or line.body is None:
            problems.append((line.line_no, line.error or "not sent"))
            continue
        plan = plan_line(routing, local, line.url, line.body, provider_batch)
        if plan.error is not None:
            problems.append((line.line_no, plan.error))
            continue
        per_model[plan.model or "?"] += 1
        if plan.cost is None:
            unpriced += 1
        else:
            cost += plan.cost
            key = plan.provider or "?"
            per_provider[key] = per_provider.get(key, Decimal(0)) + plan.cost
    return Estimate(cost, len(lines), dict(per_model), unpriced, problems, per_provider)

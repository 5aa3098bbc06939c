"""Plans as JSON: what `cortex route --json` prints and `POST /v1/route` answers."""

from __future__ import annotations

from typing import Any

from cortexd.routing import RoutePlan


def plan_to_json(plan: RoutePlan, source: str) -> dict[str, Any]:
    """The plan as plain JSON-ready data."""
    c = plan.classification
    return {
        "task": plan.task,
        "decided_by": plan.decided_by,
        "chain": list(plan.chain),
        "primary": plan.primary,
        "fallbacks": list(plan.fallbacks),
        "local_only": plan.local_only,
        "override": None
        if plan.override is None
        else {
            "model": plan.override.model,
            "phrase": plan.override.phrase,
            "scope": plan.override.scope,
            "turn": plan.directive_turn,
        },
        "warnings": list(plan.warnings),
        "classification": None
        if c is None
        else {"task": c.task, "confidence": c.confidence, "reason": c.reason},
        "prompt": plan.messages[-1].content if plan.messages else "",
        "skipped": [{"model": m, "reason": r} for m, r in plan.skipped],
        "reasons": list(plan.reasons),
        "routing_file": source,
    }

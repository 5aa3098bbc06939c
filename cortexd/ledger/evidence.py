"""What the weekly review reads from the ledger: the evidence behind routing proposals
(per task type × model) and the week's figures for the digest."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import Any

from cortexd.ledger.queries import ACHIEVED_SQL, usd
from cortexd.routing import Evidence, ModelEvidence
from cortexd.routing.providers import ModelLoadError, ProviderTimeoutError, TransientError


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set(cls.__subclasses__())
    return found.union(*(_subclasses(c) for c in found))


#: Proposals weigh the last 30 days: long enough for a sample, short enough that a model
#: changed by its provider months ago does not speak for what it is now.
EVIDENCE_DAYS = 30
#: Failures that speak about the model: it timed out, was overloaded, broke its stream, could
#: not be reached or loaded. A wrong key, a spent quota or a bad request say nothing of it.
FAILURES = tuple(
    sorted(
        {cls.__name__ for cls in _subclasses(TransientError)}
        | {ModelLoadError.__name__, TransientError.__name__}
    )
)


def evidence(db: sqlite3.Connection, *, since: float, until: float) -> Evidence:
    """Per task × model: answered and achieved calls, tries, failures, cost, overrides."""
    # An override is the user's phrase ("use opus for this"); a client that always names
    # its model is a tool's setting, not a verdict on the route.
    rows = db.execute(
        "SELECT c.task, a.model, a.outcome, a.error_class, a.cost_pico_usd,"
        " a.outcome = 'ok' AND c.model IS a.model AND c.outcome = 'ok',"
        f" {ACHIEVED_SQL}, c.decided_by = 'override' AND c.model IS a.model"
        " FROM attempts a JOIN calls c ON c.id = a.call_id"
        " WHERE c.started_at >= ? AND c.started_at < ? AND c.kind = 'chat'"
        " AND a.second_opinion = 0 AND a.outcome IN ('ok', 'error', 'partial')",
        (since, until),
    )  # stepped through, not fetched: a month is tens of thousands of rows
    found: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for task, model, outcome, error_class, cost, answered, achieved, overridden in rows:
        g = found[(task, model)]
        if outcome != "ok" and outcome != "partial" and error_class not in FAILURES:
            continue  # neither a success nor a failure of the model
        g["tries"] += 1
        if outcome != "ok":
            g["failures"] += 1
            g["timeouts"] += error_class == ProviderTimeoutError.__name__
        if answered:
            g["answered"] += 1
            g["achieved"] += bool(achieved)
            g["cost"] += cost or 0
            g["overridden"] += bool(overridden)
    calls = dict(
        db.execute(
            "SELECT task, COUNT(*) FROM calls WHERE started_at >= ? AND started_at < ?"
            " AND kind = 'chat' GROUP BY task",
            (since, until),
        ).fetchall()
    )
    models = tuple(
        ModelEvidence(
            task=task,
            model=model,
            answered=g["answered"],
            achieved=g["achieved"],
            tries=g["tries"],
            failures=g["failures"],
            timeouts=g["timeouts"],
            cost_pico=g["cost"],
            overridden_to=g["overridden"],
        )
        for (task, model), g in sorted(found.items())
    )
    return Evidence(since=since, until=until, models=models, task_calls=calls)


def week_figures(db: sqlite3.Connection, *, now: float) -> dict[str, Any]:
    """The last 7 days against the 7 before: calls, spend, completed and achieved shares,
    and the busiest task types."""

    def period(since: float, until: float) -> dict[str, Any]:
        calls, completed, achieved, cost = db.execute(
            f"SELECT COUNT(*), COALESCE(SUM(c.completed), 0), COALESCE(SUM({ACHIEVED_SQL}), 0),"
            " COALESCE(SUM(c.cost_pico_usd), 0)"
            " FROM calls c WHERE c.started_at >= ? AND c.started_at < ?",
            (since, until),
        ).fetchone()
        return {
            "calls": calls,
            "completed": completed,
            "achieved": achieved,
            "cost_usd": usd(cost),
            "cost_pico": cost,
        }

    week = 7 * 86_400
    tasks = db.execute(
        "SELECT task, COUNT(*), COALESCE(SUM(cost_pico_usd), 0) FROM calls"
        " WHERE started_at >= ? AND started_at < ? GROUP BY task ORDER BY 2 DESC LIMIT 5",
        (now - week, now),
    ).fetchall()
    return {
        "since": now - week,
        "until": now,
        "this_week": period(now - week, now),
        "last_week": period(now - 2 * week, now - week),
        "tasks": [{"task": t, "calls": n, "cost_usd": usd(c)} for t, n, c in tasks],
    }

"""Reading the ledger: the task × model table, spend per day, and the month's costs.

Every function takes a connection and returns JSON-ready data; the API, the CLI (through
the API) and the report share them. Sums of money are exact (integer pico-dollars) and
printed as decimal strings. The SQL that says whether a call achieved its task, and what
role an attempt played, lives here for every reader of the ledger to share
(`call_views`, `evidence`), so that they all count the same way.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections import defaultdict
from typing import Any

from cortexd.ledger.months import Month, day_label, day_start, projection
from cortexd.ledger.records import from_pico
from cortexd.ledger.writer import quantile

#: Whether a call achieved its task: the user's latest rating, or else completed with no
#: implicit signal against it.
ACHIEVED_SQL = """COALESCE(
    (SELECT f.rating = 'good' FROM feedback f WHERE f.call_id = c.id
     ORDER BY f.at DESC, f.id DESC LIMIT 1),
    c.completed AND NOT EXISTS (SELECT 1 FROM signals s WHERE s.call_id = c.id))"""

#: An attempt's role: the answer, a second opinion, its judge; `cross-check` where a row
#: from before roles were recorded says only that it was one of the latter two.
ROLE_SQL = "COALESCE(a.role, CASE WHEN a.second_opinion THEN 'cross-check' ELSE 'answer' END)"
_ROLES = ("answer", "second opinion", "judge", "cross-check")

#: What `stats` can group by, and the column of each.
BY = {"client": "c.client", "project": "c.project", "session": "c.session"}


def usd(pico: int | None) -> str | None:
    """Pico-dollars as a decimal string of dollars."""
    value = from_pico(pico)
    return None if value is None else format(value, "f")


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _p50_p95(values: array[float]) -> dict[str, float | None]:
    """Nearest-rank p50 and p95 (`writer.quantile`), rounded as the report shows them.

    >>> _p50_p95(array("d", [0.3, 0.1, 0.2, 0.123456])), _p50_p95(array("d"))
    ({'p50': 0.1235, 'p95': 0.3}, {'p50': None, 'p95': None})
    """
    ordered = sorted(values)
    return {
        name: None if (v := quantile(ordered, q)) is None else round(v, 4)
        for name, q in (("p50", 0.5), ("p95", 0.95))
    }


def stats(
    db: sqlite3.Connection,
    *,
    since: float,
    until: float,
    task: str | None = None,
    by: str | None = None,
) -> dict[str, Any]:
    """Per task type × model (× client, project or session): tries, completed and achieved
    rates, p50/p95 total time and time to first token, tokens and cost; and spend per local
    day. Grouped `by`, `totals` sums each client's (project's, session's) calls and cost.

    A row counts every try of a model (fallbacks' failures too); `achieved` is counted over
    the calls the model answered. A row's `role` keeps a cross-validated call's second
    opinion and judge apart from the answers: their tries are the call's extras, not the
    model's record on the task (`cross-check` for rows from before roles were kept).
    """
    if by is not None and by not in BY:
        raise ValueError(f"cannot group by {by!r}: use {', '.join(BY)}")
    group = BY[by] if by else "NULL"
    where = "c.started_at >= ? AND c.started_at < ? AND a.outcome != 'skipped'"
    params: list[Any] = [since, until]
    if task is not None:
        where += " AND c.task = ? COLLATE NOCASE"
        params.append(task)
    rows = db.execute(
        f"SELECT c.task, a.model, a.provider, {group}, a.outcome, {ROLE_SQL},"
        " a.input_tokens, a.output_tokens, a.cache_read_tokens,"
        " a.cost_pico_usd, a.price_unknown, c.completed,"
        " a.outcome = 'ok' AND a.second_opinion = 0 AND c.model IS a.model,"
        f" {ACHIEVED_SQL}, c.started_at, c.id, a.total_s, a.first_token_s, c.batch IS NULL"
        f" FROM attempts a JOIN calls c ON c.id = a.call_id WHERE {where}",
        params,
    )  # stepped through, not fetched: the report reads a month of rows every 30 s at most
    groups: dict[tuple[str, str, str, str | None, str], dict[str, Any]] = {}
    # The answered, unbatched tries' times (a provider's batch answers within hours: its
    # wait is not the model's speed), as 8-byte floats, sorted per group at the end. SQLite
    # window functions did this in two more passes over the month, each sorting all of it:
    # two thirds of a report's time (0.9 of 1.4 s at 45,000 calls), and a sort that grew
    # with the month left the daemon's memory a little higher each time it peaked.
    times: dict[tuple[str, str, str, str | None, str], tuple[array[float], array[float]]] = {}
    per_day: dict[str, int] = defaultdict(int)
    totals: dict[str | None, dict[str, Any]] = {}
    for (t, model, provider, who, outcome, role, tin, tout, tcache, cost, unknown,
         completed, answered, achieved, started, call_id, total, ttft, unbatched,
         ) in rows:  # fmt: skip
        key = (t, model, provider, who, role)
        g = groups.setdefault(
            key,
            {"tries": 0, "answered": 0, "completed": 0, "achieved": 0, "errors": 0,
             "in": 0, "out": 0, "cache": 0, "cost": 0, "unknown": 0},
        )  # fmt: skip
        g["tries"] += 1
        g["errors"] += outcome != "ok"
        if answered:
            g["answered"] += 1
            g["completed"] += bool(completed)
            g["achieved"] += bool(achieved)
        g["in"] += tin
        g["out"] += tout
        g["cache"] += tcache
        g["cost"] += cost or 0
        g["unknown"] += unknown
        per_day[day_label(started)] += cost or 0
        if by:
            _add_to_total(totals, who, call_id, tin, tout, cost, unknown)
        if outcome == "ok" and unbatched:
            pair = times.get(key) or times.setdefault(key, (array("d"), array("d")))
            if total is not None:
                pair[0].append(total)
            if ttft is not None:
                pair[1].append(ttft)
    none: dict[str, float | None] = {"p50": None, "p95": None}
    table = []

    def order(key: tuple[str, str, str, str | None, str]) -> tuple[str, str, int]:
        return key[0], key[1], _ROLES.index(key[4]) if key[4] in _ROLES else len(_ROLES)

    for key, g in sorted(groups.items(), key=lambda kv: order(kv[0])):
        t, model, provider, who, role = key
        answers = role == "answer"  # completion and achievement are the answer's
        row: dict[str, Any] = {
            "task": t,
            "model": model,
            "provider": provider,
            "role": role,
            "tries": g["tries"],
            "answered": g["answered"],
            "errors": g["errors"],
            "completed_rate": _rate(g["completed"], g["tries"]) if answers else None,
            "achieved_rate": _rate(g["achieved"], g["answered"]) if answers else None,
            "total_s": _p50_p95(times[key][0]) if key in times else none,
            "first_token_s": _p50_p95(times[key][1]) if key in times else none,
            "input_tokens": g["in"],
            "output_tokens": g["out"],
            "cache_read_tokens": g["cache"],
            "cost_usd": usd(g["cost"]),
            "unpriced_tries": g["unknown"],
        }
        if by:
            row[by] = who
        table.append(row)
    out = {
        "since": since,
        "until": until,
        "task": task,
        "by": by,
        "rows": table,
        "spend_per_day": _days(per_day, since, until),
    }
    if by:
        out["totals"] = _totals_json(totals, by)
    return out


def _add_to_total(
    totals: dict[str | None, dict[str, Any]],
    who: str | None,
    call_id: str,
    tin: int,
    tout: int,
    cost: int | None,
    unknown: int,
) -> None:
    t = totals.setdefault(
        who, {"calls": set(), "tries": 0, "in": 0, "out": 0, "cost": 0, "unknown": 0}
    )
    t["calls"].add(call_id)
    t["tries"] += 1
    t["in"] += tin
    t["out"] += tout
    t["cost"] += cost or 0
    t["unknown"] += unknown


def _totals_json(totals: dict[str | None, dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """One line per client (project, session), the dearest first."""
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1]["cost"], kv[0] or ""))
    return [
        {
            by: who,
            "calls": len(t["calls"]),
            "tries": t["tries"],
            "input_tokens": t["in"],
            "output_tokens": t["out"],
            "cost_usd": usd(t["cost"]),
            "unpriced_tries": t["unknown"],
        }
        for who, t in ordered
    ]


def _days(per_day: dict[str, int], since: float, until: float) -> list[dict[str, Any]]:
    """Every local day from `since` to `until` (at most 62), spent or not."""
    out = []
    at = max(day_start(since), day_start(until) - 61 * 86_400)
    seen = set()
    while at < until:
        label = day_label(at)
        if label not in seen:
            seen.add(label)
            out.append({"day": label, "cost_usd": usd(per_day.get(label, 0))})
        at = day_start(at + 86_400 + 7_200)  # DST days are 23 or 25 hours long
    return out


def costs(db: sqlite3.Connection, *, now: float) -> dict[str, Any]:
    """Month-to-date spend per provider and in all (of which `estimated_usd` was estimated
    from streams cut short), the projection to the month's end, and the models whose calls
    have no known price (left out of the sums, and named)."""
    month = Month.of(now)
    recent_since = max(month.start, now - 7 * 86_400)
    # The same tries as `bookkeeping.month_spend`, which the budgets count: the two agree.
    rows = db.execute(
        "SELECT a.provider, COUNT(DISTINCT a.call_id), COALESCE(SUM(a.cost_pico_usd), 0),"
        " COALESCE(SUM(CASE WHEN c.started_at >= ? THEN a.cost_pico_usd END), 0),"
        " SUM(a.price_unknown),"
        " COALESCE(SUM(CASE WHEN a.usage_estimated THEN a.cost_pico_usd END), 0)"
        " FROM attempts a JOIN calls c ON c.id = a.call_id"
        " WHERE c.started_at >= ? AND c.started_at < ? AND a.outcome != 'skipped'"
        " GROUP BY a.provider ORDER BY 3 DESC",
        (recent_since, month.start, month.end),
    ).fetchall()
    unpriced = db.execute(
        "SELECT a.model, a.provider, COUNT(*) FROM attempts a JOIN calls c ON c.id = a.call_id"
        " WHERE c.started_at >= ? AND c.started_at < ? AND a.price_unknown = 1"
        " GROUP BY a.model, a.provider ORDER BY 3 DESC",
        (month.start, month.end),
    ).fetchall()

    def project(spent: int, recent: int) -> str:
        p = projection(
            spent / 1e12, now=now, month=month, recent=recent / 1e12, recent_since=recent_since
        )
        # To the micro-dollar, as spend is: in cents a month of small calls read $0.00
        # projected beside $0.000015 spent.
        return f"{p:.6f}"

    total = sum(r[2] for r in rows)
    total_recent = sum(r[3] for r in rows)
    estimated = sum(r[5] for r in rows)
    return {
        "month": month.label,
        "since": month.start,
        "now": now,
        "days_elapsed": round((now - month.start) / 86_400, 2),
        "days_in_month": round(month.days),
        "providers": [
            {
                "provider": provider,
                "calls": calls,
                "cost_usd": usd(spent),
                "projected_usd": project(spent, recent),
                "unpriced_tries": unknown or 0,
                "estimated_usd": usd(guessed),
            }
            for provider, calls, spent, recent, unknown, guessed in rows
        ],
        "total_usd": usd(total),
        # Of the total, what streams cut short cost: their tokens were counted from what
        # they sent, since the provider's own count never came.
        "estimated_usd": usd(estimated),
        "projected_usd": project(total, total_recent),
        "unpriced": [{"model": m, "provider": p, "tries": n} for m, p, n in unpriced],
    }

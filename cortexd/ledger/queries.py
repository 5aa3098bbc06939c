"""Reading the ledger: the task × model table, spend per day, costs, recent calls, one call.

Every function takes a connection and returns JSON-ready data; the API, the CLI (through
the API) and the report share them. Sums of money are exact (integer pico-dollars) and
printed as decimal strings.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from cortexd.ledger.months import Month, day_label, day_start, projection
from cortexd.ledger.records import from_pico
from cortexd.ledger.sessions import turn_after

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


#: The nearest-rank p50 and p95 of `n` values as 1-based ranks, in integers: the same as
#: `writer.quantile`'s ``ceil(q * n)`` (checked for every n to 200,000).
_RANKS = {"p50": "(n + 1) / 2", "p95": "(95 * n + 99) / 100"}


def _quantiles(
    db: sqlite3.Connection, column: str, group: str, where: str, params: list[Any]
) -> dict[tuple[Any, ...], dict[str, float | None]]:
    """p50 and p95 of `column` over answered, unbatched tries, per stats group. SQLite sorts
    each group (a window) and hands back two rows of it: the report reads a month of calls
    every 30 s at most, and lists of every latency held in Python left the daemon's
    memory growing with the month (`benchmarks.memory`)."""
    keys = f"c.task, a.model, a.provider, {group}, {ROLE_SQL}"
    wanted = " OR ".join(f"r = {rank}" for rank in _RANKS.values())
    rows = db.execute(
        f"SELECT t, m, p, w, role, r, n, v FROM (SELECT c.task AS t, a.model AS m,"
        f" a.provider AS p, {group} AS w, {ROLE_SQL} AS role, a.{column} AS v,"
        f" ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY a.{column}) AS r,"
        f" COUNT(*) OVER (PARTITION BY {keys}) AS n"
        f" FROM attempts a JOIN calls c ON c.id = a.call_id WHERE {where}"
        f" AND a.outcome = 'ok' AND c.batch IS NULL AND a.{column} IS NOT NULL)"
        f" WHERE {wanted}",
        params,
    )
    found: dict[tuple[Any, ...], dict[str, float | None]] = {}
    for t, model, provider, who, role, rank, n, value in rows:
        row = found.setdefault((t, model, provider, who, role), {"p50": None, "p95": None})
        for name in _RANKS:
            if rank == _rank(name, n):
                row[name] = round(value, 4)
    return found


def _rank(name: str, n: int) -> int:
    """`_RANKS[name]` for `n`, in Python.

    >>> _rank("p50", 5), _rank("p95", 20), _rank("p95", 1)
    (3, 19, 1)
    """
    return (n + 1) // 2 if name == "p50" else (95 * n + 99) // 100


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
        f" {ACHIEVED_SQL}, c.started_at, c.id"
        f" FROM attempts a JOIN calls c ON c.id = a.call_id WHERE {where}",
        params,
    )  # stepped through, not fetched: the report reads a month of rows every 30 s at most,
    # and holding them all at once left the daemon's memory growing with the month
    groups: dict[tuple[str, str, str, str | None, str], dict[str, Any]] = {}
    per_day: dict[str, int] = defaultdict(int)
    totals: dict[str | None, dict[str, Any]] = {}
    for (t, model, provider, who, outcome, role, tin, tout, tcache, cost,
         unknown, completed, answered, achieved, started, call_id) in rows:  # fmt: skip
        g = groups.setdefault(
            (t, model, provider, who, role),
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
    # A provider's batch answers within hours: its wait is not the model's speed.
    totals_q = _quantiles(db, "total_s", group, where, params)
    ttfts_q = _quantiles(db, "first_token_s", group, where, params)
    none = {"p50": None, "p95": None}
    table = []

    def order(key: tuple[str, str, str, str | None, str]) -> tuple[str, str, int]:
        return key[0], key[1], _ROLES.index(key[4]) if key[4] in _ROLES else len(_ROLES)

    for (t, model, provider, who, role), g in sorted(groups.items(), key=lambda kv: order(kv[0])):
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
            "total_s": totals_q.get((t, model, provider, who, role), none),
            "first_token_s": ttfts_q.get((t, model, provider, who, role), none),
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


_CALL_FIELDS = (
    "c.rowid", "c.id", "c.started_at", "c.client", "c.project", "c.task", "c.decided_by",
    "c.model", "c.provider", "c.fallback", "c.outcome", "c.completed", "c.input_tokens",
    "c.output_tokens", "c.first_token_s", "c.total_s", "c.cost_pico_usd", "c.price_unknown",
    "c.kind", "c.stream", "c.session", "c.turn", "c.usage_estimated", ACHIEVED_SQL,
)  # fmt: skip
_CALL_COLUMNS = ", ".join(_CALL_FIELDS)


def _call_json(row: Iterable[Any]) -> dict[str, Any]:
    (rowid, cid, started, client, project, task, decided_by, model, provider, fallback,
     outcome, completed, tin, tout, ttft, total, cost, unknown, kind, stream, session, turn,
     estimated, achieved) = row  # fmt: skip
    return {
        "seq": rowid,
        "id": cid,
        "started_at": started,
        "client": client,
        "project": project,
        "session": session,
        "turn": turn,
        "kind": kind,
        "task": task,
        "decided_by": decided_by,
        "model": model,
        "provider": provider,
        "fallback": bool(fallback),
        "stream": bool(stream),
        "outcome": outcome,
        "completed": bool(completed),
        "achieved": None if achieved is None else bool(achieved),
        "input_tokens": tin,
        "output_tokens": tout,
        "usage_estimated": bool(estimated),
        "first_token_s": ttft,
        "total_s": total,
        "cost_usd": None if unknown else usd(cost),
        "price_unknown": bool(unknown),
    }


def recent_calls(
    db: sqlite3.Connection, *, limit: int = 20, after: int = 0
) -> list[dict[str, Any]]:
    """The latest calls, oldest first; with `after`, only those recorded after that `seq`."""
    rows = db.execute(
        f"SELECT * FROM (SELECT {_CALL_COLUMNS} FROM calls c WHERE c.rowid > ?"
        " ORDER BY c.rowid DESC LIMIT ?) ORDER BY 1",
        (after, limit),
    ).fetchall()
    return [_call_json(r) for r in rows]


class AmbiguousCallError(LookupError):
    """A call id prefix that matches several calls."""


def find_call(db: sqlite3.Connection, call_id: str) -> str | None:
    """The full id of the call `call_id` names (a whole id, or a unique prefix of 6+)."""
    if db.execute("SELECT 1 FROM calls WHERE id = ?", (call_id,)).fetchone():
        return call_id
    if len(call_id) < 6 or not call_id.isalnum():
        return None
    found = db.execute(
        "SELECT id FROM calls WHERE id >= ? AND id < ? LIMIT 2", (call_id, call_id + "\x7f")
    ).fetchall()
    if len(found) > 1:
        raise AmbiguousCallError(f"'{call_id}' names more than one call; give more of its id")
    return found[0][0] if found else None


def why(db: sqlite3.Connection, call_id: str) -> dict[str, Any] | None:
    """One call whole: its plan and reasons, every attempt, its signals and ratings."""
    row = db.execute(
        f"SELECT {_CALL_COLUMNS}, c.override, c.routing_generation, c.chain, c.reasons,"
        " c.local_only, c.finish_reason, c.error_class, c.error, c.cache_read_tokens,"
        " c.cache_write_tokens, c.reasoning_tokens, c.json_requested, c.json_valid,"
        " c.second_opinion, c.verdict_agree, c.cache_write_1h_tokens, c.agent_model,"
        " c.losses, c.moved FROM calls c WHERE c.id = ?",
        (call_id,),
    ).fetchone()
    if row is None:
        return None
    out = _call_json(row[: len(_CALL_FIELDS)])
    (override, generation, chain, reasons, local_only, finish, error_class, error, cread,
     cwrite, reasoning, json_requested, json_valid, second, agree,
     cwrite_1h, agent_model, losses, moved) = row[len(_CALL_FIELDS):]  # fmt: skip
    out.update(
        override=override,
        routing_generation=generation,
        chain=json.loads(chain),
        reasons=json.loads(reasons),
        local_only=bool(local_only),
        finish_reason=finish,
        error=None if error_class is None else f"{error_class}: {error}",
        cache_read_tokens=cread,
        cache_write_tokens=cwrite,
        cache_write_1h_tokens=cwrite_1h,
        reasoning_tokens=reasoning,
        json_requested=bool(json_requested),
        json_valid=None if json_valid is None else bool(json_valid),
        second_opinion=second,
        verdict_agree=None if agree is None else bool(agree),
        agent_model=agent_model,
        losses=json.loads(losses) if losses else [],
        moved=json.loads(moved) if moved else None,
    )
    if out["moved"] is not None and out["session"] and out["turn"]:
        # The turn that began on the new provider, as far as it went there: its cache
        # is built again from nothing, and this says how far it got.
        out["moved"]["turn"] = turn_after(
            db, session=out["session"], turn=out["turn"], since=out["started_at"],
            provider=out["moved"]["to_provider"],
        )  # fmt: skip
    out["attempts"] = [
        {
            "number": number, "provider": provider, "model": model, "model_id": model_id,
            "outcome": outcome, "fallback": bool(fallback), "retry": bool(retry),
            "second_opinion": bool(second_opinion), "role": role,
            "usage_estimated": bool(estimated),
            "input_tokens": tin, "output_tokens": tout, "cache_read_tokens": cr,
            "cache_write_tokens": cw, "cache_write_1h_tokens": cw1h, "reasoning_tokens": rt,
            "started_s": started, "first_token_s": ttft, "total_s": total,
            "error": None if error_class is None else f"{error_class}: {err}",
            "skipped": skip, "cost_usd": usd(cost), "price_unknown": bool(unknown),
        }
        for (number, provider, model, model_id, outcome, fallback, retry, second_opinion,
             tin, tout, cr, cw, rt, started, ttft, total, error_class, err, skip, cost,
             unknown, cw1h, estimated, role) in db.execute(
            "SELECT number, provider, model, model_id, outcome, fallback, retry,"
            " second_opinion, input_tokens, output_tokens, cache_read_tokens,"
            " cache_write_tokens, reasoning_tokens, started_s, first_token_s, total_s,"
            " error_class, error, skip_reason, cost_pico_usd, price_unknown,"
            f" cache_write_1h_tokens, usage_estimated, {ROLE_SQL}"
            " FROM attempts a WHERE call_id = ? ORDER BY seq",
            (call_id,),
        )
    ]  # fmt: skip
    out["signals"] = [
        {"signal": s, "at": at, "detail": d}
        for s, at, d in db.execute(
            "SELECT signal, at, detail FROM signals WHERE call_id = ? ORDER BY at", (call_id,)
        )
    ]
    out["ratings"] = [
        {"rating": r, "note": n, "at": at}
        for r, n, at in db.execute(
            "SELECT rating, note, at FROM feedback WHERE call_id = ? ORDER BY at, id", (call_id,)
        )
    ]
    return out


def recent_outputs(
    db: sqlite3.Connection, *, per_client: int, clients: int
) -> list[tuple[str, list[int]]]:
    """The output tokens of each named client's latest `per_client` answered chat calls,
    oldest first, for the `clients` clients seen last, least recently seen first: what
    `RecentOutputs` is seeded with at start."""
    # The client names are walked through the (client, started_at) index, one seek each,
    # rather than grouping every row of the table: start-up reads this off a ledger of
    # years of calls, and a few clients only.
    seen = db.execute(
        "WITH RECURSIVE names(client) AS ("
        " SELECT MIN(client) FROM calls"
        " UNION ALL SELECT (SELECT MIN(client) FROM calls WHERE client > names.client)"
        " FROM names WHERE names.client IS NOT NULL)"
        " SELECT client, (SELECT MAX(started_at) FROM calls c WHERE c.client = names.client)"
        " AS last FROM names WHERE client IS NOT NULL ORDER BY last DESC LIMIT ?",
        (clients,),
    ).fetchall()
    found = []
    for client, _ in reversed(seen):
        latest = db.execute(
            "SELECT output_tokens FROM calls WHERE client = ? AND outcome = 'ok'"
            " AND kind = 'chat' ORDER BY started_at DESC LIMIT ?",
            (client, per_client),
        ).fetchall()
        if latest:
            found.append((client, [n for (n,) in reversed(latest)]))
    return found


def recent_ttfts(
    db: sqlite3.Connection, *, since: float, rows: int = 5000
) -> list[tuple[str, str, float]]:
    """(model, task, seconds to its first token) of the answers of the latest calls since
    `since`, oldest first: what the hedge thresholds are seeded with at start. Second
    opinions and judges are left out: theirs is not the answer's wait."""
    found = db.execute(
        "SELECT a.model, c.task, a.first_token_s FROM calls c"
        " JOIN attempts a ON a.call_id = c.id"
        " WHERE c.started_at >= ? AND a.outcome = 'ok' AND a.first_token_s IS NOT NULL"
        " AND a.second_opinion = 0 AND c.kind = 'chat'"
        " ORDER BY c.started_at DESC LIMIT ?",
        (since, rows),
    ).fetchall()
    return [(model, task, float(ttft)) for model, task, ttft in reversed(found)]

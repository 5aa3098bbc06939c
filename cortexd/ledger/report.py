"""``model-performance.md``: the ledger as a Markdown page the user reads (and reviews weekly).

`render` is pure: month-to-date spend per provider, then per task type × model, then the
latest calls. `ReportJob` rewrites the file atomically a few seconds after calls are
recorded, at most every so often however busy the daemon is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cortexd.context.atomic import write_atomic
from cortexd.formatting import money, percent, seconds
from cortexd.ledger import call_views, queries
from cortexd.ledger.ledger import Ledger
from cortexd.ledger.months import Month

log = logging.getLogger("cortexd.ledger")
#: More sections for the page, read in the report's thread with its connection.
Extras = Callable[[sqlite3.Connection, float], dict[str, Any]]
REPORT_NAME = "model-performance.md"


def _cell(value: object) -> str:
    text = "—" if value is None or value == "" else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _pair(q: dict[str, float | None]) -> str:
    return f"{seconds(q['p50'])} / {seconds(q['p95'])}"


def _row(cells: list[object]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def model_label(row: dict[str, Any]) -> str:
    """A stats row's model and provider, and its role where it is not the answer.

    >>> model_label({"model": "haiku", "provider": "anthropic", "role": "judge"})
    'haiku (anthropic), judge'
    """
    label = f"{row['model']} ({row['provider']})"
    role = row.get("role") or "answer"
    return label if role == "answer" else f"{label}, {role}"


def render(
    costs: dict[str, Any],
    stats: dict[str, Any],
    recent: list[dict[str, Any]],
    extras: dict[str, Any] | None = None,
) -> str:
    """The page, from `queries.costs`, `queries.stats` (this month) and `call_views.recent_calls`;
    `extras` (from the review: budgets, week, proposals, pending) adds their sections."""
    extras = extras or {}
    written = time.strftime("%Y-%m-%d %H:%M", time.localtime(costs["now"]))
    out = [
        "# Model performance",
        "",
        f"*Written by cortexd at {written} (local time) from its ledger, a few seconds after"
        " new calls; edits here are overwritten. `cortex stats`, `cortex costs` and"
        " `cortex why CALL` show more.*",
        "",
        f"## Spend in {costs['month']}",
        "",
        "| Provider | Calls | Spent | Projected at month end |",
        "|---|---:|---:|---:|",
    ]
    for p in costs["providers"]:
        out.append(
            _row([p["provider"], p["calls"], money(p["cost_usd"]), money(p["projected_usd"])])
        )
    out.append(
        _row(["**total**", "", f"**{money(costs['total_usd'])}**", money(costs["projected_usd"])])
    )
    out += [
        "",
        f"{costs['days_elapsed']:.1f} of {costs['days_in_month']} days; the projection adds the"
        " rate of the last 7 days (or of the month so far) for the days left.",
    ]
    for u in costs["unpriced"]:
        out += [
            "",
            f"> **Price unknown:** {u['tries']} tries of `{u['model']}` ({u['provider']}) have"
            " no price in the catalog and are not in these sums.",
        ]
    out += _budgets(extras)
    out += _week(extras.get("week"))
    out += [
        "",
        "## By task type and model, this month",
        "",
        "A row counts every try of a model, failed ones too. *Completed*: answered whole"
        " (no error, not cut off, valid JSON where JSON was asked). *Achieved*: of the calls"
        " it answered, those not rated bad and with no sign against them (asked again, overridden"
        " right after, invalid JSON, a disagreeing second opinion); a good rating wins."
        " A cross-validated call's second opinion and judge have rows of their own, marked so:"
        " they are not the model's answers on that task type.",
        "",
        "| Task type | Model | Tries | Completed | Achieved | Total p50 / p95 | TTFT p50 / p95"
        " | Tokens in / out | Cost |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in stats["rows"]:
        cost = money(r["cost_usd"]) + (" + ?" if r["unpriced_tries"] else "")
        out.append(
            _row(
                [
                    r["task"],
                    model_label(r),
                    r["tries"],
                    percent(r["completed_rate"]),
                    percent(r["achieved_rate"]),
                    _pair(r["total_s"]),
                    _pair(r["first_token_s"]),
                    f"{r['input_tokens']:,} / {r['output_tokens']:,}",
                    cost,
                ]
            )  # fmt: skip
        )
    if not stats["rows"]:
        out.append(_row(["no calls yet this month", "", "", "", "", "", "", "", ""]))
    out += _proposals(extras)
    out += [
        "",
        "## Latest calls",
        "",
        "| When | Task | Model | Outcome | Tokens in / out | TTFT | Total | Cost | Call |",
        "|---|---|---|---|---:|---:|---:|---:|---|",
    ]
    for c in reversed(recent):
        when = time.strftime("%m-%d %H:%M:%S", time.localtime(c["started_at"]))
        outcome = c["outcome"] if c["completed"] or c["outcome"] != "ok" else "ok, incomplete"
        model = c["model"] or "—"
        if c["fallback"]:
            model += " (fallback)"
        out.append(
            _row(
                [
                    when,
                    c["task"],
                    model,
                    outcome,
                    f"{c['input_tokens']} / {c['output_tokens']}",
                    seconds(c["first_token_s"]),
                    seconds(c["total_s"]),
                    money(c["cost_usd"]),
                    f"`{c['id'][:12]}`",
                ]
            )  # fmt: skip
        )
    return "\n".join(out) + "\n"


def _budgets(extras: dict[str, Any]) -> list[str]:
    if "budgets" not in extras:
        return []
    if extras["budgets"] is None:
        return ["", "No budget is set: spend is tracked, never limited or alerted on"
                " (`cortex budget set PROVIDER AMOUNT` adds one)."]  # fmt: skip
    out = ["", "| Budget | Monthly limit | Spent | Used | At 100% |", "|---|---:|---:|---:|---|"]
    for b in extras["budgets"]:
        spent = money(str(b["spent"] / 10**12))
        out.append(_row([b["scope"], money(str(b["limit"])), spent, f"{b['percent']:.0f}%",
                         b["at_limit"]]))  # fmt: skip
    return out


def _week(week: dict[str, Any] | None) -> list[str]:
    if week is None:
        return []
    this, last = week["this_week"], week["last_week"]

    def share(part: int, whole: int) -> str:
        return percent(part / whole if whole else None)

    out = [
        "",
        "## The last 7 days",
        "",
        "| | Calls | Completed | Achieved | Spent |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, p in (("these 7 days", this), ("the 7 before", last)):
        out.append(_row([label, p["calls"], share(p["completed"], p["calls"]),
                         share(p["achieved"], p["calls"]), money(p["cost_usd"])]))  # fmt: skip
    if week["tasks"]:
        busiest = ", ".join(f"{t['task']} ({t['calls']})" for t in week["tasks"])
        out += ["", f"Busiest task types: {busiest}."]
    return out


def _proposals(extras: dict[str, Any]) -> list[str]:
    if "proposals" not in extras:
        return []
    out = ["", "## Routing proposals", ""]
    if not extras["proposals"]:
        out.append("None: the ledger supports no change to the routing table yet.")
    for p in extras["proposals"]:
        out.append(f"{p['number']}. **{_cell(p['summary'])}** ({p['calls']} calls, `{p['id']}`)")
        out += [f"   - {_cell(line)}" for line in p["evidence"]]
    for p in extras.get("pending", []):
        out.append(f"- Not yet: {_cell(p['summary'])} — needs about {p['needs_calls']} more calls.")
    if extras["proposals"]:
        out += ["", "`cortex propose --apply N` makes change N; `--reject N` sets it aside."]
    return out


def snapshot(db: Any, now: float, extras: Extras | None = None) -> str:
    """The page from the database as it is now."""
    month = Month.of(now)
    return render(
        queries.costs(db, now=now),
        queries.stats(db, since=month.start, until=now),
        call_views.recent_calls(db, limit=20),
        extras(db, now) if extras is not None else None,
    )


#: A rewrite waits at least this many times as long as the last one took, after it: the
#: report reads the whole month, so on a busy month it takes a share of the daemon's time
#: that grows with the month; this keeps it under 2 %.
SPACING = 50


def next_due(
    now: float,
    first_pending: float,
    delay_s: float,
    max_delay_s: float,
    last: tuple[float, float] | None = None,
    spacing: float = SPACING,
) -> float:
    """When to rewrite: `delay_s` after the latest call, or `max_delay_s` after the first
    one not yet in the report, whichever is sooner; but not sooner than `spacing` times the
    last rewrite's length after it ended (`last`: when it ended, how long it took).

    >>> next_due(100.0, 80.0, 3.0, 30.0)  # a call 20 s after the first pending one
    103.0
    >>> next_due(100.0, 72.0, 3.0, 30.0)  # the first pending one has waited 28 s
    102.0
    >>> next_due(100.0, 80.0, 3.0, 30.0, last=(99.0, 0.5))  # the last rewrite took 0.5 s
    124.0
    """
    due = min(now + delay_s, first_pending + max_delay_s)
    if last is not None:
        ended, took = last
        due = max(due, ended + spacing * took)
    return due


class ReportJob:
    """Rewrites the report `delay_s` after the last recorded call, or `max_delay_s` after
    the first one not yet in it, whichever is sooner (`next_due`)."""

    def __init__(
        self,
        ledger: Ledger,
        path: Path,
        *,
        delay_s: float = 3.0,
        max_delay_s: float = 30.0,
        spacing: float = SPACING,
        extras: Extras | None = None,
    ) -> None:
        self.ledger = ledger
        self.extras = extras
        self.path = path
        self.delay_s = delay_s
        self.max_delay_s = max_delay_s
        self.spacing = spacing
        self._timer: asyncio.TimerHandle | None = None
        self._first_pending: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._last: tuple[float, float] | None = None  # the last rewrite: ended, took (s)
        self.writes = 0

    def poke(self, _: object = None) -> None:
        """New calls were recorded (a `Ledger` listener)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._first_pending is None:
            self._first_pending = now
        due = next_due(
            now, self._first_pending, self.delay_s, self.max_delay_s, self._last, self.spacing
        )
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(due, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self._task is not None and not self._task.done():
            self.poke()  # a write is running: the calls it may have missed get another
            return
        self._first_pending = None
        self._task = asyncio.get_running_loop().create_task(self.write())

    async def write(self) -> None:
        """Write the report now (in a thread)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await asyncio.to_thread(self._write)
            self._last = (loop.time(), loop.time() - started)
        except (OSError, ValueError) as error:
            log.error("could not write %s: %s", self.path, error)
        except Exception:  # noqa: BLE001 - a report bug must not stop the daemon
            log.exception("could not write %s", self.path)

    def _write(self) -> None:
        text = self.ledger.read_now(snapshot, time.time(), self.extras)
        write_atomic(self.path, text)
        self.writes += 1

    async def close(self) -> None:
        """Write what is pending, then stop."""
        pending = self._timer is not None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if pending:
            await self.write()

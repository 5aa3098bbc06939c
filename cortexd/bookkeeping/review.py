"""The review: routing proposals from the ledger, the report's extra sections (budgets,
the week, proposals), and the weekly job that regenerates the report and sends a digest.

Under the seed's mode ("Static rules + user override") proposals are only ever shown;
under ``Adaptive`` the weekly review applies them itself, each one logged and announced.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from cortexd.bookkeeping.notices import Notice, Notifier
from cortexd.bookkeeping.spend import SpendTracker
from cortexd.context.atomic import FileChangedError, rewrite
from cortexd.ledger.bookkeeping import rejected
from cortexd.ledger.evidence import EVIDENCE_DAYS, evidence, week_figures
from cortexd.ledger.report import ReportJob
from cortexd.routing import (
    EditError,
    Mode,
    Pending,
    Proposal,
    Spend,
    apply_changes,
    propose,
    statuses,
)
from cortexd.routing_generation import Routing
from cortexd.services import Services

log = logging.getLogger("cortexd.bookkeeping.review")


def proposals_of(
    db: sqlite3.Connection, routing: Routing, now: float, text: str | None = None
) -> tuple[list[Proposal], list[Pending]]:
    """The proposals the last `EVIDENCE_DAYS` support for this routing table; given the
    file's `text`, a change its cells cannot express becomes advice, with the reason."""
    found = evidence(db, since=now - EVIDENCE_DAYS * 86_400, until=now)
    proposals, pending = propose(found, routing.table, routing.catalog)
    proposals = _unless_rejected(db, routing, now, proposals)
    if text is not None:
        proposals = [_checked(p, text) for p in proposals]
    return proposals, pending


def _unless_rejected(
    db: sqlite3.Connection, routing: Routing, now: float, proposals: list[Proposal]
) -> list[Proposal]:
    """Rejected proposals come back only on new evidence: the calls made since the
    rejection must support the change on their own."""
    rejections = rejected(db)
    kept = []
    for proposal in proposals:
        at = rejections.get(proposal.key)
        if at is None:
            kept.append(proposal)
            continue
        since, _ = propose(evidence(db, since=at, until=now), routing.table, routing.catalog)
        again = next((p for p in since if p.key == proposal.key), None)
        if again is not None:
            day = time.strftime("%Y-%m-%d", time.localtime(at))
            line = f"rejected on {day}; the {again.calls} calls since support it on their own"
            kept.append(replace(proposal, evidence=(*proposal.evidence, line)))
    return kept


def _checked(proposal: Proposal, text: str) -> Proposal:
    if not proposal.changes:
        return proposal
    try:
        apply_changes(text, proposal.changes, today=datetime.date.today())
    except EditError as error:
        note = f"not applicable as a cell edit ({error}): edit the file yourself"
        return replace(proposal, changes=(), evidence=(*proposal.evidence, note))
    return proposal


def routing_text(path: Path) -> str | None:
    """The routing file's text, for checking proposals against it (None if unreadable)."""
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def proposal_json(number: int, p: Proposal) -> dict[str, Any]:
    """A proposal for the API, numbered as `cortex propose` lists it."""
    out = asdict(p)
    out["number"] = number
    return out


def budgets_for_report(routing: Routing, tracker: SpendTracker) -> list[dict[str, Any]] | None:
    """The rows of `routing`'s budgets for the report, at the month's settled spend (of
    `tracker`); None when no budget is set."""
    budgets = routing.table.budgets
    if not budgets:
        return None
    spend: Spend = tracker.committed()
    return [
        {
            "scope": s.budget.scope,
            "limit": s.budget.monthly_limit,
            "spent": s.spent,
            "percent": s.percent,
            "at_limit": s.budget.at_limit.value,
        }
        for s in statuses(spend, budgets)
    ]


#: The report is rewritten seconds after calls; proposals weigh 30 days and barely move in
#: minutes, so they are recomputed at most this often (or when the table or a rejection
#: changes).
PROPOSALS_FRESH_S = 600.0


def report_extras(
    serving: Callable[[], Routing], routing_path: Path, spend: SpendTracker
) -> Callable[[sqlite3.Connection, float], dict[str, Any]]:
    """What the report adds to the ledger's figures: budgets, the week, the proposals.
    `serving()` is the routing generation served at each writing (a reload replaces it),
    read from `routing_path` (its text checks the proposals); `spend` the month's."""
    kept: dict[str, Any] = {}  # the last proposals, and what they were computed on

    def extras(db: sqlite3.Connection, now: float) -> dict[str, Any]:
        routing = serving()  # one generation for the whole report
        key = (routing.generation, *db.execute(_REJECTIONS).fetchone())
        if kept.get("key") != key or now - kept["at"] > PROPOSALS_FRESH_S:
            text = routing_text(routing_path)
            kept.update(key=key, at=now, found=proposals_of(db, routing, now, text))
        proposals, pending = kept["found"]
        return {
            "budgets": budgets_for_report(routing, spend),
            "week": week_figures(db, now=now),
            "proposals": [proposal_json(i, p) for i, p in enumerate(proposals, 1)],
            "pending": [asdict(p) for p in pending],
        }

    return extras


_REJECTIONS = "SELECT COUNT(*), MAX(rejected_at) FROM rejected_proposals"


def digest(week: dict[str, Any], proposals: list[Proposal], applied: list[Proposal]) -> Notice:
    """The weekly digest: one short notice."""
    this, last = week["this_week"], week["last_week"]
    body = f"{this['calls']} calls, ${float(this['cost_usd'] or 0):.2f}"
    if last["calls"]:
        body += f" (the week before: {last['calls']} calls, ${float(last['cost_usd'] or 0):.2f})"
    body += "."
    if this["calls"]:
        body += f" {100 * this['achieved'] / this['calls']:.0f}% achieved."
    if applied:
        body += f" Applied {len(applied)} routing change(s): " + "; ".join(
            p.summary for p in applied
        )
    elif proposals:
        body += f" {len(proposals)} routing proposal(s): run `cortex propose`."
    return Notice("cortexd: the week in review", body, "info", kind="review")


class WeeklyReview:
    """Regenerates ``model-performance.md`` with the week and the proposals, sends the
    digest, and — only in ``Adaptive`` mode — applies the proposals."""

    def __init__(
        self,
        services: Services,
        report: ReportJob,
        notifier: Notifier,
        reload: Callable[[], bool],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._services = services
        self._report = report
        self._notifier = notifier
        self._reload = reload
        self._clock = clock

    async def run(self) -> None:
        """One review."""
        services = self._services
        now = self._clock()
        routing = services.routing
        week = await services.ledger.read(week_figures, now=now)
        text = await asyncio.to_thread(routing_text, services.routing_path)
        proposals, _ = await services.ledger.read(proposals_of, routing, now, text)
        applied: list[Proposal] = []
        if routing.table.mode is Mode.ADAPTIVE:
            applied = await asyncio.to_thread(self._apply, proposals)
            if applied:
                self._reload()
        await self._report.write()
        await self._notifier.notify(digest(week, proposals, applied))

    def _apply(self, proposals: list[Proposal]) -> list[Proposal]:
        path = self._services.routing_path
        applied = []
        for proposal in (p for p in proposals if p.changes):
            try:
                raw = path.read_bytes()
                edited = apply_changes(
                    raw.decode("utf-8"), proposal.changes, today=datetime.date.today()
                )
                rewrite(path, edited, was=raw)
            except (EditError, FileChangedError, OSError, UnicodeDecodeError) as error:
                log.warning("proposal %s not applied: %s", proposal.id, error)
                continue
            log.info("applied routing proposal %s: %s", proposal.id, proposal.summary)
            applied.append(proposal)
        return applied

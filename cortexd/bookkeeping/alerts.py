"""Budget alerts: each threshold of each budget is announced once a month, across restarts.

A check reads the month's spend from the ledger (the settled spend, which `GET /v1/budgets`
and `cortex costs` show too; reservations of calls in flight are not spent), and for every
budget whose spend reached thresholds not yet claimed this month, claims them all in SQLite
and sends one notice (the highest): a jump from 40% to 85% says "85%, past 80%" once, not
twice. The claim is written before the notice and marked delivered after it, so a daemon
stopped in between delivers it at the next start, and two checks racing cannot both send.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from functools import partial

from cortexd.bookkeeping.notices import Level, Notice, Notifier
from cortexd.ledger import Ledger
from cortexd.ledger.bookkeeping import Alert, claim_alert, mark_delivered, month_spend, undelivered
from cortexd.ledger.months import Month
from cortexd.routing import Budget, BudgetStatus, Spend, dollars, statuses

log = logging.getLogger("cortexd.bookkeeping.alerts")


def alert_notice(alert: Alert, at_limit: str | None = None) -> Notice:
    """The notice for a threshold reached."""
    level: Level = "critical" if alert.threshold >= 100 else "warning"
    if alert.threshold < 80:
        level = "info"
    percent = 100 * alert.spent / alert.limit
    body = (
        f"{dollars(alert.spent)} of {dollars(alert.limit)} spent in {alert.month} ({percent:.0f}%)."
    )
    if at_limit is not None:
        body += f" At 100%: {at_limit}."
    return Notice(
        f"cortexd: {alert.scope} budget past {alert.threshold}%", body, level, kind="budget"
    )


class BudgetAlerts:
    """The scheduled budget check (also run right after a call crosses a threshold, and after
    a reload, which may have changed the budgets)."""

    def __init__(
        self,
        ledger: Ledger,
        budgets: Callable[[], Mapping[str, Budget]],
        notifier: Notifier,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ledger = ledger
        self._budgets = budgets
        self._notifier = notifier
        self._clock = clock

    async def check(self) -> list[Alert]:
        """Announce what the month's settled spend newly reached."""
        month = Month.of(self._clock())
        spent = await self._ledger.read(month_spend, month=month)
        for alert in await self._ledger.read(undelivered):
            await self._deliver(alert)
        sent = []
        budgets = self._budgets()
        for status in statuses(Spend(spent), budgets):
            claimed = [a for a in self._alerts(month, status) if await self._claim(a)]
            if claimed:
                highest = claimed[-1]
                await self._deliver(highest, budgets.get(status.budget.scope))
                for lower in claimed[:-1]:  # announced by the highest one
                    await self._ledger.write(partial(mark_delivered, alert=lower, at=self._clock()))
                sent.append(highest)
        return sent

    def _alerts(self, month: Month, status: BudgetStatus) -> list[Alert]:
        return [
            Alert(month.label, status.budget.scope, t, status.limit, status.spent)
            for t in status.reached
        ]

    async def _claim(self, alert: Alert) -> bool:
        return await self._ledger.write(partial(claim_alert, alert=alert, at=self._clock()))

    async def _deliver(self, alert: Alert, budget: Budget | None = None) -> None:
        policy = budget.at_limit.value if budget is not None else None
        await self._notifier.notify(alert_notice(alert, policy))
        await self._ledger.write(partial(mark_delivered, alert=alert, at=self._clock()))
        log.info("budget alert sent: %s %d%% (%s)", alert.scope, alert.threshold, alert.month)

"""Budget alerts in-process, on a real ledger: once per threshold per month, across restarts,
one notice for a jump past several thresholds, redelivery after a crash; the spend kept for
the request path; and the scheduler's catch-up of runs missed while the daemon was down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from support.waiting import until

from cortexd.bookkeeping.alerts import BudgetAlerts
from cortexd.bookkeeping.notices import Notice
from cortexd.bookkeeping.spend import SpendTracker
from cortexd.daemon.schedule import Schedule
from cortexd.ledger import CallRecord, Ledger
from cortexd.ledger.bookkeeping import Alert, claim_alert, last_run, set_last_run
from cortexd.ledger.months import Month
from cortexd.routing import Budget, BudgetPolicy
from cortexd.routing.dispatch import Attempt
from cortexd.routing.providers import Usage


class Kept:
    """A notifier that keeps what it is given."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []

    async def notify(self, notice: Notice) -> None:
        self.notices.append(notice)


def attempt(call_id: str, cost: str, provider: str = "anthropic") -> Attempt:
    return Attempt(
        request_id=call_id,
        number=1,
        task="Code review",
        provider=provider,
        model="sonnet" if provider == "anthropic" else "codex",
        model_id="m",
        outcome="ok",
        usage=Usage(input_tokens=10, output_tokens=10),
        total_s=0.1,
        cost_usd=Decimal(cost),
    )


async def spend(ledger: Ledger, cost: str, provider: str = "anthropic") -> None:
    call_id = uuid.uuid4().hex[:24]
    record = CallRecord(
        id=call_id,
        started_at=time.time(),
        task="Code review",
        decided_by="task-given",
        outcome="ok",
        attempts=(attempt(call_id, cost, provider),),
        model="sonnet",
        provider=provider,
        usage=Usage(input_tokens=10, output_tokens=10),
        total_s=0.1,
        prompt=call_id,
    )
    assert await ledger.record(record)


@contextlib.asynccontextmanager
async def opened(path: Path) -> AsyncIterator[Ledger]:
    ledger = Ledger(path, synchronous="NORMAL")
    ledger.open()
    await ledger.start()
    try:
        yield ledger
    finally:
        ledger.close()


BUDGETS = {"anthropic": Budget("anthropic", Decimal(10), (50, 80, 100), BudgetPolicy.FALLBACK, 7)}


def checker(ledger: Ledger, kept: Kept, budgets: dict[str, Budget] = BUDGETS) -> BudgetAlerts:
    return BudgetAlerts(ledger, lambda: budgets, kept)


@pytest.mark.anyio
async def test_each_threshold_alerts_once_also_after_restarts(tmp_path: Path) -> None:
    path, kept = tmp_path / "ledger.sqlite3", Kept()
    async with opened(path) as ledger:
        await spend(ledger, "4")
        assert await checker(ledger, kept).check() == []
        await spend(ledger, "4.5")  # 85%: past 80
        sent = await checker(ledger, kept).check()
        assert [a.threshold for a in sent] == [80]
        assert await checker(ledger, kept).check() == []
    async with opened(path) as ledger:  # a restart
        assert await checker(ledger, kept).check() == []
    assert [n.title for n in kept.notices] == ["cortexd: anthropic budget past 80%"]
    assert kept.notices[0].level == "warning"
    assert "$8.50 of $10.00 spent" in kept.notices[0].body
    assert "At 100%: fallback" in kept.notices[0].body


@pytest.mark.anyio
async def test_a_jump_past_two_thresholds_is_one_notice_and_both_are_spent(
    tmp_path: Path,
) -> None:
    kept = Kept()
    async with opened(tmp_path / "ledger.sqlite3") as ledger:
        await spend(ledger, "11")
        await checker(ledger, kept).check()
        await spend(ledger, "1")
        await checker(ledger, kept).check()
    assert [n.title for n in kept.notices] == ["cortexd: anthropic budget past 100%"]
    assert kept.notices[0].level == "critical"


@pytest.mark.anyio
async def test_an_alert_claimed_before_a_crash_is_delivered_at_the_next_check(
    tmp_path: Path,
) -> None:
    kept = Kept()
    month = Month.of(time.time()).label
    async with opened(tmp_path / "ledger.sqlite3") as ledger:
        await spend(ledger, "6")
        # The daemon claimed the 50% alert, then died before any channel ran.
        alert = Alert(month, "anthropic", 50, 10 * 10**12, 6 * 10**12)
        assert await ledger.write(partial(claim_alert, alert=alert, at=time.time()))
        assert await checker(ledger, kept).check() == []
        assert [n.title for n in kept.notices] == ["cortexd: anthropic budget past 50%"]
        assert await checker(ledger, kept).check() == []
    assert len(kept.notices) == 1


@pytest.mark.anyio
async def test_a_raised_limit_is_a_new_budget_that_alerts_again(tmp_path: Path) -> None:
    kept = Kept()
    raised = {"anthropic": replace(BUDGETS["anthropic"], monthly_limit=Decimal(20))}
    async with opened(tmp_path / "ledger.sqlite3") as ledger:
        await spend(ledger, "9")
        await checker(ledger, kept).check()
        assert await checker(ledger, kept, raised).check() == []  # 45% of the new limit
        await spend(ledger, "8")
        await checker(ledger, kept, raised).check()
    assert [n.title for n in kept.notices] == [
        "cortexd: anthropic budget past 80%",
        "cortexd: anthropic budget past 80%",
    ]
    assert "$17.00 of $20.00" in kept.notices[1].body


@pytest.mark.anyio
async def test_no_budget_no_alert(tmp_path: Path) -> None:
    kept = Kept()
    async with opened(tmp_path / "ledger.sqlite3") as ledger:
        await spend(ledger, "500")
        assert await checker(ledger, kept, {}).check() == []
    assert kept.notices == []


def settled(call_id: str, *tries: Attempt, started_at: float | None = None) -> CallRecord:
    """A call as the ledger announces it committed."""
    at = time.time() if started_at is None else started_at
    return CallRecord(call_id, at, "Code review", "task-given", "ok", attempts=tries)


def test_spend_settles_what_the_ledger_commits_and_calls_back_on_a_crossing() -> None:
    crossings: list[int] = []
    tracker = SpendTracker(lambda: BUDGETS, on_cross=lambda: crossings.append(1))
    tracker.settle([
        settled("a", attempt("a", "3")),
        settled("b", replace(attempt("b", "4"), outcome="skipped")),  # a skip costs nothing
        settled("c", replace(attempt("c", "1"), cost_usd=None)),  # an unknown price is no 0
    ])  # fmt: skip
    assert tracker.committed().of("anthropic") == 3 * 10**12 and crossings == []
    tracker.settle([settled("d", attempt("d", "2.5"))])  # 55%
    assert crossings == [1]
    tracker.settle([settled("f", attempt("f", "0.1", provider="openai"))])
    assert tracker.spend().of("total") == 5_600_000_000_000


def test_calls_in_flight_are_held_apart_until_their_record_is_committed() -> None:
    tracker = SpendTracker(lambda: BUDGETS)
    tracker.settle([settled("old", attempt("old", "5"))])
    tracker.reserve("e", "anthropic", 10**12)
    assert tracker.spend().of("anthropic") == 6 * 10**12
    assert (
        tracker.held().of("anthropic") == 10**12
        and tracker.committed().of("anthropic") == 5 * 10**12
    )
    first = attempt("e", "0.4")
    tracker(first)  # within the reservation: it holds no more
    assert tracker.held().of("anthropic") == 10**12
    fallback = attempt("e", "1")
    tracker(fallback)  # past it: the tries count
    second = attempt("e:second", "0.1", provider="openai")
    tracker(second)  # a second opinion's try is its call's
    assert tracker.held().by_provider == {"anthropic": 1_400_000_000_000, "openai": 10**11}
    tracker.reserve("e", "openai", 3 * 10**11)  # a second model's reservation adds to it
    assert tracker.held().by_provider == {"anthropic": 1_400_000_000_000, "openai": 3 * 10**11}
    tracker.settle([settled("e", first, fallback, second)])
    assert tracker.held().by_provider == {}
    assert tracker.committed().by_provider == {"anthropic": 6_400_000_000_000, "openai": 10**11}


def test_spend_starts_over_with_a_new_month() -> None:
    now = [time.time()]
    tracker = SpendTracker(lambda: {}, clock=lambda: now[0])
    tracker.settle([settled("a", attempt("a", "3"))])
    started = now[0]
    now[0] = tracker.month.end + 1
    assert tracker.committed().of("anthropic") == 0
    # A call of last month committed late, and figures of last month loaded late: not this
    # month's.
    tracker.settle([settled("late", attempt("late", "2"), started_at=started)])
    tracker.load(Month.of(now[0] - 40 * 86_400), {"anthropic": 10**12})
    assert tracker.committed().of("anthropic") == 0


WEEKLY = {"day_of_week": "mon", "hour": 9, "minute": 0}


@pytest.mark.anyio
async def test_a_weekly_job_missed_while_down_runs_once_at_start(tmp_path: Path) -> None:
    runs: list[float] = []

    async def review() -> None:
        runs.append(time.time())

    async with opened(tmp_path / "ledger.sqlite3") as ledger:
        schedule = Schedule(ledger)
        schedule.on("weekly-review", review, CronTrigger(**WEEKLY, timezone=schedule.timezone))
        # First start ever: nothing was missed, the schedule starts from now.
        assert await schedule.missed("weekly-review") is False
        assert await ledger.read(last_run, job="weekly-review") is not None
        # The daemon was down for the last 15 days: two Mondays passed, one run makes up.
        long_ago = time.time() - 15 * 86_400
        await ledger.write(partial(set_last_run, job="weekly-review", at=long_ago))
        await schedule.start()
        try:
            await until(lambda: runs, "a run")
            await asyncio.sleep(0.1)
            assert len(runs) == 1
            stored = await ledger.read(last_run, job="weekly-review")
            assert stored is not None and stored >= runs[0]
            # The next run is next Monday 09:00, not again now.
            due = schedule.next_run("weekly-review")
            assert due is not None and due > datetime.now(schedule.timezone)
            assert due.weekday() == 0 and (due.hour, due.minute) == (9, 0)
        finally:
            schedule.shutdown()


@pytest.mark.anyio
async def test_a_weekly_job_not_yet_due_does_not_run_at_start(tmp_path: Path) -> None:
    async with opened(tmp_path / "ledger.sqlite3") as ledger:
        schedule = Schedule(ledger)
        trigger = CronTrigger(**WEEKLY, timezone=schedule.timezone)
        schedule.on("weekly-review", lambda: asyncio.sleep(0), trigger)
        last_fire = trigger.get_next_fire_time(None, datetime.now(schedule.timezone))
        just_after = last_fire - timedelta(days=7) + timedelta(minutes=1)
        await ledger.write(partial(set_last_run, job="weekly-review", at=just_after.timestamp()))
        assert await schedule.missed("weekly-review") is False


@pytest.mark.anyio
async def test_a_periodic_job_runs_at_start_and_when_asked(tmp_path: Path) -> None:
    runs: list[int] = []

    async def check() -> None:
        runs.append(1)

    async with opened(tmp_path / "ledger.sqlite3") as ledger:
        schedule = Schedule(ledger)
        schedule.every("budget-check", check, seconds=3600)
        await schedule.start()
        try:
            await until(lambda: runs, "a run")
            assert runs == [1]
            schedule.run_soon("budget-check")
            await until(lambda: len(runs) == 2, "two runs")
        finally:
            schedule.shutdown()


@pytest.mark.anyio
async def test_a_failing_job_is_logged_and_not_counted_as_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> None:
        raise RuntimeError("boom")

    async with opened(tmp_path / "ledger.sqlite3") as ledger:
        schedule = Schedule(ledger)
        schedule.every("budget-check", broken, seconds=3600)
        await schedule.start()
        try:
            await until(
                lambda: any("budget-check failed" in r.getMessage() for r in caplog.records),
                "the failure logged",
            )
        finally:
            schedule.shutdown()
        assert await ledger.read(last_run, job="budget-check") is None
    assert schedule.runs == {}
    assert any("scheduled job budget-check failed" in r.getMessage() for r in caplog.records)


@pytest.mark.anyio
async def test_asked_to_run_while_running_it_runs_once_more_after(tmp_path: Path) -> None:
    started: list[float] = []
    release = asyncio.Event()

    async def check() -> None:
        started.append(time.monotonic())
        if len(started) == 2:  # the run at start is done; the second one waits here
            await release.wait()

    async with opened(tmp_path / "ledger.sqlite3") as ledger:
        schedule = Schedule(ledger)
        schedule.every("budget-check", check, seconds=3600)
        await schedule.start()
        try:
            await until(lambda: len(started) == 1, "the first start")
            schedule.run_soon("budget-check")
            await until(lambda: len(started) == 2, "the second start")
            # A call crosses a threshold while that check runs: three asks, one more run.
            for _ in range(3):
                schedule.run_soon("budget-check")
            release.set()
            await until(lambda: len(started) == 3, "the third start")
            await asyncio.sleep(0.2)
            assert len(started) == 3
        finally:
            schedule.shutdown()


@pytest.mark.anyio
async def test_a_job_stopped_by_the_shutdown_is_not_reported_as_failed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    started = asyncio.Event()

    async def waits() -> None:  # the hardware probe waits for the SDKs at start-up
        started.set()
        await asyncio.Event().wait()

    async with opened(tmp_path / "ledger.sqlite3") as ledger:
        schedule = Schedule(ledger)
        schedule.every("hardware-probe", waits, seconds=3600)
        await schedule.start()
        await started.wait()
        schedule.shutdown()
        await asyncio.sleep(0.2)  # the executor's cancelled job has ended
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert schedule.runs == {}

"""The daemon's scheduled jobs, on APScheduler 3, with missed runs caught up at start.

APScheduler 3 keeps jobs in memory unless given a persistent job store, and its SQLAlchemy
store pickles each job's function — which rules out jobs that are bound methods of the
daemon's parts, built at start-up and passed in. So jobs stay in memory, and what must
outlive the process is one row per job in the ledger (`job_runs`: when it last finished).
At start a calendar job whose last fire time passed while the daemon was down runs at
once (once, however many were missed), and a periodic job runs at once anyway: its check
is idempotent and cheap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, tzinfo
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from cortexd.ledger import Ledger
from cortexd.ledger.bookkeeping import last_run, set_last_run

log = logging.getLogger("cortexd.daemon.schedule")

Job = Callable[[], Awaitable[object]]


class Schedule:
    """Jobs by id; `start()` on the event loop, `run_soon(id)` to run one now."""

    def __init__(
        self,
        ledger: Ledger,
        timezone: tzinfo | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ledger = ledger
        self._clock = clock
        self._scheduler = AsyncIOScheduler(
            timezone=timezone,
            # A laptop that slept past a run should run it on waking, once, not skip it.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._calendar: dict[str, BaseTrigger] = {}
        self._running: set[str] = set()
        self._again: set[str] = set()  # asked to run while running: once more after
        self.runs: dict[str, int] = {}

    @property
    def timezone(self) -> tzinfo:
        zone: tzinfo = self._scheduler.timezone
        return zone

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), self.timezone)

    def every(self, job_id: str, job: Job, *, seconds: float) -> None:
        """Run `job` every `seconds`, and once at start."""
        trigger = IntervalTrigger(seconds=seconds, timezone=self.timezone)
        self._scheduler.add_job(
            partial(self._run, job_id, job), trigger, id=job_id, next_run_time=self._now()
        )

    def on(self, job_id: str, job: Job, trigger: BaseTrigger) -> None:
        """Run `job` at `trigger`'s times (e.g. a weekly `CronTrigger`); a run missed while
        the daemon was down is made up at start."""
        self._calendar[job_id] = trigger
        self._scheduler.add_job(partial(self._run, job_id, job), trigger, id=job_id)

    async def _run(self, job_id: str, job: Job) -> None:
        self._running.add(job_id)
        try:
            while True:
                self._again.discard(job_id)
                await self._once(job_id, job)
                if job_id not in self._again:
                    return
        except asyncio.CancelledError:
            # Only the shutdown cancels a job, and APScheduler would log it as the job's
            # failure, traceback and all: a job that was stopped did not fail.
            log.debug("scheduled job %s stopped by the shutdown", job_id)
        finally:
            self._running.discard(job_id)

    async def _once(self, job_id: str, job: Job) -> None:
        try:
            await job()
        except Exception:  # noqa: BLE001 - a failed run is logged; the schedule goes on
            log.exception("scheduled job %s failed", job_id)
            return
        self.runs[job_id] = self.runs.get(job_id, 0) + 1
        await self._ledger.write(partial(set_last_run, job=job_id, at=self._clock()))

    async def missed(self, job_id: str) -> bool:
        """Whether the calendar job `job_id` had a run due while the daemon was down."""
        trigger = self._calendar[job_id]
        last = await self._ledger.read(last_run, job=job_id)
        if last is None:
            # Never run: the schedule starts now rather than making up for the past.
            await self._ledger.write(partial(set_last_run, job=job_id, at=self._clock()))
            return False
        since = datetime.fromtimestamp(last, self.timezone)
        due = trigger.get_next_fire_time(None, since)
        return due is not None and due <= self._now()

    async def start(self) -> None:
        """Start the scheduler on the running loop and make up missed calendar runs."""
        self._scheduler.start()
        for job_id in self._calendar:
            if await self.missed(job_id):
                log.info("%s was due while cortexd was stopped: running it now", job_id)
                self.run_soon(job_id)

    def run_soon(self, job_id: str) -> None:
        """Run the job now; if it is running, once more when it ends (APScheduler would drop
        a run asked for while one is going). A burst of requests makes one run."""
        if job_id in self._running:
            self._again.add(job_id)
            return
        job = self._scheduler.get_job(job_id)
        if job is not None:
            job.modify(next_run_time=self._now())

    def next_run(self, job_id: str) -> datetime | None:
        """When the job runs next."""
        job = self._scheduler.get_job(job_id)
        return None if job is None else job.next_run_time

    def as_json(self) -> dict[str, dict[str, object]]:
        """Each job's runs since start and its next run (ISO, local time), for the health check."""
        out: dict[str, dict[str, object]] = {}
        for job in self._scheduler.get_jobs():
            due = job.next_run_time
            out[job.id] = {
                "runs": self.runs.get(job.id, 0),
                "next_run": due.isoformat(timespec="seconds") if due is not None else None,
            }
        return out

    def shutdown(self) -> None:
        """Stop; jobs running now are not waited for."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

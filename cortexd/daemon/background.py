"""The daemon's background services: the inbox, batches and the queue of coding tasks, the
scheduled jobs (budget checks, the hardware probe, the weekly review) and the routing file's
watchers.

They start just after the daemon begins to serve (`cortexd.daemon.lifespan` imports this module
then), because a daemon that its first call started (socket activation) should answer that
call first: their modules and threads cost a tenth of a second. Endpoints that use them
wait for them (`app.state.started_later`, `app.state.capture_ready`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.triggers.cron import CronTrigger
from starlette.applications import Starlette

from cortexd.api.hardware_routes import probe_now
from cortexd.bookkeeping.alerts import BudgetAlerts
from cortexd.bookkeeping.notices import Notifier
from cortexd.bookkeeping.review import WeeklyReview
from cortexd.daemon.file_watch import FileWatcher
from cortexd.daemon.reload import HotReload
from cortexd.daemon.schedule import Schedule
from cortexd.ledger.report import ReportJob
from cortexd.routing import TASK_EXAMPLES_FILE
from cortexd.services import Services

if TYPE_CHECKING:
    from cortexd.batch import Batches

log = logging.getLogger("cortexd")

#: How often spend is checked against the budgets (also right after a call crosses one).
BUDGET_CHECK_S = 15 * 60
#: How often the machine is probed again.
HARDWARE_PROBE_S = 5 * 60
#: The weekly review: Monday morning, local time.
WEEKLY_REVIEW = {"day_of_week": "mon", "hour": 9, "minute": 0}


class Background:
    """The services over `app`, started by `start` and stopped by `stop` (whatever of them
    had started). `reload` reads the routing file again (the weekly review's applied
    proposal); `reloaded` runs after each reload that took."""

    def __init__(
        self,
        app: Starlette,
        services: Services,
        report: ReportJob,
        notices: Notifier,
        *,
        reload: Callable[[], bool],
        reloaded: Callable[[], None],
    ) -> None:
        self._app = app
        self._services = services
        self._report = report
        self._notices = notices
        self._reload = reload
        self._reloaded = reloaded
        self._schedule: Schedule | None = None
        self._batches: Batches | None = None
        self._watchers: tuple[FileWatcher, ...] = ()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, context_dir: Path) -> None:
        """Start them all; the inbox, the queue and the batches' folders are in
        `context_dir` (beside the performance report)."""
        schedule = self._schedule_jobs()
        self._schedule = schedule
        await schedule.start()
        self._keep("the inbox", self._run_capture(context_dir))
        self._batches = await self._start_batches(context_dir / "queue")
        if self._batches.queue is not None:
            self._keep("the queue of coding tasks", self._batches.queue.run())
        self._watchers = await self._watch_routing_file()

    async def stop(self) -> None:
        """Stop what started, the last started first."""
        for watching in self._watchers:
            await watching.stop()
        if self._schedule is not None:
            self._schedule.shutdown()
        if self._batches is not None:
            await self._batches.aclose()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _keep(self, name: str, running: Coroutine[Any, Any, None]) -> None:
        """Run `running` as long as the daemon does; if it fails, say so and serve on."""

        async def kept() -> None:
            try:
                await running
            except Exception:  # noqa: BLE001 - one service's failure must not stop the rest
                log.exception("%s stopped; the daemon answers calls without it", name)

        self._tasks.append(asyncio.create_task(kept()))

    def _schedule_jobs(self) -> Schedule:
        services = self._services
        schedule = Schedule(services.ledger)
        budgets = lambda: services.routing.table.budgets  # noqa: E731 - the one in force
        alerts = BudgetAlerts(services.ledger, budgets, self._notices)
        schedule.every("budget-check", alerts.check, seconds=BUDGET_CHECK_S)
        # Free GPU memory changes as other programs come and go.
        schedule.every("hardware-probe", lambda: probe_now(services), seconds=HARDWARE_PROBE_S)
        services.spend.on_cross = lambda: schedule.run_soon("budget-check")
        review = WeeklyReview(services, self._report, self._notices, self._reload)
        trigger = CronTrigger(**WEEKLY_REVIEW, timezone=schedule.timezone)
        schedule.on("weekly-review", review.run, trigger)
        services.schedule = schedule
        return schedule

    async def _run_capture(self, context_dir: Path) -> None:
        """The inbox; its modules (pydantic models among them) load in a thread."""
        capture = await asyncio.to_thread(importlib.import_module, "cortexd.capture")
        inbox = capture.start_capture(self._app, context_dir)
        self._app.state.capture_ready.set()
        await inbox

    async def _start_batches(self, queue: Path) -> Batches:
        """Batches, those a stopped daemon left running resumed where they stopped, and the
        queue of coding tasks in `queue` (beside the inbox)."""
        from cortexd.batch import Batches  # the batch machinery: only here, and the routes

        batches = Batches(self._app, self._services, queue, self._notices)
        self._app.state.batches = batches
        await batches.resume()
        return batches

    async def _watch_routing_file(self) -> tuple[FileWatcher, ...]:
        """Reload the routing file on every save, and the user's task examples; none (SIGHUP
        still works) where the system refuses a watch. A save made before the watch began
        is read at once."""
        services = self._services

        async def examples_saved() -> None:
            services.similarity.forget_examples()
            log.info("%s saved: the next classification reads it", examples.name)

        examples = services.routing_path.parent / TASK_EXAMPLES_FILE
        reload = HotReload(services, self._notices, self._reloaded)
        watcher = FileWatcher(services.routing_path, reload)
        examples_watcher = FileWatcher(examples, examples_saved)
        try:
            await watcher.start()
            await examples_watcher.start()
        except OSError as error:  # inotify's watch or instance limit, an unreadable folder
            await watcher.stop()
            log.warning(
                "the routing file is not watched (%s): after a save, run kill -HUP %d",
                error,
                os.getpid(),
            )
            return ()
        await reload()  # the same file as at start: nothing happens
        services.similarity.forget_examples()
        return watcher, examples_watcher

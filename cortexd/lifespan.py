"""The application's life: what starts before the first answer and stops after the last.

Start-up: the ledger and its report, this month's spend, each client's recent answer sizes,
the scheduled jobs, the provider SDKs (in a thread), the inbox, the routing file's
watchers. Shutdown: the ledger's queue committed, the report brought up to date, the
providers closed. Nothing here belongs to the process (signals, the socket, systemd's
watchdog): `cortexd.server.attach_process` adds those around this life, so the same
application also runs in-process under a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from apscheduler.triggers.cron import CronTrigger
from starlette.applications import Starlette

from cortexd.alerts import BudgetAlerts
from cortexd.api.hardware_routes import probe_now
from cortexd.file_watch import FileWatcher
from cortexd.hot_reload import HotReload
from cortexd.ledger import queries, sessions
from cortexd.ledger.bookkeeping import month_spend
from cortexd.ledger.report import ReportJob
from cortexd.notices import Notifier
from cortexd.paths import private_folder
from cortexd.pipeline.pins import PINS_KEPT
from cortexd.review import WeeklyReview, report_extras
from cortexd.routing import TASK_EXAMPLES_FILE
from cortexd.schedule import Schedule
from cortexd.sd_notify import SystemdNotifier
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


def attach_lifespan(
    app: Starlette,
    services: Services,
    report: Path,
    notices: Notifier,
    notifier: SystemdNotifier,
) -> None:
    """Give `app` its start-up and shutdown over `services`. `report` is the performance
    report's path (in the context folder, beside inbox/); `notices` delivers budget alerts
    and the weekly digest; `notifier` tells systemd of reloads (inert without one)."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await services.ledger.start()
        job = ReportJob(services.ledger, report, extras=report_extras(services))
        services.ledger.subscribe(job.poke)
        # Hard limits hold from the first call: this month's spend is known before serving,
        # and from then on it is the ledger's commits that settle it (spend.py).
        month = services.spend.month
        services.spend.load(month, await services.ledger.read(month_spend, month=month))
        services.ledger.subscribe(services.spend.settle)
        # Budget reservations size a call by its client's recent answers, from the first call.
        recent = services.recent_outputs
        recent.seed(
            await services.ledger.read(
                queries.recent_outputs, per_client=recent.per_client, clients=recent.clients
            )
        )
        # Hedge thresholds start from the last 30 days' times to first token, not from 8 s.
        since = time.time() - 30 * 86400
        seen = await services.ledger.read(queries.recent_ttfts, since=since)
        for model, task_type, seconds in seen:
            services.ttfts.observe(model, task_type, seconds)
        # Agents' sessions stay where they were answered across a restart.
        pins = services.pins
        pins.seed(
            await services.ledger.read(
                sessions.last_answers, since=time.time() - pins.ttl_s, sessions=PINS_KEPT
            )
        )
        schedule = _schedule(services, job, notices, notifier)
        await schedule.start()
        tasks = [asyncio.create_task(job.write()), asyncio.create_task(_know_prices(services))]
        # The report lives in the context folder, beside inbox/ and captured/. The inbox is
        # there from the first answer; what is dropped in waits for the capture to start.
        with contextlib.suppress(OSError):  # a problem there is the capture's to report
            private_folder(report.parent / "inbox")
        app.state.capture_ready = asyncio.Event()
        tasks.append(asyncio.create_task(_run_capture(app, report.parent)))
        batches = await _start_batches(app, services, report.parent / "queue", notices)
        if batches.queue is not None:
            tasks.append(asyncio.create_task(batches.queue.run()))
        if services.ledger.keep_prompts_days > 0:
            tasks.append(asyncio.create_task(_prune_hourly(services)))
        watchers = await _watch_routing_file(services, notices, notifier)
        try:
            yield
        finally:
            for watching in watchers or ():
                await watching.stop()
            schedule.shutdown()
            await batches.aclose()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # Calls have drained: commit what they queued, then bring the report up to date.
            await asyncio.to_thread(services.ledger.close)
            await job.close()
            await services.registry.aclose()
            await services.routing.catalog.prices.aclose()

    app.router.lifespan_context = lifespan


async def _know_prices(services: Services) -> None:
    """genai-prices' entries for the catalog's cloud models, extracted by a child process
    if the file beside the ledger lacks them (the first start after an install or an
    upgrade): the first call finds them known."""
    catalog = services.routing.catalog
    await catalog.prices.ready((s.provider.value, s.model_id) for s in catalog if not s.local)


def status_line(services: Services) -> str:
    """The one-line status systemd shows for the service."""
    missing = services.keys.missing()
    keys = f"no key for {', '.join(missing)}" if missing else "all keys present"
    return f"serving; routing file generation {services.routing.generation}; {keys}"


def reload_routing(services: Services, notifier: SystemdNotifier) -> bool:
    """Read the routing file again (SIGHUP, the weekly review's applied proposal), telling
    systemd; False when the file was not taken."""
    notifier.send("RELOADING=1")
    done = services.reload()
    if done:
        _reloaded(services)
    notifier.send("READY=1", f"STATUS={status_line(services)}")
    return done


def _reloaded(services: Services) -> None:
    if services.schedule is not None:
        services.schedule.run_soon("hardware-probe")  # its local rows may have changed
        # A budget lowered below this month's spend alerts now, not at the next check.
        services.schedule.run_soon("budget-check")


def _schedule(
    services: Services, report: ReportJob, notices: Notifier, notifier: SystemdNotifier
) -> Schedule:
    schedule = Schedule(services.ledger)
    alerts = BudgetAlerts(services.ledger, lambda: services.routing.table.budgets, notices)
    schedule.every("budget-check", alerts.check, seconds=BUDGET_CHECK_S)
    # Free GPU memory changes as other programs come and go.
    schedule.every("hardware-probe", lambda: probe_now(services), seconds=HARDWARE_PROBE_S)
    services.spend.on_cross = lambda: schedule.run_soon("budget-check")
    review = WeeklyReview(services, report, notices, lambda: reload_routing(services, notifier))
    trigger = CronTrigger(**WEEKLY_REVIEW, timezone=schedule.timezone)
    schedule.on("weekly-review", review.run, trigger)
    services.schedule = schedule
    return schedule


async def _run_capture(app: Starlette, context_dir: Path) -> None:
    """The inbox, started once the daemon serves: its modules (pydantic models among them)
    load in a thread rather than before the first answer."""
    capture = await asyncio.to_thread(importlib.import_module, "cortexd.capture")
    inbox = capture.start_capture(app, context_dir)
    app.state.capture_ready.set()
    await inbox


async def _start_batches(
    app: Starlette, services: Services, queue: Path, notices: Notifier
) -> Batches:
    """Batches, and those a stopped daemon left running resumed where they stopped; the
    queue of coding tasks in `queue` (beside the inbox); `notices` says when a batch that
    went through a provider's Batch API is done."""
    from cortexd.batch import Batches

    batches = Batches(app, services, queue, notices)
    app.state.batches = batches
    await batches.resume()
    return batches


async def _prune_hourly(services: Services) -> None:
    while True:
        await asyncio.sleep(3600)
        removed = await services.ledger.prune()
        if removed:
            log.info("removed %d stored prompts past their retention", removed)


async def _watch_routing_file(
    services: Services, notices: Notifier, notifier: SystemdNotifier
) -> tuple[FileWatcher, ...] | None:
    """Reload the routing file on every save, and the user's task examples; None (SIGHUP
    still works) where the system refuses a watch."""

    def after() -> None:
        _reloaded(services)
        notifier.send(f"STATUS={status_line(services)}")

    async def examples_saved() -> None:
        services.similarity.forget_examples()
        log.info("%s saved: the next classification reads it", examples.name)

    examples = services.routing_path.parent / TASK_EXAMPLES_FILE
    watcher = FileWatcher(services.routing_path, HotReload(services, notices, after))
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
        return None
    return watcher, examples_watcher

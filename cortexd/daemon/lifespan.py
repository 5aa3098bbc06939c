"""The application's life: what starts before the first answer and stops after the last.

Start-up: the ledger and its report, this month's spend, each client's recent answer sizes,
the hedging thresholds and the agents' sessions; a second after serving began, the
background services (`daemon/background`: the inbox, batches, the scheduled jobs, the
routing file's watchers). Shutdown: those stopped, the ledger's queue committed, the report
brought up to date, the providers closed. Nothing here belongs to the process (signals,
the socket, systemd's watchdog): `cortexd.daemon.server.attach_process` adds those around this
life, so the same application also runs in-process under a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette

from cortexd.bookkeeping.notices import Notifier
from cortexd.bookkeeping.review import report_extras
from cortexd.context.paths import private_folder
from cortexd.daemon.sd_notify import SystemdNotifier
from cortexd.ledger import seeds, sessions
from cortexd.ledger.bookkeeping import month_spend
from cortexd.ledger.report import ReportJob
from cortexd.pipeline.pins import PINS_KEPT
from cortexd.services import Services

if TYPE_CHECKING:
    from cortexd.context.keys import Keys
    from cortexd.daemon.background import Background
    from cortexd.ledger import Ledger
    from cortexd.routing_generation import Routing
    from cortexd.services import Jobs

log = logging.getLogger("cortexd")

#: How long after serving begins the background services start (`daemon/background`):
#: a daemon that its first call started answers that call before it loads them.
LATER_S = 1.0


def attach_lifespan(
    app: Starlette,
    services: Services,
    report: Path,
    notices: Notifier,
    notifier: SystemdNotifier,
    background_after_s: float = LATER_S,
) -> None:
    """Give `app` its start-up and shutdown over `services`. `report` is the performance
    report's path (in the context folder, beside inbox/); `notices` delivers budget alerts
    and the weekly digest; `notifier` tells systemd of reloads (inert without one); the
    background services start `background_after_s` after serving begins (0: before)."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await services.ledger.start()
        # The report reads the routing generation served at each writing: a reload swaps it.
        extras = report_extras(lambda: services.routing, services.routing_path, services.spend)
        job = ReportJob(services.ledger, report, extras=extras)
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
                seeds.recent_outputs, per_client=recent.per_client, clients=recent.clients
            )
        )
        # Hedge thresholds start from the last 30 days' times to first token, not from 8 s.
        since = time.time() - 30 * 86400
        seen = await services.ledger.read(seeds.recent_ttfts, since=since)
        for model, task_type, seconds in seen:
            services.ttfts.observe(model, task_type, seconds)
        # Agents' sessions stay where they were answered across a restart.
        pins = services.pins
        pins.seed(
            await services.ledger.read(
                sessions.last_answers, since=time.time() - pins.ttl_s, sessions=PINS_KEPT
            )
        )
        know_prices = _know_prices(services.routing)
        tasks = [asyncio.create_task(job.write()), asyncio.create_task(know_prices)]
        # The report lives in the context folder, beside inbox/ and captured/. The inbox is
        # there from the first answer; what is dropped in waits for the capture to start.
        with contextlib.suppress(OSError):  # a problem there is the capture's to report
            private_folder(report.parent / "inbox")
        if services.ledger.keep_prompts_days > 0:
            tasks.append(asyncio.create_task(_prune_hourly(services.ledger)))
        app.state.capture_ready = asyncio.Event()
        app.state.started_later = asyncio.Event()
        started: list[Background] = []
        starting = asyncio.create_task(
            _start_background(
                app, services, job, notices, notifier, report.parent, started, background_after_s
            )
        )
        if background_after_s <= 0:
            await asyncio.shield(starting)  # before the first request is taken
        try:
            yield
        finally:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            for background in started:
                await background.stop()
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


async def _start_background(
    app: Starlette,
    services: Services,
    report: ReportJob,
    notices: Notifier,
    notifier: SystemdNotifier,
    context_dir: Path,
    started: list[Background],
    after_s: float,
) -> None:
    """The background services, `after_s` after serving began (in `started` as soon as they
    exist, so that a shutdown meanwhile stops what of them started)."""
    if after_s > 0:
        await asyncio.sleep(after_s)
    module = importlib.import_module("cortexd.daemon.background")
    background: Background = module.Background(
        app,
        services,
        report,
        notices,
        reload=lambda: reload_routing(services, notifier),
        # What is read of `services` is read at each save: the schedule starts later, and a
        # reload replaces the routing.
        reloaded=lambda: _after_save(services.schedule, services.keys, services.routing, notifier),
    )
    started.append(background)
    try:
        await background.start(context_dir)
    except Exception:  # noqa: BLE001 - the calls are answered without them all the same
        log.exception("the background services did not all start")
    finally:
        app.state.started_later.set()


def _after_save(
    schedule: Jobs | None, keys: Keys, routing: Routing, notifier: SystemdNotifier
) -> None:
    """A saved routing file was taken (`routing` now served): the jobs it affects run, and
    systemd is told."""
    _reloaded(schedule)
    notifier.send(f"STATUS={status_line(keys, routing)}")


async def _know_prices(routing: Routing) -> None:
    """genai-prices' entries for the cloud models of `routing`'s catalog, extracted by a
    child process if the file beside the ledger lacks them (the first start after an
    install or an upgrade): the first call finds them known."""
    catalog = routing.catalog
    await catalog.prices.ready((s.provider.value, s.model_id) for s in catalog if not s.local)


def status_line(keys: Keys, routing: Routing) -> str:
    """The one-line status systemd shows for the service: `routing`'s generation (the one
    served) and which of the `keys` are missing."""
    missing = keys.missing()
    said = f"no key for {', '.join(missing)}" if missing else "all keys present"
    return f"serving; routing file generation {routing.generation}; {said}"


def reload_routing(services: Services, notifier: SystemdNotifier) -> bool:
    """Read the routing file again (SIGHUP, the weekly review's applied proposal), telling
    systemd; False when the file was not taken."""
    notifier.send("RELOADING=1")
    done = services.reload()
    if done:
        _reloaded(services.schedule)
    notifier.send("READY=1", f"STATUS={status_line(services.keys, services.routing)}")
    return done


def _reloaded(schedule: Jobs | None) -> None:
    """A new routing file is served: the scheduled jobs it affects run now."""
    if schedule is not None:
        schedule.run_soon("hardware-probe")  # its local rows may have changed
        # A budget lowered below this month's spend alerts now, not at the next check.
        schedule.run_soon("budget-check")


async def _prune_hourly(ledger: Ledger) -> None:
    while True:
        await asyncio.sleep(3600)
        removed = await ledger.prune()
        if removed:
            log.info("removed %d stored prompts past their retention", removed)

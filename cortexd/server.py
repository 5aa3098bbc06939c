"""Serving the API on the daemon's socket: uvicorn (httptools, uvloop), peers checked by uid.

The server is handed a listening socket (`cortexd.listener`); it does not decide where to
bind. Clean-up (socket, lock, providers, the llama.cpp worker) runs in the application's
shutdown, because uvicorn re-raises SIGTERM after its graceful shutdown and code after
``serve()`` may never run.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import socket
import struct
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from apscheduler.triggers.cron import CronTrigger
from starlette.applications import Starlette
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cortexd.alerts import BudgetAlerts
from cortexd.api.hardware_routes import probe_now
from cortexd.file_watch import FileWatcher
from cortexd.hot_reload import HotReload
from cortexd.ledger.bookkeeping import month_spend
from cortexd.ledger.report import ReportJob
from cortexd.listener import Listener
from cortexd.notices import Notifier
from cortexd.review import WeeklyReview, report_extras
from cortexd.routing import TASK_EXAMPLES_FILE
from cortexd.schedule import Schedule
from cortexd.sd_notify import SystemdNotifier
from cortexd.services import Services

log = logging.getLogger("cortexd")


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (None where unknown)."""
    if hasattr(socket, "SO_PEERCRED"):  # Linux
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return int(struct.unpack("3i", creds)[1])
    if sys.platform == "darwin":  # LOCAL_PEERCRED: struct xucred {version, uid, …}
        with contextlib.suppress(OSError):
            creds = sock.getsockopt(0, 0x001, 76)
            return int(struct.unpack_from("2I", creds)[1])
    return None


#: A request's headers must arrive whole within this many seconds of the connection or of
#: the request's first byte: a client that dribbles them (slowloris) is cut off.
HEADER_TIMEOUT_S = 10.0


def peer_checked_protocol(allowed_uid: int | None) -> type[HttpToolsProtocol]:
    """uvicorn's HTTP protocol, closing connections from any other user at once (Unix
    sockets; `allowed_uid` None: no check) and clients whose headers come too slowly."""

    class Guarded(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            if allowed_uid is not None and sock is not None and sock.family == socket.AF_UNIX:
                uid = peer_uid(sock)
                if uid is not None and uid != allowed_uid:
                    log.warning(
                        "refused a connection from uid %d (serving uid %d)", uid, allowed_uid
                    )
                    transport.close()
                    return
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            log.warning("closed a connection whose request headers did not arrive in time")
            self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._disarm()  # between requests, uvicorn's keep-alive timeout applies

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return Guarded


def attach_lifecycle(
    app: Starlette,
    services: Services,
    listener: Listener,
    notifier: SystemdNotifier,
    report: Path,
    notices: Notifier,
) -> None:
    """Start-up (SDKs in the background, the ledger and its report, the scheduled jobs,
    SIGHUP, READY, watchdog) and clean shutdown (the ledger's queue committed, the report
    brought up to date). `notices` delivers budget alerts and the weekly digest."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        await services.ledger.start()
        job = ReportJob(services.ledger, report, extras=report_extras(services))
        services.ledger.subscribe(job.poke)
        # Hard limits hold from the first call: this month's spend is known before serving.
        month = services.spend.month
        services.spend.load(month, await services.ledger.read(month_spend, month=month))
        schedule = _schedule(services, job, notices, notifier)
        await schedule.start()
        tasks = [asyncio.create_task(services.load_sdks()), asyncio.create_task(job.write())]
        # The report lives in the context folder, beside inbox/ and captured/. The inbox is
        # there from the first answer; what is dropped in waits for the capture to start.
        with contextlib.suppress(OSError):  # a problem there is the capture's to report
            (report.parent / "inbox").mkdir(parents=True, exist_ok=True)
        app.state.capture_ready = asyncio.Event()
        tasks.append(asyncio.create_task(_run_capture(app, report.parent)))
        if services.ledger.keep_prompts_days > 0:
            tasks.append(asyncio.create_task(_prune_hourly(services)))
        loop.add_signal_handler(signal.SIGHUP, _reload, services, notifier)
        watchers = await _watch_routing_file(services, notices, notifier)
        interval = _watchdog_interval(os.environ)
        if interval:
            tasks.append(asyncio.create_task(_watchdog(notifier, interval)))
        notifier.send("READY=1", f"STATUS={_status(services)}")
        log.info("cortexd serving on %s", listener.path or "the socket systemd passed")
        try:
            yield
        finally:
            notifier.send("STOPPING=1")
            loop.remove_signal_handler(signal.SIGHUP)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a late reload request is ignored
            for watching in watchers or ():
                await watching.stop()
            schedule.shutdown()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # Calls have drained: commit what they queued, then bring the report up to date.
            await asyncio.to_thread(services.ledger.close)
            await job.close()
            await services.registry.aclose()
            listener.close()
            log.info("cortexd stopped")

    app.router.lifespan_context = lifespan


#: How often spend is checked against the budgets (also right after a call crosses one).
BUDGET_CHECK_S = 15 * 60
#: How often the machine is probed again.
HARDWARE_PROBE_S = 5 * 60
#: The weekly review: Monday morning, local time.
WEEKLY_REVIEW = {"day_of_week": "mon", "hour": 9, "minute": 0}


def _schedule(
    services: Services, report: ReportJob, notices: Notifier, notifier: SystemdNotifier
) -> Schedule:
    schedule = Schedule(services.ledger)
    alerts = BudgetAlerts(
        services.ledger, services.spend, lambda: services.routing.table.budgets, notices
    )
    schedule.every("budget-check", alerts.check, seconds=BUDGET_CHECK_S)
    # Free GPU memory changes as other programs come and go.
    schedule.every("hardware-probe", lambda: probe_now(services), seconds=HARDWARE_PROBE_S)
    services.spend.on_cross = lambda: schedule.run_soon("budget-check")
    review = WeeklyReview(services, report, notices, lambda: _reload(services, notifier))
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


async def _prune_hourly(services: Services) -> None:
    while True:
        await asyncio.sleep(3600)
        removed = await services.ledger.prune()
        if removed:
            log.info("removed %d stored prompts past their retention", removed)


def _status(services: Services) -> str:
    missing = services.keys.missing()
    keys = f"no key for {', '.join(missing)}" if missing else "all keys present"
    return f"serving; routing file generation {services.routing.generation}; {keys}"


def _reload(services: Services, notifier: SystemdNotifier) -> bool:
    notifier.send("RELOADING=1")
    done = services.reload()
    if done:
        _reloaded(services)
    notifier.send("READY=1", f"STATUS={_status(services)}")
    return done


def _reloaded(services: Services) -> None:
    if services.schedule is not None:
        services.schedule.run_soon("hardware-probe")  # its local rows may have changed


async def _watch_routing_file(
    services: Services, notices: Notifier, notifier: SystemdNotifier
) -> tuple[FileWatcher, ...] | None:
    """Reload the routing file on every save, and the user's task examples; None (SIGHUP
    still works) where the system refuses a watch."""

    def after() -> None:
        _reloaded(services)
        notifier.send(f"STATUS={_status(services)}")

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


def _watchdog_interval(env: dict[str, str] | os._Environ[str]) -> float | None:
    usec = env.get("WATCHDOG_USEC")
    if not usec or env.get("WATCHDOG_PID", str(os.getpid())) != str(os.getpid()):
        return None
    try:
        return int(usec) / 2_000_000  # ping at half the interval systemd allows
    except ValueError:
        return None


async def _watchdog(notifier: SystemdNotifier, interval: float) -> None:
    # Pinged from the event loop itself: a blocked loop stops the pings, and systemd notices.
    while True:
        notifier.send("WATCHDOG=1")
        await asyncio.sleep(interval)


def serve(app: ASGIApp, listener: Listener, *, drain_s: float = 10.0) -> None:
    """Serve until SIGTERM/SIGINT; calls in flight get `drain_s` seconds to finish."""
    config = uvicorn.Config(
        app,
        http=peer_checked_protocol(os.getuid()),
        loop="uvloop" if _has_uvloop() else "asyncio",
        lifespan="on",
        ws="none",  # nothing served over websockets: never import a websockets library
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=drain_s,  # type: ignore[arg-type]  # a float works
        timeout_keep_alive=5,
        server_header=False,
        date_header=False,
    )
    uvicorn.Server(config).run(sockets=listener.sockets)


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:  # pragma: no cover - uvloop is a dependency, but not on every platform
        return False
    return True

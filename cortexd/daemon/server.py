"""Serving the API on the daemon's socket: uvicorn (httptools, uvloop), peers checked by uid.

The server is handed a listening socket (`cortexd.daemon.listener`); it does not decide where to
bind. Clean-up (socket, lock, providers, the llama.cpp worker) runs in the application's
shutdown, because uvicorn re-raises SIGTERM after its graceful shutdown and code after
``serve()`` may never run: `attach_process` wraps the application's life with what belongs
to the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import struct
import sys
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cortexd.daemon.lifespan import reload_routing, status_line
from cortexd.daemon.listener import Listener
from cortexd.daemon.sd_notify import SystemdNotifier
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


def peer_checked_protocol(
    allowed_uid: int | None, header_timeout_s: float = HEADER_TIMEOUT_S
) -> type[HttpToolsProtocol]:
    """uvicorn's HTTP protocol, closing connections from any other user at once (Unix
    sockets; `allowed_uid` None: no check) and clients whose headers take longer than
    `header_timeout_s`."""

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
            self._header_timer = self.loop.call_later(header_timeout_s, self._too_slow)

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


def attach_process(
    app: Starlette, services: Services, listener: Listener, notifier: SystemdNotifier
) -> None:
    """What serving as the daemon's process adds around the application's own life
    (`cortexd.daemon.lifespan`): SIGHUP reloads the routing file, systemd hears READY, STOPPING and
    the watchdog's pings, and the socket and lock are let go at the very end."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        try:
            async with inner(app):
                loop.add_signal_handler(signal.SIGHUP, reload_routing, services, notifier)
                interval = _watchdog_interval(os.environ)
                watchdog = asyncio.create_task(_watchdog(notifier, interval)) if interval else None
                # Start-up is over (daemon/main paused the collector): what it made stays.
                gc.freeze()
                gc.enable()
                notifier.send("READY=1", f"STATUS={status_line(services.keys, services.routing)}")
                log.info("cortexd serving on %s", listener.path or "the socket systemd passed")
                try:
                    yield
                finally:
                    notifier.send("STOPPING=1")
                    loop.remove_signal_handler(signal.SIGHUP)
                    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a late reload is ignored
                    if watchdog is not None:
                        watchdog.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await watchdog
        finally:
            listener.close()
            log.info("cortexd stopped")

    app.router.lifespan_context = lifespan


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

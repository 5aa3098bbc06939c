"""The real application in-process: `cortexd.daemon.assemble` over a private home, as
`cortexd` builds it, driven through httpx2's ASGI transport.

The application runs on an event loop of its own (an anyio portal on a thread, uvloop as in
the daemon), so synchronous tests and the official SDKs' synchronous clients can call it,
as starlette's TestClient does. Its start-up and shutdown run as the daemon's do; a
"restart" is `stop()` and `start_app()` again on the same home.

`socket` serves the same application on a real Unix socket in this process, with the
daemon's peer-checked protocol, for what needs a connection: the `cortex` CLI, and a
client that reads a stream as it comes or leaves in the middle of one.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket as sockets
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx2
import openai
import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from cortexd.bookkeeping.notices import default_notifier
from cortexd.context.environment import Environment
from cortexd.context.keys import read_keys
from cortexd.context.paths import Paths, install_default_routing_file
from cortexd.daemon.assemble import assemble, services_of
from cortexd.daemon.lifespan import reload_routing
from cortexd.daemon.run import LEDGER_NAME
from cortexd.daemon.sd_notify import SystemdNotifier
from cortexd.daemon.server import HEADER_TIMEOUT_S, peer_checked_protocol
from cortexd.ledger import Ledger
from cortexd.routing import TaskModel, load_routing_file_with_digest
from cortexd.services import Limits, Services

from .daemon import process_env, short_home, socket_client
from .waiting import wait_for


@functools.cache
def shipped_model() -> TaskModel:
    """The shipped classifier, read once per test run (it is never changed)."""
    return TaskModel.shipped()


class _PortalTransport(httpx2.BaseTransport):
    """A synchronous transport onto httpx2's ASGITransport, run on the application's loop."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, app: Any) -> None:
        self._portal = portal
        self._asgi = httpx2.ASGITransport(app)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.stream = _BodyOnTheLoop(request.stream)

        # The client's read timeout bounds the whole exchange, as on a socket: a handler that
        # hangs fails its test instead of holding the run up.
        limit = request.extensions.get("timeout", {}).get("read")

        async def exchange() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            with anyio.fail_after(limit):
                answer = await self._asgi.handle_async_request(request)
                return answer.status_code, answer.headers.raw, await answer.aread()

        try:
            status, headers, content = self._portal.call(exchange)
        except TimeoutError:
            raise httpx2.ReadTimeout(f"no whole answer in {limit} s", request=request) from None
        return httpx2.Response(status, headers=headers, content=content)


class _BodyOnTheLoop(httpx2.AsyncByteStream):
    """A synchronous request body, read chunk by chunk as the application asks for it."""

    def __init__(self, body: Any) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._body:
            yield chunk


@dataclass
class App:
    """An assembled cortexd, started, on a home of its own."""

    home: Path
    app: Starlette
    portal: anyio.from_thread.BlockingPortal
    _exit: contextlib.ExitStack
    _clients: list[httpx2.Client] = field(default_factory=list)
    #: The server's deadline for a request's headers on `socket`.
    header_timeout_s: float = HEADER_TIMEOUT_S
    _server: uvicorn.Server | None = None
    _served: Future[None] | None = None

    @property
    def services(self) -> Services:
        return services_of(self.app)

    def client(self, timeout: float = 30.0, *, front: ASGIApp | None = None) -> httpx2.Client:
        """A plain HTTP client on the application, through httpx2's ASGI transport; `front`
        is a middleware in front of it (the TCP listener's guard, built around `app`)."""
        client = httpx2.Client(
            transport=_PortalTransport(self.portal, front or self.app),
            base_url="http://cortexd",
            timeout=timeout,
        )
        self._clients.append(client)
        return client

    def socket_client(self, timeout: float = 30.0) -> httpx2.Client:
        """A plain HTTP client on `socket`: a connection of its own, streams as they come."""
        client = socket_client(self.socket, timeout)
        self._clients.append(client)
        return client

    def sdk(self, retries: int = 0) -> openai.OpenAI:
        """The official openai SDK on the application."""
        return openai.OpenAI(
            base_url="http://cortexd/v1",
            api_key="unused",
            http_client=self.client(),
            max_retries=retries,
        )

    def reload(self) -> bool:
        """What SIGHUP makes the daemon do: read the routing file again, on its loop."""
        return self.portal.call(reload_routing, self.services, SystemdNotifier({}))

    @functools.cached_property
    def socket(self) -> Path:
        """The application on a Unix socket, served by uvicorn with the daemon's protocol
        in this process (its start-up has run already: lifespan off)."""
        path = self.home / "run" / "cortexd.sock"
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        listening = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
        listening.bind(str(path))
        listening.listen(64)
        config = uvicorn.Config(
            self.app,
            http=peer_checked_protocol(os.getuid(), self.header_timeout_s),
            lifespan="off",
            ws="none",
            log_config=None,
            access_log=False,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=5,  # a stream left open (cortex tail) ends then
        )
        self._server = uvicorn.Server(config)
        self._served = self.portal.start_task_soon(self._server.serve, [listening])
        wait_for(lambda: self._server is not None and self._server.started, "the socket")
        return path

    def stop(self) -> None:
        """Shut down as the daemon does (the ledger committed, the report written)."""
        for client in self._clients:
            client.close()
        try:
            if self._server is not None and self._served is not None:
                self._server.should_exit = True
                self._served.result(timeout=20)
        finally:
            self._exit.close()


def start_app(
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    keep_prompts_days: float = 0.0,
    limits: Limits | None = None,
    background_after_s: float = 0.0,
) -> App:
    """Build and start cortexd in-process with CORTEX_HOME=`home` (a new one by default)
    and `env` (keys, base URLs) as `start_daemon` would give the process. The background
    services start before serving (`background_after_s` 0), unlike the daemon's second:
    a test's first request finds them."""
    home = home or short_home()
    full = process_env(env or {}) | {"CORTEX_HOME": str(home)}
    paths = Paths.resolve(Environment.read(full))
    install_default_routing_file(paths.routing_file)
    table, digest = load_routing_file_with_digest(paths.routing_file)
    keys = read_keys(full, paths.key_file)
    ledger = Ledger(
        paths.state_dir / LEDGER_NAME,
        keep_prompts_days=keep_prompts_days,
        secrets=list(keys.values.values()),
    )
    ledger.open()
    try:
        app = assemble(
            table,
            paths.routing_file,
            keys,
            ledger=ledger,
            context_dir=paths.context_dir,
            env=full,
            notices=default_notifier(paths.context_dir),
            notifier=SystemdNotifier({}),
            task_model=shipped_model(),
            limits=limits,
            routing_digest=digest,
            background_after_s=background_after_s,
        )
        with contextlib.ExitStack() as stack:
            portal = stack.enter_context(
                anyio.from_thread.start_blocking_portal("asyncio", {"use_uvloop": True})
            )
            lifespan = app.router.lifespan_context(app)
            stack.enter_context(portal.wrap_async_context_manager(lifespan))
            # Started: from now on the App owns the loop and the application's life.
            return App(home, app, portal, stack.pop_all())
    except BaseException:
        ledger.close()  # whatever start-up began of it (its writer) ends too
        raise

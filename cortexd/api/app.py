"""The Starlette application: routes, body limits, the in-flight bound, errors as OpenAI JSON."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from cortexd import __version__
from cortexd.api.budgets import (
    budget_json,
    budgets_route,
)
from cortexd.api.chat_routes import chat_completions, route
from cortexd.api.embeddings_routes import embeddings
from cortexd.api.error_shapes import Shape, shaped
from cortexd.api.errors import ApiError
from cortexd.api.hardware_routes import hardware
from cortexd.api.ledger_routes import LEDGER_ROUTES
from cortexd.api.messages_routes import count_tokens, messages
from cortexd.api.reachability import Reachability
from cortexd.api.responses_routes import responses
from cortexd.models_json import anthropic_list, model_row, task_rows
from cortexd.pipeline.call import new_call_id
from cortexd.services import Services

log = logging.getLogger("cortexd.api")
Handler = Callable[[Request], Awaitable[Response]]
#: What a client is told of a bug: the traceback stays in the daemon's log.
INTERNAL = "internal error in cortexd (see its log)"


async def root(request: Request) -> Response:
    """``GET /`` and ``HEAD /``: who answers here (Claude Code warms its connection up with a
    ``HEAD /`` before its first call)."""
    return JSONResponse({"name": "cortexd", "version": __version__})


async def models(request: Request) -> Response:
    """``GET /v1/models``: every alias and the task routes, as OpenAI's model list, or as
    Anthropic's for a client that speaks its API (it sends ``anthropic-version``)."""
    services: Services = request.app.state.services
    routing = services.routing
    catalog = routing.catalog
    if "anthropic-version" in request.headers:
        return JSONResponse(anthropic_list(catalog, routing.table.task_types()))
    data = [{"id": "auto", "object": "model", "created": 0, "owned_by": "cortexd"}]
    # Prices come from genai-prices, whose first use loads a snapshot: off the event loop.
    rows = await asyncio.to_thread(lambda: [model_row(catalog, spec) for spec in catalog])
    data += [
        {"id": r["alias"], "object": "model", "created": 0, "owned_by": r["provider"], "cortex": r}
        for r in rows
    ]
    data += task_rows(routing.table.task_types())
    return JSONResponse({"object": "list", "data": data})


async def health(request: Request) -> Response:
    """``GET /v1/health``: version, uptime, routing file and providers (those no call has
    used yet are not asked, unless ``?check=all``)."""
    services: Services = request.app.state.services
    routing = services.routing
    in_flight = services.in_flight  # before the status checks below take their time
    # Asked over the network at most every 30 s, however often the endpoint is polled.
    reachability: Reachability = request.app.state.reachability
    load = request.query_params.get("check") == "all"
    statuses = await reachability.statuses(services.registry, routing, load=load)
    return JSONResponse(
        {
            "status": "ok",
            "version": __version__,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - services.started, 1),
            "routing_file": {
                "path": routing.table.source,
                "generation": routing.generation,
                "last_error": services.last_reload_error,
            },
            "keys": {p: s for p, s in services.keys.sources.items()},
            "keys_missing": services.keys.missing(),
            # The providers whose SDK is loaded: each is, once a call (or this) uses it.
            "sdks_loaded": services.registry.loaded,
            "providers": statuses,
            # Models dispatch skips now, and when each may be tried again (cortex health).
            "circuits": [
                {"model": name, "why": why, "until": _at(wait), "in_s": round(wait, 1)}
                for name, why, wait in services.dispatcher.health.held_back(routing.catalog.models)
            ],
            "in_flight": in_flight,
            "ledger": services.ledger.health(),
            "budgets": budget_json(routing, services.spend),
            # Which Local Models rows route now, and why the others do not (cortex hardware).
            "local_rows": [
                {"task": r.task, "model": r.model, "active": r.active, "why": r.why}
                for r in services.local.rows
            ],
            "jobs": services.schedule.as_json() if services.schedule is not None else {},
            # The inbox, batches, jobs and watchers start just after serving does (lifespan).
            "background_started": _background_started(request),
            # The loopback TCP listener: where it listens and its token file, or why not.
            "listener": services.listener_info.as_json(),
        }
    )


def _at(seconds: float) -> str:
    """The wall-clock time `seconds` from now, ISO 8601 in UTC."""
    return datetime.fromtimestamp(time.time() + seconds, UTC).isoformat(timespec="seconds")


class _Slot:
    """One call's place among those in flight, given back exactly once."""

    def __init__(self, services: Services) -> None:
        self._services: Services | None = services
        services.in_flight += 1

    def release(self) -> None:
        if self._services is not None:
            self._services.in_flight -= 1
            self._services = None

    async def arelease(self) -> None:
        self.release()


async def _until_done(body: AsyncIterable[Any], slot: _Slot) -> AsyncIterator[Any]:
    try:
        async for chunk in body:
            yield chunk
    finally:
        slot.release()


def _guarded(
    handler: Handler, counted: bool, shape: Shape = "openai", calls: bool = False
) -> Handler:
    # `calls`: the endpoint's requests are calls, and every error answer names one (the
    # pipeline's id once the call is parsed; before that, one of its own, with no row).
    async def run(request: Request) -> Response:
        services: Services = request.app.state.services
        if counted and services.in_flight >= services.limits.max_in_flight:
            busy = ApiError(
                503, "too many calls in flight; retry shortly", code="busy", retry_after=1
            )
            busy.call_id = new_call_id() if calls else None
            return shaped(busy, shape)
        slot = _Slot(services) if counted else None
        handed_off = False
        try:
            response = await handler(request)
            if slot is not None and isinstance(response, StreamingResponse):
                # A stream is in flight until its last byte. Released when its body ends or
                # after the response, whichever comes (Starlette skips the background task
                # on a disconnect under newer ASGI versions).
                response.body_iterator = _until_done(response.body_iterator, slot)
                response.background = BackgroundTask(slot.arelease)
                handed_off = True
            return response
        except ApiError as error:
            if calls and error.call_id is None:
                error.call_id = new_call_id()
            return shaped(error, shape)
        except ClientDisconnect:
            # Not a bug: the client went away mid-body (a killed script, a closed editor).
            log.info("a client left before its request to %s was read", request.url.path)
            return Response(status_code=499)  # nginx's "client closed request"; unread
        except Exception:  # noqa: BLE001 - a bug answers 500 and the daemon keeps serving
            log.exception("unexpected error in %s", request.url.path)
            return shaped(ApiError(500, "internal error in cortexd (see its log)"), shape)
        finally:
            if slot is not None and not handed_off:
                slot.release()

    return run


async def _not_found(request: Request, exc: Exception) -> Response:
    return ApiError(404, f"no such endpoint: {request.method} {request.url.path}").response()


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return ApiError(405, f"{request.method} is not allowed on {request.url.path}").response()


async def _internal(request: Request, exc: Exception) -> Response:
    """Whatever escaped a route (an error answer that could not be rendered, a bug outside
    `_guarded`): JSON in the endpoint's error shape with no traceback, never Starlette's
    plain text. Starlette raises the exception on after this answer, so the server logs it."""
    shape: Shape = "anthropic" if request.url.path.startswith("/v1/messages") else "openai"
    return shaped(ApiError(500, INTERNAL, code="internal_error"), shape)


#: Endpoints whose modules load on their first request: rarely used, and a daemon that its
#: first call started (socket activation) answers that call sooner without them. Each
#: module, whether its calls count against the in-flight bound, and its endpoints.
LATER_ROUTES: tuple[tuple[str, bool, tuple[tuple[str, str, str], ...]], ...] = (
    ("cortexd.api.capture_routes", True, (("/v1/capture", "capture", "POST"),)),
    (
        "cortexd.api.proposal_routes",
        False,
        (
            ("/v1/proposals", "proposals", "GET"),
            ("/v1/proposals/reject", "reject_proposal", "POST"),
        ),
    ),
    (
        "cortexd.api.batch_routes",
        False,
        (
            ("/v1/cortex/queue", "queue_task", "POST"),
            ("/v1/cortex/queue", "queue_listing", "GET"),
            ("/v1/cortex/batches/estimate", "estimate_batch", "POST"),
            ("/v1/cortex/batches", "start_batch", "POST"),
            ("/v1/cortex/batches", "list_batches", "GET"),
            ("/v1/cortex/batches/{batch_id}", "get_batch", "GET"),
            ("/v1/cortex/batches/{batch_id}/cancel", "cancel_batch", "POST"),
        ),
    ),
    (
        "cortexd.api.openai_batch_routes",
        False,
        (
            ("/v1/files", "create_file", "POST"),
            ("/v1/files", "list_files", "GET"),
            ("/v1/files/{file_id}", "get_file", "GET"),
            ("/v1/files/{file_id}", "delete_file", "DELETE"),
            ("/v1/files/{file_id}/content", "file_content", "GET"),
            ("/v1/batches", "create_batch", "POST"),
            ("/v1/batches", "list_batches", "GET"),
            ("/v1/batches/{batch_id}", "get_batch", "GET"),
            ("/v1/batches/{batch_id}/cancel", "cancel_batch", "POST"),
        ),
    ),
)
#: How long an endpoint of the background services (batches, the queue) waits for them to
#: start (`cortexd.daemon.lifespan`) before it answers 503.
LATER_WAIT_S = 10.0


def _background_started(request: Request) -> bool:
    started: asyncio.Event | None = getattr(request.app.state, "started_later", None)
    return started is None or started.is_set()


def _later(module: str, name: str) -> Handler:
    """`module.name`, imported at its first request, once the background services it may
    use have started."""

    async def handler(request: Request) -> Response:
        started: asyncio.Event | None = getattr(request.app.state, "started_later", None)
        if started is not None and not started.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LATER_WAIT_S):
                    await started.wait()
        found: Handler = getattr(importlib.import_module(module), name)
        return await found(request)

    return handler


def build_app(services: Services) -> Starlette:
    """The API over `services`."""
    routes = [
        Route(
            "/v1/chat/completions", _guarded(chat_completions, True, calls=True), methods=["POST"]
        ),
        Route("/v1/messages", _guarded(messages, True, "anthropic", calls=True), methods=["POST"]),
        Route(
            "/v1/messages/count_tokens",
            _guarded(count_tokens, False, "anthropic"),
            methods=["POST"],
        ),
        Route("/v1/responses", _guarded(responses, True, calls=True), methods=["POST"]),
        Route("/v1/embeddings", _guarded(embeddings, True), methods=["POST"]),
        Route("/", _guarded(root, False), methods=["GET"]),  # HEAD too: Starlette adds it
        Route("/v1/models", _guarded(models, False), methods=["GET"]),
        Route("/v1/route", _guarded(route, False), methods=["POST"]),
        Route("/v1/health", _guarded(health, False), methods=["GET"]),
        Route("/v1/budgets", _guarded(budgets_route, False), methods=["GET"]),
        Route("/v1/hardware", _guarded(hardware, False), methods=["GET"]),
    ]
    routes += [Route(p, _guarded(h, False), methods=[m]) for p, h, m in LEDGER_ROUTES]
    routes += [
        Route(path, _guarded(_later(module, name), counted), methods=[method])
        for module, counted, endpoints in LATER_ROUTES
        for path, name, method in endpoints
    ]
    handlers = {404: _not_found, 405: _not_allowed, Exception: _internal}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.services = services
    app.state.reachability = Reachability()
    return app

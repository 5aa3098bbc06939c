"""The Starlette application: routes, body limits, the in-flight bound, errors as OpenAI JSON."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import struct
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import Field
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from cortexd import __version__
from cortexd.api.body import read_json
from cortexd.api.budgets import (
    apply_budgets,
    budget_json,
    budget_plan,
    budgets_route,
    within_budget,
)
from cortexd.api.capture_routes import CAPTURE_ROUTES
from cortexd.api.chat_request import (
    ChatBody,
    _Model,
    parse_body,
    to_chat_request,
    to_route_request,
    without_directive,
)
from cortexd.api.chat_response import ChunkWriter, completion_json, cortex_block
from cortexd.api.errors import ApiError
from cortexd.api.hardware_routes import hardware
from cortexd.api.ledger_routes import LEDGER_ROUTES
from cortexd.api.proposal_routes import PROPOSAL_ROUTES
from cortexd.api.recording import CallRecording, EmbeddingCall, client_name
from cortexd.api.warmup import cold_start
from cortexd.models_json import anthropic_list, model_row
from cortexd.plans import plan_to_json
from cortexd.routing import (
    Availability,
    InputType,
    NoRouteError,
    RoutePlan,
    UnknownModelError,
    UnknownTaskError,
    wants_prefixes,
    with_prefixes,
)
from cortexd.routing.dispatch import (
    ChainExhaustedError,
    PartialAnswerError,
    cross_validate,
    judge_chain,
    second_model_for,
)
from cortexd.routing.providers import (
    EmbedRequest,
    InvalidRequestError,
    ProviderError,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    ToolCallDelta,
    TransientError,
)
from cortexd.services import Services

log = logging.getLogger("cortexd.api")
Handler = Callable[[Request], Awaitable[Response]]


class EmbeddingsBody(_Model):
    """The request body of ``POST /v1/embeddings``."""

    model: str = "auto"
    input: str | list[str] = Field(min_length=1)
    dimensions: int | None = Field(default=None, gt=0)
    encoding_format: str = "float"
    # What the texts are for; models trained with task prefixes (nomic-embed-text) get them.
    input_type: InputType | None = None


async def _plan(services: Services, body: ChatBody, request: Request) -> tuple[RoutePlan, Any]:
    routing = services.routing  # one generation for the whole request
    chat = to_chat_request(body)
    route = to_route_request(body, chat, request.headers.get("user-agent"))
    # Only when the task type will be classified and the local embedder is active; bounded
    # by a short timeout, after which the classifier decides without it.
    similarity = await services.similarity.scores(services, routing, route)
    available = services.dispatcher.health.unavailable(routing.catalog.models)
    try:
        local = services.local.active_models
        plan = routing.router.plan(route, Availability(local, unavailable=available), similarity)
    except (UnknownModelError, UnknownTaskError) as error:
        names = (
            routing.catalog.names()
            if isinstance(error, UnknownModelError)
            else routing.table.task_types()
        )
        raise ApiError(
            400, f"{error}; valid names: {', '.join(names)}", code="model_not_found"
            if isinstance(error, UnknownModelError) else "unknown_task", param="model",
        ) from None  # fmt: skip
    except NoRouteError as error:
        raise ApiError(503, str(error), code="no_route", retry_after=60) from None
    return plan, without_directive(chat, plan.messages)


def _provider_error(error: ProviderError | ChainExhaustedError) -> ApiError:
    if isinstance(error, InvalidRequestError):
        return ApiError(400, str(error), code="upstream_invalid_request")
    if isinstance(error, ChainExhaustedError):
        return ApiError(503, str(error), code="no_model_available", retry_after=error.retry_after)
    return ApiError(502, str(error), code="upstream_error")


async def chat_completions(request: Request) -> Response:
    """``POST /v1/chat/completions``: route, dispatch, record, answer (JSON or SSE)."""
    services: Services = request.app.state.services
    body = parse_body(await read_json(request, services), ChatBody)
    plan, chat = await _plan(services, body, request)
    await services.sdks_ready.wait()
    options = body.cortex
    call = CallRecording(
        services,
        uuid.uuid4().hex[:24],
        plan,
        chat,
        client=client_name(options.client if options else None, request.headers.get("user-agent")),
        project=options.project if options else None,
        stream=body.stream,
        asked_model=body.model,
    )
    try:
        return await _answer(services, plan, chat, call, body)
    except BaseException as error:
        # Recorded answers and errors committed already; this is a bug or a cancellation.
        call.abandon(None if isinstance(error, ApiError | asyncio.CancelledError) else error)
        raise


async def _answer(
    services: Services, plan: RoutePlan, chat: Any, call: CallRecording, body: ChatBody
) -> Response:
    plan = await apply_budgets(services, plan, chat, call)
    plan = call.plan = await cold_start(services, plan)
    second = body.cortex.second_opinion if body.cortex else False
    found = services.routing.table.find_task(plan.task)
    if found and found in services.routing.table.cross_validation:
        second = True
    if body.stream and not second:
        return await _stream(services, plan, chat, call, body)
    opinion = None
    try:
        if second:
            routing = services.routing
            chosen = second_model_for(plan.task, plan.chain, routing.table, routing.catalog)
            seconds, held = within_budget(services, (chosen,) if chosen else (), chat)
            judges, judges_held = within_budget(services, judge_chain(routing.table), chat)
            opinion = await cross_validate(
                services.dispatcher,
                plan.chain,
                chat,
                task=plan.task,
                request_id=call.id,
                second_model=seconds[0] if seconds and judges else None,
                judges=judges,
                # Why no second call: its own model first (the judge matters only after it).
                no_second="; ".join(held or judges_held) or "no model from another provider",
            )
            result = opinion.main
        else:
            result = await services.dispatcher.complete(
                plan.chain, chat, task=plan.task, request_id=call.id
            )
    except (ProviderError, ChainExhaustedError) as error:
        await call.commit("error", error=error)
        raise _provider_error(error) from None
    await call.commit("ok", response=result.response, dispatch=result.dispatch, second=opinion)
    cortex = cortex_block(call.id, plan, result.dispatch, result.response.warnings, opinion)
    if body.stream:
        # A second opinion needs both whole answers: the stream carries the finished answer.
        return _finished_as_stream(call.id, result.response, cortex, body)
    return JSONResponse(completion_json(call.id, result.response, cortex))


def _finished_as_stream(
    call_id: str, response: Any, cortex: dict[str, Any], body: ChatBody
) -> Response:
    writer = ChunkWriter(call_id)
    writer.model = response.model
    include_usage = bool((body.stream_options or {}).get("include_usage"))

    async def sse() -> AsyncIterator[bytes]:
        if response.text:
            yield writer.delta(TextDelta(response.text))
        for index, call in enumerate(response.tool_calls):
            yield writer.delta(ToolCallDelta(index, call.id, call.name, call.arguments))
        yield writer.finish(response, cortex, include_usage)

    headers = {"Cache-Control": "no-cache"}
    return StreamingResponse(sse(), media_type="text/event-stream", headers=headers)


async def _stream(
    services: Services, plan: RoutePlan, chat: Any, call: CallRecording, body: ChatBody
) -> Response:
    state, events = services.dispatcher.stream(plan.chain, chat, task=plan.task, request_id=call.id)
    try:
        first = await anext(events)  # errors before any byte is sent are plain HTTP errors
    except (ProviderError, ChainExhaustedError) as error:
        await call.commit("error", dispatch=state, error=error)
        raise _provider_error(error) from None
    include_usage = bool((body.stream_options or {}).get("include_usage"))
    writer = ChunkWriter(call.id)

    async def sse() -> AsyncIterator[bytes]:
        event = first
        bug: BaseException | None = None
        try:
            while True:
                if isinstance(event, StreamEnd):
                    # The rows are committed before the last byte: an answered call is on record.
                    await call.commit("ok", response=event.response, dispatch=state)
                    cortex = cortex_block(call.id, plan, state, event.response.warnings)
                    yield writer.finish(event.response, cortex, include_usage)
                    return
                if isinstance(event, TextDelta | ReasoningDelta | ToolCallDelta):
                    call.first_token()
                    writer.model = state.model or writer.model
                    yield writer.delta(event)
                event = await anext(events)
        except PartialAnswerError as error:
            await call.commit("partial", dispatch=state, error=error.cause)
            yield writer.error(str(error), "stream_interrupted")
        except (GeneratorExit, asyncio.CancelledError):
            raise  # the client left: recorded below as cancelled
        except BaseException as error:
            bug = error
            raise
        finally:
            await events.aclose()  # type: ignore[attr-defined]
            call.abandon(bug)  # after the close, which records the cancelled attempt

    return StreamingResponse(
        sse(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def _vectors_json(vectors: tuple[tuple[float, ...], ...], encoding: str) -> list[dict[str, Any]]:
    data = []
    for index, vector in enumerate(vectors):
        value: Any = list(vector)
        if encoding == "base64":
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": value})
    return data


async def embeddings(request: Request) -> Response:
    """``POST /v1/embeddings`` to the model the request names (``auto``: the Embeddings route)."""
    services: Services = request.app.state.services
    body = parse_body(await read_json(request, services), EmbeddingsBody)
    routing = services.routing
    if body.model in ("auto", "", "default"):
        found = routing.table.find_task("Embeddings")
        local = routing.table.local.get(found) if found else None
        names = (local.model, *local.fallback) if local else ("nomic-embed-text",)
    else:
        names = (body.model,)
    explicit = body.model not in ("auto", "", "default")
    inputs = (body.input,) if isinstance(body.input, str) else tuple(body.input)
    await services.sdks_ready.wait()
    call = EmbeddingCall(services, names, explicit, request.headers.get("user-agent"))
    failures = []
    for index, name in enumerate(names):
        spec = routing.catalog.resolve(name)
        if spec is None:
            raise ApiError(
                400,
                f"unknown model '{name}'; valid names: {', '.join(routing.catalog.names())}",
                code="model_not_found",
                param="model",
            )
        began = time.monotonic()
        texts = inputs
        if wants_prefixes(spec.name, spec.model_id):
            texts = with_prefixes(inputs, body.input_type)
        try:
            result = await services.registry(spec).embed(
                EmbedRequest(spec.model_id, texts, body.dimensions, timeout=60.0)
            )
        except InvalidRequestError as error:
            await call.commit(spec, index, began, error=error)
            raise ApiError(400, str(error)) from None
        except ProviderError as error:
            call.tried(spec, index, began, error)
            if explicit and not isinstance(error, TransientError):
                # The named model cannot embed (a chat model, no key, not pulled): retrying
                # will not help, so this is the request's error.
                await call.commit(spec, index, began, error=error)
                raise ApiError(400, str(error), code="model_not_found", param="model") from None
            failures.append((name, f"{type(error).__name__}: {error.detail}"))
            continue
        await call.commit(spec, index, began, usage=result.usage)
        return JSONResponse(
            {
                "object": "list",
                "data": _vectors_json(result.vectors, body.encoding_format),
                "model": spec.model_id,
                "usage": {
                    "prompt_tokens": result.usage.input_tokens,
                    "total_tokens": result.usage.input_tokens,
                },
            }
        )
    exhausted = ChainExhaustedError(failures, None)
    await call.commit(None, len(names), time.monotonic(), error=exhausted)
    answer = _provider_error(exhausted)
    row = next((r for r in services.local.rows if r.task == "Embeddings"), None)
    if not explicit and row is not None and not row.active:
        # The seed names no cloud model for embeddings: say why the local one cannot serve.
        answer.message = (
            f"no local embedding model is available: {row.model}: {row.why} "
            f"(cortex hardware shows the local rows); {answer.message}"
        )
    raise answer


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
    data += [
        {"id": f"task:{t}", "object": "model", "created": 0, "owned_by": "cortexd"}
        for t in routing.table.task_types()
    ]
    return JSONResponse({"object": "list", "data": data})


async def route(request: Request) -> Response:
    """``POST /v1/route``: the plan for a chat body, without calling any model."""
    services: Services = request.app.state.services
    body = parse_body(await read_json(request, services), ChatBody)
    plan, chat = await _plan(services, body, request)
    plan, refusal, _ = budget_plan(services, plan, chat)
    out = plan_to_json(plan, services.routing.table.source)
    out["refused"] = refusal  # what a call would be told, budgets being as they are now
    return JSONResponse(out)


async def health(request: Request) -> Response:
    """``GET /v1/health``: version, uptime, routing file and providers."""
    services: Services = request.app.state.services
    routing = services.routing
    in_flight = services.in_flight  # before the status checks below take their time
    statuses: list[dict[str, object]] = []
    if services.sdks_ready.is_set():
        seen = set()
        for spec in routing.catalog:
            key = (spec.provider, spec.base_url)
            if key in seen or spec.provider.value == "llamacpp" and not routing.table.local_files:
                continue
            seen.add(key)
            try:
                async with asyncio.timeout(3):
                    status = await services.registry(spec).status()
            except TimeoutError:
                statuses.append(
                    {
                        "provider": spec.provider.value,
                        "reachable": False,
                        "detail": "no answer in 3 s",
                    }
                )
                continue
            statuses.append(
                {
                    "provider": status.provider,
                    "configured": status.configured,
                    "key_present": status.key_present,
                    "reachable": status.reachable,
                    "endpoint": status.endpoint,
                    "detail": status.detail,
                }
            )
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
            "sdks_loaded": services.sdks_ready.is_set(),
            "sdk_error": services.sdk_error,
            "providers": statuses,
            "in_flight": in_flight,
            "ledger": services.ledger.health(),
            "budgets": budget_json(services),
            # Which Local Models rows route now, and why the others do not (cortex hardware).
            "local_rows": [
                {"task": r.task, "model": r.model, "active": r.active, "why": r.why}
                for r in services.local.rows
            ],
            "jobs": services.schedule.as_json() if services.schedule is not None else {},
            # The loopback TCP listener: where it listens and its token file, or why not.
            "listener": services.listener_info.as_json(),
        }
    )


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


def _guarded(handler: Handler, counted: bool) -> Handler:
    async def run(request: Request) -> Response:
        services: Services = request.app.state.services
        if counted and services.in_flight >= services.limits.max_in_flight:
            busy = ApiError(
                503, "too many calls in flight; retry shortly", code="busy", retry_after=1
            )
            return busy.response()
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
            return error.response()
        except Exception:  # noqa: BLE001 - a bug answers 500 and the daemon keeps serving
            log.exception("unexpected error in %s", request.url.path)
            return ApiError(500, "internal error in cortexd (see its log)").response()
        finally:
            if slot is not None and not handed_off:
                slot.release()

    return run


async def _not_found(request: Request, exc: Exception) -> Response:
    return ApiError(404, f"no such endpoint: {request.method} {request.url.path}").response()


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return ApiError(405, f"{request.method} is not allowed on {request.url.path}").response()


def build_app(services: Services) -> Starlette:
    """The API over `services`."""
    routes = [
        Route("/v1/chat/completions", _guarded(chat_completions, True), methods=["POST"]),
        Route("/v1/embeddings", _guarded(embeddings, True), methods=["POST"]),
        Route("/", _guarded(root, False), methods=["GET"]),  # HEAD too: Starlette adds it
        Route("/v1/models", _guarded(models, False), methods=["GET"]),
        Route("/v1/route", _guarded(route, False), methods=["POST"]),
        Route("/v1/health", _guarded(health, False), methods=["GET"]),
        Route("/v1/budgets", _guarded(budgets_route, False), methods=["GET"]),
        Route("/v1/hardware", _guarded(hardware, False), methods=["GET"]),
    ]
    routes += [
        Route(p, _guarded(h, False), methods=[m]) for p, h, m in (*LEDGER_ROUTES, *PROPOSAL_ROUTES)
    ]
    routes += [Route(p, _guarded(h, True), methods=[m]) for p, h, m in CAPTURE_ROUTES]
    app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_allowed})
    app.state.services = services
    return app

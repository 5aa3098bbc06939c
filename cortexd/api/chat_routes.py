"""``POST /v1/chat/completions`` and ``POST /v1/route``: OpenAI Chat Completions' parse and
encode around the pipeline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from cortexd.api.body import read_json
from cortexd.api.chat_request import ChatBody, CortexOptions, to_chat_request, to_route_request
from cortexd.api.chat_response import ChunkWriter, RelayedChunks, completion_json, cortex_block
from cortexd.api.chat_served import check_served
from cortexd.api.errors import ApiError
from cortexd.api.recorded_stream import recorded_stream
from cortexd.api.recording import CallRecording, client_name
from cortexd.api.validation import parse_body
from cortexd.pipeline.call import Call
from cortexd.pipeline.plan import Planned, plan_call
from cortexd.pipeline.run import answer_whole, open_stream, start_call
from cortexd.plans import plan_to_json
from cortexd.routing.dispatch import PartialAnswerError
from cortexd.routing.providers import (
    ChatResponse,
    Forward,
    RawEvent,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)
from cortexd.services import Services

if TYPE_CHECKING:
    from cortexd.bookkeeping.spend import SpendTracker
    from cortexd.pipeline.hedging import RecentTtfts
    from cortexd.routing.dispatch import Dispatcher

SSE_HEADERS = {"Cache-Control": "no-cache"}


def chat_call(body: ChatBody, data: dict[str, Any], request: Request) -> Call:
    """The pipeline's call for a Chat Completions body (`data`, as the client wrote it, is
    kept for a model that speaks this wire: see `plan.keep_forward`)."""
    check_served(body, request.app.state.services.routing)
    sent = {k: v for k, v in data.items() if k != "cortex"}  # our extension stays here
    if body.stream and not (body.stream_options or {}).get("include_usage"):
        # The ledger needs the usage chunk; the client, who did not ask for it, never sees it.
        sent["stream_options"] = {**(body.stream_options or {}), "include_usage": True}
    chat = replace(to_chat_request(body), forward=Forward("chat", sent, {}, body.stream))
    agent = request.headers.get("user-agent")
    options = body.cortex or CortexOptions()
    return Call(
        wire="chat",
        route=to_route_request(body, chat, agent),
        chat=chat,
        stream=body.stream,
        asked_model=body.model,
        client=client_name(options.client, agent),
        project=options.project,
        second_opinion=options.second_opinion,
    )


async def chat_completions(request: Request) -> Response:
    """``POST /v1/chat/completions``: route, dispatch, record, answer (JSON or SSE)."""
    services: Services = request.app.state.services
    data = await read_json(request, services.limits)
    body = parse_body(data, ChatBody)
    call = chat_call(body, data, request)
    planned, recording = await start_call(services, call)
    try:
        return await _answer(services, planned, recording, body)
    except BaseException as error:
        # Recorded answers and errors committed already; this is a bug or a cancellation.
        recording.abandon(None if isinstance(error, ApiError | asyncio.CancelledError) else error)
        raise


async def _answer(
    services: Services, planned: Planned, recording: CallRecording, body: ChatBody
) -> Response:
    dispatcher, spend, ttfts = services.dispatcher, services.spend, services.ttfts
    if body.stream and not planned.second:
        return await _stream(dispatcher, spend, ttfts, planned, recording, body)
    whole = await answer_whole(dispatcher, services.registry, spend, ttfts, planned, recording)
    result = whole.result
    cortex = cortex_block(
        recording.id, planned.plan, result.dispatch, result.response.warnings, whole.opinion,
        attempts=recording.attempts,  # the whole call's cost: second opinion and judge too
    )  # fmt: skip
    if body.stream:
        # A second opinion needs both whole answers: the stream carries the finished answer.
        return _finished_as_stream(recording.id, result.response, cortex, body)
    if result.response.raw is not None:  # passed through: OpenAI's answer, and our block
        answer = json.loads(result.response.raw)
        answer["cortex"] = cortex
        return JSONResponse(answer, headers=dict(result.response.headers))
    return JSONResponse(completion_json(recording.id, result.response, cortex))


def _finished_as_stream(
    call_id: str, response: ChatResponse, cortex: dict[str, Any], body: ChatBody
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

    return StreamingResponse(sse(), media_type="text/event-stream", headers=SSE_HEADERS)


async def _stream(
    dispatcher: Dispatcher,
    spend: SpendTracker,
    ttfts: RecentTtfts,
    planned: Planned,
    recording: CallRecording,
    body: ChatBody,
) -> Response:
    state, events, first = await open_stream(dispatcher, spend, ttfts, planned, recording)
    include_usage = bool((body.stream_options or {}).get("include_usage"))
    writer = ChunkWriter(recording.id)
    plan = planned.plan

    relayed = RelayedChunks(include_usage)

    def write(event: StreamEvent) -> bytes:
        if isinstance(event, RawEvent):  # passed through: OpenAI's own chunks
            if not event.opening:
                recording.first_token()
            return relayed.relay(event.data)
        if isinstance(event, TextDelta | ReasoningDelta | ToolCallDelta):
            recording.first_token()
            writer.model = state.model or writer.model
            return writer.delta(event)
        return b""

    def end(response: ChatResponse) -> bytes:
        cortex = cortex_block(recording.id, plan, state, response.warnings)
        if response.raw is not None:
            return relayed.finish(cortex, response.raw)
        return writer.finish(response, cortex, include_usage)

    def broke(error: PartialAnswerError) -> bytes:
        return writer.error(str(error), "stream_interrupted")

    sse = recorded_stream(first, events, recording, state, write=write, end=end, broke=broke)
    headers = {**SSE_HEADERS, **dict(first.headers if isinstance(first, RawEvent) else ())}
    return StreamingResponse(sse, media_type="text/event-stream", headers=headers)


async def route(request: Request) -> Response:
    """``POST /v1/route``: the plan for a chat body, without calling any model: the very
    plan step a call takes."""
    services: Services = request.app.state.services
    data = await read_json(request, services.limits)
    body = parse_body(data, ChatBody)
    routing = services.routing  # one generation for the whole request
    planned = await plan_call(services, routing, chat_call(body, data, request))
    out = plan_to_json(planned.plan, routing.table.source)
    out["refused"] = planned.refusal  # what a call would be told, budgets being as they are now
    return JSONResponse(out)

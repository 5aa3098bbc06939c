"""The encode step of an agent front-end's call: the provider's answer relayed as it came,
or, from another provider's model, translated.

A whole answer is the provider's JSON body, byte for byte. A stream is its SSE events,
each as the provider sent it; the opening events were held by dispatch until content came,
and the last one (``message_stop``, ``response.completed``) by the provider adapter until
the call is on record. cortexd's own metadata rides in ``x-cortex-*`` headers, and the
provider's request id and rate-limit headers pass through. An answer from a model of
another wire (gpt-4o for Claude Code, sonnet for Codex) comes as our deltas, which the
front-end's `Translator` writes in its own wire format.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from starlette.responses import JSONResponse, Response, StreamingResponse

from cortexd.api.errors import ApiError
from cortexd.api.recorded_stream import recorded_stream
from cortexd.api.recording import CallRecording
from cortexd.pipeline.call import Call
from cortexd.pipeline.plan import Planned
from cortexd.pipeline.run import Whole, answer_whole, open_stream, start_call
from cortexd.routing.dispatch import Dispatch, PartialAnswerError
from cortexd.routing.providers import (
    ChatResponse,
    OverloadedError,
    RateLimitError,
    RawEvent,
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)
from cortexd.services import Services

if TYPE_CHECKING:
    from cortexd.bookkeeping.spend import SpendTracker
    from cortexd.pipeline.hedging import RecentTtfts
    from cortexd.routing.dispatch import Dispatcher


class Translator(Protocol):
    """A front-end's writer for an answer that came translated (as our deltas)."""

    def start(self, model: str) -> bytes:
        """The stream's opening events."""
        ...

    def feed(self, event: StreamEvent) -> bytes:
        """One delta's events."""
        ...

    def finish(self, response: ChatResponse) -> bytes:
        """The closing events, with usage."""
        ...

    def whole(self, response: ChatResponse) -> dict[str, Any]:
        """The whole answer, as the front-end's JSON."""
        ...


def cortex_headers(
    call_id: str, planned: Planned, dispatch: Dispatch, upstream: tuple[tuple[str, str], ...]
) -> dict[str, str]:
    """The provider's passed headers and cortexd's own: call id, task, model, fallback."""
    headers = dict(upstream)
    headers["x-cortex-call-id"] = call_id
    headers["x-cortex-task"] = planned.plan.task
    if dispatch.model:
        headers["x-cortex-model"] = dispatch.model
    headers["x-cortex-fallback"] = "true" if dispatch.fallback else "false"
    if planned.plan.warnings:
        headers["x-cortex-warning"] = header_value("; ".join(planned.plan.warnings))
    return headers


def header_value(text: str) -> str:
    """`text` as one line of ASCII, as a header value must be.

    >>> header_value("a\\r\\nb — c")
    'a b ? c'
    """
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).encode("ascii", "replace").decode()


def translated_headers(losses: tuple[str, ...]) -> dict[str, str]:
    """What an answer translated from another wire says of it: what the model did not get.

    >>> translated_headers(("OpenAI's hosted tool web_search",))
    {'x-cortex-translated': 'true', 'x-cortex-losses': "OpenAI's hosted tool web_search"}
    >>> translated_headers(("custom tool a\\r\\nSet-Cookie: x",))["x-cortex-losses"]
    'custom tool a Set-Cookie: x'
    """
    lost = header_value("; ".join(losses))  # tool names come from the client's body
    return {"x-cortex-translated": "true", **({"x-cortex-losses": lost} if lost else {})}


def relay_whole(
    recording: CallRecording,
    planned: Planned,
    whole: Whole,
    translator: Translator,
    losses: tuple[str, ...] = (),
) -> Response:
    """The provider's whole JSON answer, as it sent it (or translated)."""
    response = whole.result.response
    headers = cortex_headers(recording.id, planned, whole.result.dispatch, response.headers)
    if response.raw is None:
        headers |= translated_headers(losses)
        return JSONResponse(translator.whole(response), headers=headers)
    return Response(response.raw, media_type="application/json", headers=headers)


async def relay_stream(
    dispatcher: Dispatcher,
    spend: SpendTracker,
    ttfts: RecentTtfts,
    planned: Planned,
    recording: CallRecording,
    failed: Callable[[str, str], bytes],
    translator: Translator,
    losses: tuple[str, ...] = (),
) -> Response:
    """The provider's stream from `dispatcher` (`open_stream`), relayed (or translated);
    `failed(message, kind)` is the front-end's error event for a stream that breaks after
    content was sent (``kind``: overloaded or not)."""
    state, events, first = await open_stream(dispatcher, spend, ttfts, planned, recording)
    upstream = first.headers if isinstance(first, RawEvent) else ()
    if isinstance(first, StreamEnd):
        upstream = first.response.headers

    started = False  # a translated answer's opening events are written

    def opening(model: str) -> bytes:
        nonlocal started
        if started:
            return b""
        started = True
        return translator.start(model)

    def write(event: StreamEvent) -> bytes:
        if isinstance(event, RawEvent):  # passed through: the provider's own events
            if not event.opening:
                recording.first_token()
            return event.data
        if isinstance(event, TextDelta | ToolCallDelta | ReasoningDelta):
            if not isinstance(event, ReasoningDelta):
                recording.first_token()
            return opening(state.model or "") + translator.feed(event)
        return b""

    def end(response: ChatResponse) -> bytes:
        if response.raw is not None:  # the provider's last event, held until the commit
            return response.raw
        return opening(response.model or state.model or "") + translator.finish(response)

    def broke(error: PartialAnswerError) -> bytes:
        overloaded = isinstance(error.cause, OverloadedError | RateLimitError)
        return failed(str(error), "overloaded" if overloaded else "api")

    sse = recorded_stream(first, events, recording, state, write=write, end=end, broke=broke)
    headers = cortex_headers(recording.id, planned, state, upstream)
    headers["Cache-Control"] = "no-cache"
    relayed = isinstance(first, RawEvent) or isinstance(first, StreamEnd) and first.response.raw
    if not relayed:
        headers |= translated_headers(losses)
    return StreamingResponse(sse, media_type="text/event-stream", headers=headers)


async def answer_passthrough(
    services: Services,
    call: Call,
    failed: Callable[[str, str], bytes],
    translator: Callable[[str], Translator],
) -> Response:
    """Plan, run and relay a call from an agent front-end (Messages, Responses): the
    pipeline's steps after parsing, with `failed` the front-end's mid-stream error event and
    `translator(call id)` its writer for an answer from another wire's model."""
    planned, recording = await start_call(services, call)
    writer = translator(recording.id)
    dispatcher, spend, ttfts = services.dispatcher, services.spend, services.ttfts
    try:
        if call.stream:
            return await relay_stream(
                dispatcher, spend, ttfts, planned, recording, failed, writer, call.losses
            )
        whole = await answer_whole(dispatcher, services.registry, spend, ttfts, planned, recording)
        return relay_whole(recording, planned, whole, writer, call.losses)
    except BaseException as error:
        # Recorded answers and errors are committed already; this is a bug or a cancellation.
        recording.abandon(None if isinstance(error, ApiError | asyncio.CancelledError) else error)
        raise

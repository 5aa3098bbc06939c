"""The encode step of a pass-through call: the provider's answer relayed as it came.

A whole answer is the provider's JSON body, byte for byte. A stream is its SSE events,
each as the provider sent it; the opening events were held by dispatch until content came,
and the last one (``message_stop``, ``response.completed``) by the provider adapter until
the call is on record. cortexd's own metadata rides in ``x-cortex-*`` headers, and the
provider's request id and rate-limit headers pass through.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from starlette.responses import Response, StreamingResponse

from cortexd.api.errors import ApiError
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
    StreamEnd,
)
from cortexd.services import Services


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
    return headers


def _raw(response: ChatResponse) -> bytes:
    if response.raw is None:  # every model a pass-through plan keeps forwards its body
        raise ApiError(500, "the answering model did not take the request as written")
    return response.raw


def relay_whole(recording: CallRecording, planned: Planned, whole: Whole) -> Response:
    """The provider's whole JSON answer, as it sent it."""
    response = whole.result.response
    headers = cortex_headers(recording.id, planned, whole.result.dispatch, response.headers)
    return Response(_raw(response), media_type="application/json", headers=headers)


async def relay_stream(
    services: Services,
    planned: Planned,
    recording: CallRecording,
    failed: Callable[[str, str], bytes],
) -> Response:
    """The provider's stream, relayed; `failed(message, kind)` is the front-end's error
    event for a stream that breaks after content was sent (``kind``: overloaded or not)."""
    state, events, first = await open_stream(services, planned, recording)
    upstream = first.headers if isinstance(first, RawEvent) else ()
    if isinstance(first, StreamEnd):
        upstream = first.response.headers

    async def sse() -> AsyncIterator[bytes]:
        event = first
        bug: BaseException | None = None
        try:
            while True:
                if isinstance(event, StreamEnd):
                    # The rows are committed before the last byte: an answered call is on record.
                    await recording.commit("ok", response=event.response, dispatch=state)
                    yield _raw(event.response)
                    return
                if isinstance(event, RawEvent):
                    if not event.opening:
                        recording.first_token()
                    yield event.data
                event = await anext(events)
        except PartialAnswerError as error:
            await recording.commit("partial", dispatch=state, error=error.cause)
            overloaded = isinstance(error.cause, OverloadedError | RateLimitError)
            yield failed(str(error), "overloaded" if overloaded else "api")
        except (GeneratorExit, asyncio.CancelledError):
            raise  # the client left: recorded below as cancelled
        except BaseException as error:
            bug = error
            raise
        finally:
            await events.aclose()  # type: ignore[attr-defined]
            recording.abandon(bug)  # after the close, which records the cancelled attempt

    headers = cortex_headers(recording.id, planned, state, upstream)
    headers["Cache-Control"] = "no-cache"
    return StreamingResponse(sse(), media_type="text/event-stream", headers=headers)


async def answer_passthrough(
    services: Services, call: Call, failed: Callable[[str, str], bytes]
) -> Response:
    """Plan, run and relay a call from an agent front-end (Messages, Responses): the
    pipeline's steps after parsing, with `failed` the front-end's mid-stream error event."""
    planned, recording = await start_call(services, call)
    try:
        if call.stream:
            return await relay_stream(services, planned, recording, failed)
        return relay_whole(recording, planned, await answer_whole(services, planned, recording))
    except BaseException as error:
        # Recorded answers and errors are committed already; this is a bug or a cancellation.
        recording.abandon(None if isinstance(error, ApiError | asyncio.CancelledError) else error)
        raise

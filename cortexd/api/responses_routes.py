"""``POST /v1/responses``: OpenAI's Responses API, parsed and encoded around the pipeline
(Codex CLI speaks only this)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from cortexd.api.body import read_json
from cortexd.api.error_shapes import responses_failed_event
from cortexd.api.errors import ApiError
from cortexd.api.relay import relay_stream, relay_whole
from cortexd.api.responses_request import check_body, responses_call
from cortexd.pipeline.plan import plan_call
from cortexd.pipeline.run import answer_whole, open_call
from cortexd.services import Services


async def responses(request: Request) -> Response:
    """``POST /v1/responses``: route, dispatch, record; the answer as OpenAI sent it."""
    services: Services = request.app.state.services
    body = check_body(await read_json(request, services))
    call = responses_call(body, request)
    planned = await plan_call(services, call)
    recording = await open_call(services, call, planned)
    try:
        if call.stream:
            return await relay_stream(services, planned, recording, responses_failed_event)
        return relay_whole(recording, planned, await answer_whole(services, planned, recording))
    except BaseException as error:
        recording.abandon(None if isinstance(error, ApiError | asyncio.CancelledError) else error)
        raise

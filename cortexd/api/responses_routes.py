"""``POST /v1/responses``: OpenAI's Responses API, parsed and encoded around the pipeline
(Codex CLI speaks only this)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cortexd.api.body import read_json
from cortexd.api.error_shapes import responses_failed_event
from cortexd.api.relay import answer_passthrough
from cortexd.api.responses_request import check_body, responses_call
from cortexd.services import Services


async def responses(request: Request) -> Response:
    """``POST /v1/responses``: route, dispatch, record; the answer as OpenAI sent it."""
    services: Services = request.app.state.services
    body = check_body(await read_json(request, services))
    return await answer_passthrough(services, responses_call(body, request), responses_failed_event)

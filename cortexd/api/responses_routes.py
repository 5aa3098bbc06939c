"""``POST /v1/responses``: OpenAI's Responses API, parsed and encoded around the pipeline
(Codex CLI speaks only this)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cortexd.api.body import read_json
from cortexd.api.error_shapes import responses_failed_event
from cortexd.api.relay import answer_passthrough
from cortexd.api.responses_encode import response_json
from cortexd.api.responses_request import check_body, responses_call
from cortexd.api.responses_stream import ResponsesStreamEncoder
from cortexd.api.responses_tools import NO_TOOLS, ResponsesTools, read_tools
from cortexd.routing.providers import ChatResponse, StreamEvent
from cortexd.services import Services


async def responses(request: Request) -> Response:
    """``POST /v1/responses``: route, dispatch, record; the answer as OpenAI sent it."""
    services: Services = request.app.state.services
    body = check_body(await read_json(request, services.limits))
    call = responses_call(body, request)
    tools = read_tools(body)
    return await answer_passthrough(
        services, call, responses_failed_event, lambda call_id: ToResponses(call_id, tools)
    )


class ToResponses:
    """Writes an answer from another wire's model as OpenAI's Responses API does."""

    def __init__(self, call_id: str, tools: ResponsesTools = NO_TOOLS) -> None:
        self._id = f"resp_{call_id}"
        self._tools = tools
        self._encoder = ResponsesStreamEncoder(tools)

    def start(self, model: str) -> bytes:
        """``response.created`` and ``response.in_progress``."""
        return self._encoder.start(model, self._id)

    def feed(self, event: StreamEvent) -> bytes:
        """One delta's items and deltas."""
        return self._encoder.feed(event)

    def finish(self, response: ChatResponse) -> bytes:
        """The items' ``done`` events and ``response.completed``."""
        return self._encoder.finish(response)

    def whole(self, response: ChatResponse) -> dict[str, Any]:
        """A ``response`` object."""
        return response_json(
            response, model=response.model, response_id=self._id, tools=self._tools
        )

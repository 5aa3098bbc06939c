"""``POST /v1/messages`` and ``POST /v1/messages/count_tokens``: Anthropic's Messages API,
parsed and encoded around the pipeline (Claude Code and the anthropic SDK speak it)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cortexd.api.body import read_json
from cortexd.api.error_shapes import anthropic_error_event
from cortexd.api.errors import ApiError
from cortexd.api.messages_encode import MessagesStreamEncoder, message_json
from cortexd.api.messages_request import check_body, messages_call
from cortexd.api.relay import answer_passthrough
from cortexd.pipeline.plan import route_call
from cortexd.routing.dispatch import estimate_tokens
from cortexd.routing.providers import (
    ChatResponse,
    InvalidRequestError,
    ProviderError,
    StreamEvent,
)
from cortexd.services import Services

log = logging.getLogger("cortexd.api")

#: Anthropic's count is asked for with this much time; after it the local estimate answers.
COUNT_TIMEOUT_S = 10.0


async def messages(request: Request) -> Response:
    """``POST /v1/messages``: route, dispatch, record; the answer as Anthropic sent it."""
    services: Services = request.app.state.services
    body = check_body(await read_json(request, services.limits))
    call = messages_call(body, request)
    estimate = estimate_tokens(call.chat)
    return await answer_passthrough(
        services, call, anthropic_error_event, lambda call_id: ToMessages(call_id, estimate)
    )


async def count_tokens(request: Request) -> Response:
    """``POST /v1/messages/count_tokens`` for the model the request would be routed to:
    Anthropic's own count when that model is Anthropic's (it is free), else an offline
    estimate, labelled as one (``x-cortex-token-count: estimate``). Never a made-up 0."""
    services: Services = request.app.state.services
    body = check_body(await read_json(request, services.limits), needs_max_tokens=False)
    call = messages_call(body, request)
    routing = services.routing  # one generation for the whole request
    plan = await route_call(services, routing, call)
    spec = routing.catalog.resolve(plan.chain[0])
    if spec is not None:
        await services.registry.ready([spec])
    headers = {"x-cortex-model": plan.chain[0], "x-cortex-task": plan.task}
    provider = services.registry(spec) if spec is not None else None
    # Only Anthropic's adapter counts (the SDK is not imported here: the CLI path stays light).
    counter = getattr(provider, "count_tokens", None)
    if spec is not None and counter is not None:
        chat = replace(call.chat, model=spec.model_id, timeout=COUNT_TIMEOUT_S)
        try:
            async with asyncio.timeout(COUNT_TIMEOUT_S):
                counted = await counter(chat)
            headers["x-cortex-token-count"] = "anthropic"
            return JSONResponse({"input_tokens": counted}, headers=headers)
        except InvalidRequestError as error:
            raise ApiError(400, error.detail) from None  # the request is wrong: say so
        except (ProviderError, TimeoutError) as error:
            log.warning("Anthropic could not count tokens (%s); estimating locally", error)
    estimate = max(1, estimate_tokens(call.chat))
    headers["x-cortex-token-count"] = "estimate"
    return JSONResponse({"input_tokens": estimate}, headers=headers)


class ToMessages:
    """Writes an answer from another wire's model as Anthropic's Messages API does."""

    def __init__(self, call_id: str, input_tokens: int = 0) -> None:
        self._id = f"msg_{call_id}"
        self._input_tokens = input_tokens
        self._encoder = MessagesStreamEncoder()

    def start(self, model: str) -> bytes:
        """``message_start``."""
        return self._encoder.start(model, self._id, self._input_tokens)

    def feed(self, event: StreamEvent) -> bytes:
        """One delta's blocks and deltas."""
        return self._encoder.feed(event)

    def finish(self, response: ChatResponse) -> bytes:
        """The last block's stop, ``message_delta`` and ``message_stop``."""
        return self._encoder.finish(response)

    def whole(self, response: ChatResponse) -> dict[str, Any]:
        """A ``message`` object."""
        return message_json(response, model=response.model, message_id=self._id)

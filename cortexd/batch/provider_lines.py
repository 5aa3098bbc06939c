"""One batch line through a provider's Batch API: planned as any call, sent in the provider's
own wire, and its result answered in the line's wire and recorded at the batch price.

A line is planned by the very pipeline a client's call goes through (`plan_call`: overrides,
the task, budgets, health), from the body its line holds. It goes to a Batch API only when
the plan's first model is a cloud model whose provider has one, and nothing asks for more
than one answer (a second opinion): anything else, a refusal included, takes the normal
path, which answers and records it as it would any call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from cortexd.api.chat_request import ChatBody
from cortexd.api.chat_response import cortex_block
from cortexd.api.errors import ApiError
from cortexd.api.recording import CallRecording
from cortexd.api.validation import parse_body
from cortexd.batch.estimate import BATCH_CLIENT
from cortexd.ledger import CallOutcome
from cortexd.pipeline.call import Call
from cortexd.pipeline.plan import Planned, plan_call
from cortexd.routing import ModelSpec
from cortexd.routing.dispatch import Attempt, Dispatch, cost_usd
from cortexd.routing.providers import (
    BatchApi,
    BatchItemError,
    BatchResult,
    ChatResponse,
    OffersBatches,
    ProviderError,
    Usage,
)

if TYPE_CHECKING:
    from cortexd.services import Services


@dataclass(frozen=True)
class Prepared:
    """A line ready for a Batch API: its call and plan, the model, and the provider's
    request (`url`, `body`)."""

    seq: int
    wire: str  # the line's own endpoint, which its answer is written for
    call: Call
    planned: Planned
    spec: ModelSpec
    url: str
    body: dict[str, Any]
    warnings: tuple[str, ...]


def line_call(app: Any, url: str, body: dict[str, Any]) -> Call:
    """The pipeline's call for a line's body, parsed by its endpoint's own front-end (so a
    bad body is refused in the words a client would get); raises `ApiError`."""
    scope = {
        "type": "http",
        "app": app,
        "method": "POST",
        "path": url,
        "query_string": b"",
        "headers": [(b"user-agent", f"{BATCH_CLIENT}/1".encode())],
    }
    request = Request(scope)
    if url.endswith("/chat/completions"):
        from cortexd.api.chat_routes import chat_call

        return chat_call(parse_body(body, ChatBody), body, request)
    if url.endswith("/messages"):
        from cortexd.api import messages_request

        return messages_request.messages_call(messages_request.check_body(body), request)
    if url.endswith("/responses"):
        from cortexd.api import responses_request

        return responses_request.responses_call(responses_request.check_body(body), request)
    raise ApiError(400, f"{url} has no Batch API here", param="url")


async def prepare(
    services: Services, app: Any, apis: dict[str, BatchApi], seq: int, url: str, body: Any
) -> Prepared | None:
    """The line made ready for its provider's Batch API, or None where it takes the normal
    path (see the module's docstring). `apis` keeps the Batch API of each provider met. The
    line is planned by the whole pipeline (`plan_call`), under the routing generation it
    takes now."""
    routing = services.routing  # one generation for the whole line
    try:
        call = line_call(app, url, body)
        planned = await plan_call(services, routing, call)
    except ApiError:
        return None  # the normal path refuses it, and records it, as it would any call
    plan = planned.plan
    if planned.refusal is not None or planned.second or not plan.chain:
        return None
    spec = routing.catalog.resolve(plan.chain[0])
    # Only the provider's own endpoint has its Batch API: a model an alias serves from
    # another base URL (a proxy, a gateway) takes the normal path.
    if spec is None or spec.local or spec.base_url is not None:
        return None
    api = apis.get(spec.provider.value)
    if api is None:
        provider = services.registry(spec)
        if not isinstance(provider, OffersBatches):
            return None
        try:
            api = apis[spec.provider.value] = provider.batch_api()
        except ProviderError:
            return None  # no key: the normal path says so
    chat = replace(planned.chat, model=spec.model_id)
    wire_url, wire_body, warnings = api.wire_request(chat)
    return Prepared(seq, url, call, planned, spec, wire_url, wire_body, warnings)


@dataclass(frozen=True)
class Answered:
    """A line's result: the status and body it is answered with, and its call's record."""

    status: int
    body: dict[str, Any]
    call_id: str


async def answer(
    services: Services,
    line: Prepared,
    api: BatchApi,
    result: BatchResult,
    remote_id: str,
    submitted_at: float,
) -> Answered:
    """Answer `line` with `result` in its own wire, and record its call (`CallRecording`,
    of the routing generation served now): at the batch price, flagged with the provider's
    batch, in the month the result arrived."""
    routing = services.routing
    spec = line.spec
    price, basis = routing.catalog.batch_price(spec)
    call = line.call
    recording = CallRecording(
        call.id,
        line.planned.plan,
        line.planned.chat,
        routing=routing,
        attempt_log=services.attempt_log,
        ledger=services.ledger,
        recent_outputs=services.recent_outputs,
        ttfts=services.ttfts,
        pins=services.pins,
        client=call.client,
        project=call.project,
        stream=False,
        asked_model=call.asked_model,
    )
    waited = max(0.0, time.time() - submitted_at)
    response: ChatResponse | None = None
    outcome: CallOutcome
    if result.kind == "succeeded" and result.body is not None:
        response = api.wire_response(line.url, result.body)
        usage = response.usage
        outcome = "ok"
    else:
        usage = Usage()  # a request the batch did not answer is not billed
        outcome = "error"
    attempt = Attempt(
        request_id=call.id,
        number=1,
        task=line.planned.plan.task,
        provider=spec.provider.value,
        model=spec.name,
        model_id=spec.model_id,
        outcome=outcome,
        usage=usage,
        total_s=waited,
        error_class=None if response is not None else "BatchResultError",
        error=result.error,
        cost_usd=cost_usd(price, usage),
    )
    recording.attempts.append(attempt)
    dispatch = Dispatch(call.id, line.planned.plan.task, model=spec.name)
    dispatch.provider = spec.provider.value
    dispatch.attempts.append(attempt)
    services.attempt_log.close(call.id)
    error = None
    if response is None:
        why = result.error or f"the request {result.kind}"
        error = BatchItemError(
            why, provider=spec.provider.value, model=spec.name, status=result.status
        )
    record = recording.build(outcome, response=response, dispatch=dispatch, error=error)
    await services.ledger.record(replace(record, batch=remote_id, total_s=waited))
    warnings = (*line.warnings, f"answered through {spec.provider.value}'s Batch API: {basis}")
    if response is None:
        return Answered(result.status or 500, _error_body(result), call.id)
    cortex = cortex_block(call.id, line.planned.plan, dispatch, warnings, attempts=[attempt])
    cortex["batch"] = {"provider_batch": remote_id, "price": basis}
    return Answered(200, _encode(line, call.id, response, result.body or {}, cortex), call.id)


def _error_body(result: BatchResult) -> dict[str, Any]:
    code = {"errored": "upstream_error", "expired": "batch_expired"}.get(result.kind)
    message = result.error or f"the request {result.kind}"
    return {
        "error": {
            "message": message,
            "type": "batch_error",
            "code": code or "batch_canceled",
        }
    }


def _encode(
    line: Prepared,
    call_id: str,
    response: ChatResponse,
    raw: dict[str, Any],
    cortex: dict[str, Any],
) -> dict[str, Any]:
    """The answer in the line's own wire: the provider's body as it came where the wires
    match, else translated."""
    same = (line.wire, line.url)
    if line.wire.endswith("/chat/completions"):
        from cortexd.api.chat_response import completion_json

        if same == ("/v1/chat/completions", "/v1/chat/completions"):
            return {**raw, "cortex": cortex}
        return completion_json(call_id, response, cortex)
    if same[0] == same[1]:
        return raw
    if line.wire.endswith("/messages"):
        from cortexd.api.messages_routes import ToMessages

        return ToMessages(call_id).whole(response)
    from cortexd.api.responses_routes import ToResponses

    return ToResponses(call_id).whole(response)

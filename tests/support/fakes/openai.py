"""A fake OpenAI API: Chat Completions, Responses, Embeddings (JSON and SSE), and the model list."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from ._provider import (
    Event,
    JsonPlan,
    Plan,
    ProviderFake,
    StreamPlan,
    new_id,
    split_fixed,
    split_text,
)
from .openai_batches import OpenAIBatches
from .script import Fault, Turn
from .server import Action, RecordedRequest
from .vectors import embed_text, to_base64

DEFAULT_MODELS = ("gpt-4o", "gpt-4o-mini", "o4-mini", "text-embedding-3-small")

# OpenAI's error `type` and `code` for each status when a Fault names none.
_ERROR_TYPES = {429: "requests"}
_ERROR_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}
# The codes a Response's `error.code` may take; other in-stream error types become server_error.
_RESPONSE_ERROR_CODES = frozenset(
    {"server_error", "rate_limit_exceeded", "invalid_prompt", "vector_store_timeout"}
)
_FINISH_REASONS = {"stop": "stop", "length": "length", "tool_calls": "tool_calls"}
# OpenAI's rate-limit headers, with fixed plausible values; the resets are durations.
RATE_LIMIT_HEADERS = {
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-remaining-requests": "9999",
    "x-ratelimit-reset-requests": "6ms",
    "x-ratelimit-limit-tokens": "2000000",
    "x-ratelimit-remaining-tokens": "1999980",
    "x-ratelimit-reset-tokens": "1s",
}
_SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"


class FakeOpenAI(ProviderFake):
    """A fake of the OpenAI API; hand ``base_url`` (which ends in ``/v1``) to ``AsyncOpenAI``.

    ``models`` are the ids ``GET /v1/models`` lists. With ``require_auth`` (the default) a request
    without an ``Authorization: Bearer`` header gets a 401, as the real API answers.
    """

    request_id_header = "x-request-id"

    def __init__(
        self, *, models: Sequence[str] = DEFAULT_MODELS, require_auth: bool = True
    ) -> None:
        super().__init__()
        self.models = list(models)
        self.require_auth = require_auth
        self.rate_limit_headers = dict(RATE_LIMIT_HEADERS)
        self.route("POST", "/v1/chat/completions", self._chat)
        self.route("POST", "/v1/responses", self._responses)
        self.route("POST", "/v1/embeddings", self._embeddings)
        self.route("GET", "/v1/models", self._list_models)
        self.batches = OpenAIBatches(
            self,
            {
                "/v1/chat/completions": _render_chat,
                "/v1/responses": _render_response,
                "/v1/embeddings": _render_embeddings,
            },
        )
        self.route("POST", "/v1/files", self.batches.upload)
        self.route("POST", "/v1/batches", self.batches.create)
        self.route("GET", "/v1/batches", self.batches.listing)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # -- ProviderFake hooks ----------------------------------------------------------------

    def check_request(self, request: RecordedRequest) -> Action | None:
        authorization = request.header("authorization") or ""
        if self.require_auth and not authorization.lower().startswith("bearer "):
            return self.error_reply(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                error_type="invalid_request_error",
            )
        return None

    def route_fallback(self, request: RecordedRequest) -> Action:
        prefix = "/v1/models/"
        if request.method == "GET" and request.path.startswith(prefix):
            model_id = request.path[len(prefix) :]
            if model_id in self.models:
                return self.json_reply(_model(model_id))
            return self.error_reply(
                404,
                f"The model '{model_id}' does not exist",
                error_type="invalid_request_error",
                error_code="model_not_found",
            )
        batch = self.batches.route(request)
        if batch is not None:
            return batch
        return self.error_reply(
            404,
            f"Invalid URL ({request.method} {request.path})",
            error_type="invalid_request_error",
        )

    def error_payload(
        self,
        status: int,
        message: str,
        error_type: str | None,
        error_code: str | None,
        request_id: str | None,
    ) -> object:
        default_type = "server_error" if status >= 500 else "invalid_request_error"
        return {
            "error": {
                "message": message,
                "type": error_type or _ERROR_TYPES.get(status, default_type),
                "param": None,
                "code": error_code or _ERROR_CODES.get(status),
            }
        }

    # -- routes ----------------------------------------------------------------------------

    def _chat(self, request: RecordedRequest) -> Action:
        return self.scripted(request, _render_chat)

    def _responses(self, request: RecordedRequest) -> Action:
        return self.scripted(request, _render_response)

    def _embeddings(self, request: RecordedRequest) -> Action:
        return self.scripted(request, _render_embeddings)

    def _list_models(self, request: RecordedRequest) -> Action:
        return self.json_reply({"object": "list", "data": [_model(m) for m in self.models]})


def _body(request: RecordedRequest) -> dict[str, Any]:
    return request.json if isinstance(request.json, dict) else {}


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 1700000000, "owned_by": "openai"}


def _sse_data(payload: object) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def _sse_event(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


# -- Chat Completions ------------------------------------------------------------------------


def _chat_usage(turn: Turn) -> dict[str, Any]:
    prompt_details: dict[str, Any] = {"cached_tokens": turn.cache_read_tokens, "audio_tokens": 0}
    if turn.cache_write_tokens:
        prompt_details["cache_write_tokens"] = turn.cache_write_tokens
    return {
        "prompt_tokens": turn.input_tokens,
        "completion_tokens": turn.output_tokens,
        "total_tokens": turn.input_tokens + turn.output_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {
            "reasoning_tokens": turn.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _render_chat(request: RecordedRequest, turn: Turn) -> Plan:
    body = _body(request)
    header = {
        "id": new_id("chatcmpl-", 28),
        "created": int(time.time()),
        "model": body.get("model", "gpt-unknown"),
        "service_tier": "default",
        "system_fingerprint": "fp_fake0001",
    }
    finish = _FINISH_REASONS[turn.finish_reason]
    tool_calls: list[dict[str, Any]] = [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
        }
        for call in turn.tool_calls
    ]
    if not body.get("stream"):
        message: dict[str, Any] = {
            "role": "assistant",
            "content": turn.text if turn.text or not tool_calls else None,
            "refusal": None,
            "annotations": [],
        }
        if tool_calls:
            message["tool_calls"] = tool_calls
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        return JsonPlan(
            {"object": "chat.completion", **header, "choices": [choice], "usage": _chat_usage(turn)}
        )

    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and bool(options.get("include_usage"))

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "object": "chat.completion.chunk",
            **header,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            payload["usage"] = None  # every chunk but the last carries a null usage
        return payload

    role = {
        "role": "assistant",
        "content": "" if turn.text or not tool_calls else None,
        "refusal": None,
    }
    events = [Event(_sse_data(chunk(role)))]
    events += [Event(_sse_data(chunk({"content": p})), content=True) for p in split_text(turn.text)]
    for index, call in enumerate(tool_calls):
        opening = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        events.append(Event(_sse_data(chunk({"tool_calls": [opening]})), content=True))
        for piece in split_fixed(call["function"]["arguments"]):
            delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
            events.append(Event(_sse_data(chunk(delta)), content=True))
    events.append(Event(_sse_data(chunk({}, finish))))
    if include_usage:
        last = {
            "object": "chat.completion.chunk",
            **header,
            "choices": [],
            "usage": _chat_usage(turn),
        }
        events.append(Event(_sse_data(last)))
    events.append(Event(b"data: [DONE]\n\n"))
    return StreamPlan(events=events, content_type=_SSE_CONTENT_TYPE, error=_chat_stream_error)


def _chat_stream_error(_sent: int, fault: Fault) -> list[bytes]:
    error = {
        "message": fault.message or "The server had an error while processing your request.",
        "type": fault.error_type or "server_error",
        "param": None,
        "code": fault.error_code,
    }
    return [_sse_data({"error": error})]


# -- Responses -------------------------------------------------------------------------------


def _responses_usage(turn: Turn) -> dict[str, Any]:
    return {
        "input_tokens": turn.input_tokens,
        "input_tokens_details": {
            "cached_tokens": turn.cache_read_tokens,
            "cache_write_tokens": turn.cache_write_tokens,
        },
        "output_tokens": turn.output_tokens,
        "output_tokens_details": {"reasoning_tokens": turn.reasoning_tokens},
        "total_tokens": turn.input_tokens + turn.output_tokens,
    }


def _output_items(turn: Turn) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if turn.thinking is not None:
        summary = [{"type": "summary_text", "text": turn.thinking}]
        items.append({"id": new_id("rs_", 48), "type": "reasoning", "summary": summary})
    if turn.text or not turn.tool_calls:
        text = {"type": "output_text", "text": turn.text, "annotations": [], "logprobs": []}
        items.append(
            {
                "id": new_id("msg_", 48),
                "type": "message",
                "status": "incomplete" if turn.finish_reason == "length" else "completed",
                "role": "assistant",
                "content": [text],
            }
        )
    for call in turn.tool_calls:
        items.append(
            {
                "id": new_id("fc_", 48),
                "type": "function_call",
                "status": "completed",
                "arguments": json.dumps(call.arguments),
                "call_id": call.id,
                "name": call.name,
            }
        )
    return items


def _response_object(body: dict[str, Any], response_id: str, created: int) -> dict[str, Any]:
    """The Response as ``response.created`` shows it: in progress, no output, no usage."""
    requested = body.get("reasoning")
    reasoning: dict[str, Any] = requested if isinstance(requested, dict) else {}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": "in_progress",
        "background": False,
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": body.get("model", "gpt-unknown"),
        "output": [],
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "service_tier": "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": body.get("tools", []),
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": None,
        "user": None,
        "metadata": {},
    }


def _render_response(request: RecordedRequest, turn: Turn) -> Plan:
    body = _body(request)
    created = int(time.time())
    initial = _response_object(body, new_id("resp_", 48), created)
    items = _output_items(turn)
    final = dict(initial, output=items, usage=_responses_usage(turn))
    if turn.finish_reason == "length":
        final.update(status="incomplete", incomplete_details={"reason": "max_output_tokens"})
    else:
        final.update(status="completed", completed_at=created)
    if not body.get("stream"):
        return JsonPlan(final)
    return StreamPlan(
        events=_response_events(initial, final, items),
        content_type=_SSE_CONTENT_TYPE,
        error=_response_stream_error(initial),
    )


class _Sequence:
    """Numbers the Responses stream's events in order, as ``sequence_number`` requires."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, event_type: str, content: bool = False, **fields: Any) -> None:
        payload = {"type": event_type, "sequence_number": len(self.events), **fields}
        self.events.append(Event(_sse_event(payload), content=content))


def _response_events(
    initial: dict[str, Any], final: dict[str, Any], items: list[dict[str, Any]]
) -> list[Event]:
    seq = _Sequence()
    seq.add("response.created", response=initial)
    seq.add("response.in_progress", response=initial)
    for index, item in enumerate(items):
        where: dict[str, Any] = {"item_id": item["id"], "output_index": index}
        part: dict[str, Any]
        if item["type"] == "reasoning":
            text = item["summary"][0]["text"]
            seq.add("response.output_item.added", output_index=index, item=dict(item, summary=[]))
            part = {"type": "summary_text", "text": ""}
            seq.add("response.reasoning_summary_part.added", **where, summary_index=0, part=part)
            for piece in split_text(text):
                seq.add(
                    "response.reasoning_summary_text.delta",
                    content=True,
                    **where,
                    summary_index=0,
                    delta=piece,
                )
            seq.add("response.reasoning_summary_text.done", **where, summary_index=0, text=text)
            part = {"type": "summary_text", "text": text}
            seq.add("response.reasoning_summary_part.done", **where, summary_index=0, part=part)
        elif item["type"] == "message":
            text = item["content"][0]["text"]
            opening = dict(item, status="in_progress", content=[])
            seq.add("response.output_item.added", output_index=index, item=opening)
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            seq.add("response.content_part.added", **where, content_index=0, part=part)
            for piece in split_text(text):
                seq.add(
                    "response.output_text.delta",
                    content=True,
                    **where,
                    content_index=0,
                    delta=piece,
                    logprobs=[],
                )
            seq.add("response.output_text.done", **where, content_index=0, text=text, logprobs=[])
            seq.add("response.content_part.done", **where, content_index=0, part=item["content"][0])
        else:
            opening = dict(item, status="in_progress", arguments="")
            seq.add("response.output_item.added", output_index=index, item=opening)
            for piece in split_fixed(item["arguments"]):
                seq.add(
                    "response.function_call_arguments.delta", content=True, **where, delta=piece
                )
            seq.add(
                "response.function_call_arguments.done",
                **where,
                name=item["name"],
                arguments=item["arguments"],
            )
        seq.add("response.output_item.done", output_index=index, item=item)
    # The Responses stream ends with its terminal event; unlike Chat Completions, no [DONE].
    terminal = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    seq.add(terminal, response=final)
    return seq.events


def _response_stream_error(initial: dict[str, Any]) -> Callable[[int, Fault], list[bytes]]:
    def render(sent: int, fault: Fault) -> list[bytes]:
        message = fault.message or "An error occurred while processing your request."
        code = fault.error_type if fault.error_type in _RESPONSE_ERROR_CODES else "server_error"
        # The documented `error` event, then the response's own terminal `response.failed`.
        error = {
            "type": "error",
            "sequence_number": sent,
            "code": fault.error_type,
            "message": message,
            "param": None,
        }
        failed = dict(initial, status="failed", error={"code": code, "message": message})
        terminal = {"type": "response.failed", "sequence_number": sent + 1, "response": failed}
        return [_sse_event(error), _sse_event(terminal)]

    return render


# -- Embeddings ------------------------------------------------------------------------------


def _embedding_inputs(value: object) -> list[str]:
    """The texts to embed: a string, a list of strings, or token arrays (embedded as JSON)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [json.dumps(value)]
    if isinstance(value, list):
        return [v if isinstance(v, str) else json.dumps(v) for v in value]
    return [json.dumps(value)]


def _render_embeddings(request: RecordedRequest, turn: Turn) -> Plan:
    body = _body(request)
    dims = body.get("dimensions") or turn.embedding_dims
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(_embedding_inputs(body.get("input"))):
        vector = embed_text(text, int(dims))
        encoded: object = to_base64(vector) if as_base64 else vector
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    return JsonPlan(
        {
            "object": "list",
            "data": data,
            "model": body.get("model", "text-embedding-unknown"),
            "usage": {"prompt_tokens": turn.input_tokens, "total_tokens": turn.input_tokens},
        }
    )

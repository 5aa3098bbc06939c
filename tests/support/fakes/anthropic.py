"""A fake Anthropic Messages API: /v1/messages (JSON and SSE), count_tokens, and the model list."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
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
from .anthropic_batches import MessageBatches
from .prompt_cache import PromptCache, without_breakpoints
from .prompt_cache import problem as cache_problem
from .script import Fault, Turn
from .server import Action, RecordedRequest

DEFAULT_MODELS = (
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-1-20250805",
)

# Anthropic's documented error type for each status.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

_STATUS_BY_TYPE = {error_type: status for status, error_type in ERROR_TYPES.items()}
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
# Keys whose string values are structure, not prompt text, when counting tokens.
_NOT_TEXT = frozenset({"type", "role", "id", "tool_use_id", "media_type", "cache_control"})
# Keeps a redacted_thinking MAC from ever equalling a thinking signature.
_REDACTED_DOMAIN = b"redacted_thinking:"
_NONCE_BYTES = 16


class FakeAnthropic(ProviderFake):
    """A fake of the Anthropic API; hand ``base_url`` (no ``/v1``) to ``AsyncAnthropic``.

    ``models`` are the ids ``GET /v1/models`` lists. With ``require_auth`` (the default) a request
    without ``x-api-key`` (or a bearer token) gets a 401, and one without ``anthropic-version``
    a 400, as the real API answers.

    Thinking blocks are signed with an HMAC under a secret of this fake's own, and with
    ``verify_signatures`` (the default) every ``thinking`` and ``redacted_thinking`` block sent
    back in an assistant message must be one this fake issued, unchanged, or the request gets
    the real API's 400: what a proxy that rewrites the history would get.

    With ``prompt_cache`` the fake keeps a prompt cache as the API does, and each answer's
    cache reads and writes are what the request's ``cache_control`` earns (prompt_cache.py).
    """

    request_id_header = "request-id"

    def __init__(
        self,
        *,
        models: Sequence[str] = DEFAULT_MODELS,
        require_auth: bool = True,
        verify_signatures: bool = True,
        prompt_cache: bool = False,
    ) -> None:
        super().__init__()
        # With `prompt_cache`, cache reads and writes follow from the request's breakpoints
        # (prompt_cache.py) instead of the script, and its prompt's size from its text.
        self.prompt_cache = PromptCache() if prompt_cache else None
        # Counts the cache as though the request had no breakpoints (what it would cost).
        self.strip_cache_control = False
        self.models = list(models)
        self.require_auth = require_auth
        self.verify_signatures = verify_signatures
        # Random per fake: a block signed by another fake fails here, as a foreign one would.
        self._secret = secrets.token_bytes(32)
        self.rate_limit_headers = _rate_limit_headers(datetime.now(UTC))
        self.route("POST", "/v1/messages", self._messages)
        self.route("POST", "/v1/messages/count_tokens", self._count_tokens)
        self.route("GET", "/v1/models", self._list_models)
        self.message_batches = MessageBatches(self)
        self.route("POST", "/v1/messages/batches", self.message_batches.create)
        self.route("GET", "/v1/messages/batches", self.message_batches.listing)

    # -- signatures ------------------------------------------------------------------------

    def signature_for(self, thinking: str) -> str:
        """The signature this fake gives a thinking block with this text."""
        return base64.b64encode(self._mac(thinking.encode())).decode()

    def redacted_thinking_data(self) -> str:
        """A fresh ``data`` for a ``redacted_thinking`` block that this fake accepts back.

        A random nonce and its MAC: opaque to clients, checkable without remembering it.
        """
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return base64.b64encode(nonce + self._mac(_REDACTED_DOMAIN + nonce)).decode()

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self._secret, data, hashlib.sha256).digest()

    def _signed(self, signature: object, thinking: object) -> bool:
        if not isinstance(signature, str) or not isinstance(thinking, str):
            return False
        return hmac.compare_digest(signature.encode(), self.signature_for(thinking).encode())

    def _issued(self, data: object) -> bool:
        if not isinstance(data, str):
            return False
        try:
            raw = base64.b64decode(data, validate=True)
        except ValueError:
            return False
        nonce, mac = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        return len(nonce) == _NONCE_BYTES and hmac.compare_digest(
            mac, self._mac(_REDACTED_DOMAIN + nonce)
        )

    def _block_problem(self, where: str, block: object) -> str | None:
        """The real API's complaint about one block of an assistant message, or None."""
        if not isinstance(block, dict):
            return None
        kind = block.get("type")
        if kind == "thinking":
            for key in ("thinking", "signature"):
                if key not in block:
                    return f"{where}.thinking.{key}: Field required"
            if not self._signed(block["signature"], block["thinking"]):
                return f"{where}: Invalid `signature` in `thinking` block"
        elif kind == "redacted_thinking":
            if "data" not in block:
                return f"{where}.redacted_thinking.data: Field required"
            if not self._issued(block["data"]):
                return f"{where}: Invalid `data` in `redacted_thinking` block"
        return None

    def _history_refusal(self, request: RecordedRequest) -> Action | None:
        """A 400 for the first thinking block in the history that this fake did not sign."""
        body = request.json if isinstance(request.json, dict) else {}
        messages = body.get("messages")
        if not self.verify_signatures or not isinstance(messages, list):
            return None
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") != "assistant":
                continue
            content = message.get("content")
            for j, block in enumerate(content if isinstance(content, list) else []):
                problem = self._block_problem(f"messages.{i}.content.{j}", block)
                if problem is not None:
                    return self.error_reply(400, problem)
        problem = _final_turn_without_thinking(body, messages)
        return None if problem is None else self.error_reply(400, problem)

    # -- ProviderFake hooks ----------------------------------------------------------------

    def check_request(self, request: RecordedRequest) -> Action | None:
        if not self.require_auth:
            return None
        authorization = request.header("authorization") or ""
        if not request.header("x-api-key") and not authorization.lower().startswith("bearer "):
            return self.error_reply(401, "x-api-key header is required")
        if not request.header("anthropic-version"):
            return self.error_reply(400, "anthropic-version: header is required")
        return None

    def route_fallback(self, request: RecordedRequest) -> Action:
        prefix = "/v1/models/"
        if request.method == "GET" and request.path.startswith(prefix):
            model_id = request.path[len(prefix) :]
            if model_id in self.models:
                return self.json_reply(_model_info(model_id))
            return self.error_reply(404, f"model: {model_id}")
        batch = self.message_batches.route(request)
        return batch if batch is not None else self.error_reply(404, "Not found")

    def error_payload(
        self,
        status: int,
        message: str,
        error_type: str | None,
        error_code: str | None,
        request_id: str | None,
    ) -> object:
        fallback = "api_error" if status >= 500 else "invalid_request_error"
        error: dict[str, Any] = {
            "type": error_type or ERROR_TYPES.get(status, fallback),
            "message": message,
        }
        if error_code is not None:
            error["details"] = {"error_code": error_code}
        return {"type": "error", "error": error, "request_id": request_id}

    def status_for_error_type(self, error_type: str | None) -> int:
        status = _STATUS_BY_TYPE.get(error_type or "")
        return status if status is not None else super().status_for_error_type(error_type)

    # -- routes ----------------------------------------------------------------------------

    def clear(self) -> None:
        super().clear()
        if self.prompt_cache is not None:
            self.prompt_cache.clear()

    def _messages(self, request: RecordedRequest) -> Action:
        # Refused before the script is read: a rejected request generates nothing.
        refusal = self._history_refusal(request)
        if refusal is not None:
            return refusal
        if self.prompt_cache is not None and isinstance(request.json, dict):
            wrong = cache_problem(request.json)
            if wrong is not None:
                return self.error_reply(400, wrong)
        return self.scripted(request, self._render)

    def _cached(self, request: RecordedRequest, turn: Turn) -> Turn:
        """`turn` with the prompt's size and its cache use as the API would count them."""
        if self.prompt_cache is None:
            return turn
        body = request.json if isinstance(request.json, dict) else {}
        use = self.prompt_cache.use(without_breakpoints(body) if self.strip_cache_control else body)
        return replace(
            turn,
            input_tokens=use.total,
            cache_read_tokens=use.read,
            cache_write_tokens=use.written,
            cache_write_1h_tokens=use.written_1h,
        )

    def _count_tokens(self, request: RecordedRequest) -> Action:
        refusal = self._history_refusal(request)
        if refusal is not None:
            return refusal
        body = request.json if isinstance(request.json, dict) else {}
        chars = sum(_text_length(body.get(key)) for key in ("system", "messages", "tools"))
        return self.json_reply({"input_tokens": max(1, math.ceil(chars / 4))})

    def _list_models(self, request: RecordedRequest) -> Action:
        ids = list(self.models)
        if "after_id" in request.query and request.query["after_id"] in ids:
            ids = ids[ids.index(request.query["after_id"]) + 1 :]
        elif "before_id" in request.query and request.query["before_id"] in ids:
            ids = ids[: ids.index(request.query["before_id"])]
        limit = int(request.query.get("limit", "20"))
        page = ids[:limit]
        return self.json_reply(
            {
                "data": [_model_info(model_id) for model_id in page],
                "has_more": len(ids) > limit,
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
            }
        )

    # -- rendering -------------------------------------------------------------------------

    def _render(self, request: RecordedRequest, turn: Turn) -> Plan:
        body = request.json if isinstance(request.json, dict) else {}
        turn = self._cached(request, turn)
        message = {
            "id": new_id("msg_01"),
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude-unknown"),
            "content": _blocks(turn, self.signature_for),
            "stop_reason": _stop_reason(turn),
            "stop_sequence": turn.stop_sequence if _stop_reason(turn) == "stop_sequence" else None,
            "usage": _usage(turn),
        }
        if not body.get("stream"):
            return JsonPlan(message)
        return StreamPlan(
            events=_stream_events(message, turn),
            content_type="text/event-stream; charset=utf-8",
            error=_stream_error,
        )


def _rate_limit_headers(now: datetime) -> dict[str, str]:
    """Anthropic's rate-limit headers: fixed numbers, the resets a second after ``now``."""
    reset = (now + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "anthropic-ratelimit-requests-limit": "4000",
        "anthropic-ratelimit-requests-remaining": "3999",
        "anthropic-ratelimit-requests-reset": reset,
        "anthropic-ratelimit-tokens-limit": "400000",
        "anthropic-ratelimit-tokens-remaining": "399000",
        "anthropic-ratelimit-tokens-reset": reset,
    }


def _final_turn_without_thinking(body: dict[str, Any], messages: list[Any]) -> str | None:
    """The real API's rule for a tool-use loop with thinking on: the final assistant turn
    (the one whose tool results the request carries) must start with a thinking block."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive"):
        return None
    last = messages[-1] if messages else None
    if not isinstance(last, dict) or last.get("role") != "user":
        return None
    results = [b for b in last.get("content") or () if isinstance(b, dict)]
    if not any(b.get("type") == "tool_result" for b in results):
        return None
    i = len(messages) - 2
    turn = messages[i] if i >= 0 else None
    blocks = turn.get("content") if isinstance(turn, dict) else None
    if not isinstance(blocks, list) or not blocks:
        return None
    first = blocks[0].get("type") if isinstance(blocks[0], dict) else None
    if first in ("thinking", "redacted_thinking"):
        return None
    return (
        f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
        f"`{first}`. When `thinking` is enabled, a final `assistant` message must start with a "
        "thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks)."
    )


def _usage(turn: Turn) -> dict[str, Any]:
    uncached = max(0, turn.input_tokens - turn.cache_read_tokens - turn.cache_write_tokens)
    return {
        "input_tokens": uncached,
        "cache_creation_input_tokens": turn.cache_write_tokens,
        "cache_read_input_tokens": turn.cache_read_tokens,
        # The writes split by TTL; cache_creation_input_tokens is their sum.
        "cache_creation": {
            "ephemeral_5m_input_tokens": turn.cache_write_tokens - turn.cache_write_1h_tokens,
            "ephemeral_1h_input_tokens": turn.cache_write_1h_tokens,
        },
        "output_tokens": turn.output_tokens,
        "service_tier": "standard",
    }


def _stop_reason(turn: Turn) -> str:
    if turn.finish_reason == "stop" and turn.stop_sequence is not None:
        return "stop_sequence"
    return _STOP_REASONS[turn.finish_reason]


def _blocks(turn: Turn, sign: Callable[[str], str]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if turn.thinking is not None:
        blocks.append(
            {"type": "thinking", "thinking": turn.thinking, "signature": sign(turn.thinking)}
        )
    if turn.text or not turn.tool_calls:
        blocks.append({"type": "text", "text": turn.text, "citations": None})
    for call in turn.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        )
    return blocks


def _sse(event_type: str, payload: dict[str, Any]) -> bytes:
    return f"event: {event_type}\ndata: {json.dumps(payload)}\n\n".encode()


def _block_start(block: dict[str, Any]) -> dict[str, Any]:
    """The block as content_block_start announces it: everything streamed later left empty."""
    if block["type"] == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}
    if block["type"] == "text":
        return {"type": "text", "text": "", "citations": None}
    return {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}


def _block_deltas(block: dict[str, Any]) -> list[dict[str, Any]]:
    if block["type"] == "thinking":
        deltas = [
            {"type": "thinking_delta", "thinking": piece} for piece in split_text(block["thinking"])
        ]
        return deltas + [{"type": "signature_delta", "signature": block["signature"]}]
    if block["type"] == "text":
        return [{"type": "text_delta", "text": piece} for piece in split_text(block["text"])]
    arguments = json.dumps(block["input"])
    return [{"type": "input_json_delta", "partial_json": piece} for piece in split_fixed(arguments)]


def _stream_events(message: dict[str, Any], turn: Turn) -> list[Event]:
    start = dict(message, content=[], stop_reason=None, stop_sequence=None)
    start["usage"] = dict(message["usage"], output_tokens=1)
    events = [Event(_sse("message_start", {"type": "message_start", "message": start}))]
    for index, block in enumerate(message["content"]):
        events.append(
            Event(
                _sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": _block_start(block),
                    },
                )
            )
        )
        if index == 0:
            events.append(Event(_sse("ping", {"type": "ping"})))
        for delta in _block_deltas(block):
            payload = {"type": "content_block_delta", "index": index, "delta": delta}
            events.append(Event(_sse("content_block_delta", payload), content=True))
        events.append(
            Event(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        )
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    events.append(
        Event(
            _sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": delta,
                    "usage": {"output_tokens": turn.output_tokens},
                },
            )
        )
    )
    events.append(Event(_sse("message_stop", {"type": "message_stop"})))
    return events


def _stream_error(_sent: int, fault: Fault) -> list[bytes]:
    error = {"type": fault.error_type or "api_error", "message": fault.message or "Internal error"}
    return [_sse("error", {"type": "error", "error": error})]


def _display_name(model_id: str) -> str:
    words: list[str] = []
    numbers: list[str] = []
    for part in model_id.split("-"):
        if part.isdigit() and len(part) < 8:
            numbers.append(part)
        elif not part.isdigit():
            words.append(part.capitalize())
    return " ".join(words + ([".".join(numbers)] if numbers else []))


def _model_info(model_id: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": _display_name(model_id),
        "created_at": "2025-01-01T00:00:00Z",
        "lifecycle": "active",
        "max_input_tokens": 200000,
        "max_tokens": 64000,
    }


def _text_length(value: object) -> int:
    """Characters of prompt text in a request field, structure keys left out."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_text_length(item) for item in value)
    if isinstance(value, dict):
        return sum(_text_length(item) for key, item in value.items() if key not in _NOT_TEXT)
    return 0

"""Our chat types to and from Ollama's ``/api/chat`` and ``/api/embed``, as pure functions.

Ollama differs from OpenAI in ways that bite: images are bare base64 (it fetches no URLs),
tool calls carry no ids and their arguments are objects, a tool result names the *tool*, not
the call, sampling goes in ``options`` — and the context window is whatever ``num_ctx`` says
(a small default), silently cutting longer prompts. So we always set ``num_ctx`` from the
prompt's size, in steps (a new size reloads the model), never above the model's window.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from cortexd.routing.providers.chat import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Delta,
    FinishReason,
    Reasoning,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from cortexd.routing.providers.errors import UnsupportedRequestError
from cortexd.routing.providers.stream import StreamSummary

#: num_ctx sizes we choose from; each new size makes Ollama reload the model.
_CTX_STEPS = (4096, 8192, 16384, 32768, 65536, 131072, 262144)
#: Tokens we expect an answer to need when the request sets no max_tokens.
DEFAULT_ANSWER_TOKENS = 1024
_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length"}


def estimate_tokens(chars: int, messages: int) -> int:
    """A generous token estimate (3 characters a token, plus each message's framing)."""
    return chars // 3 + 8 * messages + 16


def choose_num_ctx(
    prompt_tokens: int, max_tokens: int | None, window: int | None, previous: int = 0
) -> int:
    """The context size to ask for: the smallest step that holds prompt and answer.

    Never smaller than the size used before for this model (shrinking would reload it),
    never above the model's `window`.

    >>> choose_num_ctx(1000, None, 131072)
    4096
    >>> choose_num_ctx(9000, 2000, 131072)
    16384
    >>> choose_num_ctx(9000, 2000, 8192)
    8192
    >>> choose_num_ctx(100, None, 131072, previous=32768)
    32768
    """
    need = prompt_tokens + (max_tokens or DEFAULT_ANSWER_TOKENS)
    size = next((s for s in _CTX_STEPS if s >= need), _CTX_STEPS[-1])
    size = max(size, previous)
    return min(size, window) if window else size


def _tool_names(messages: tuple[ChatMessage, ...]) -> dict[str, str]:
    return {c.id: c.name for m in messages for c in m.tool_calls}


def _message(message: ChatMessage, names: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.text}
    images = []
    for image in message.images:
        inline = image.inline
        if inline is None:
            raise UnsupportedRequestError(
                "Ollama takes images as data, not URLs: send a data: URL",
                provider="ollama",
                status=None,
            )
        images.append(inline[1])
    if images:
        out["images"] = images
    if message.tool_calls:
        out["tool_calls"] = [
            {"function": {"name": c.name, "arguments": c.parsed_arguments()}}
            for c in message.tool_calls
        ]
    if message.role == "tool":
        out["tool_name"] = names.get(message.tool_call_id or "", message.name or "")
    if message.reasoning:
        out["thinking"] = "".join(r.text for r in message.reasoning if not r.redacted)
    return out


def to_ollama(request: ChatRequest, num_ctx: int) -> dict[str, Any]:
    """The keyword arguments for ``AsyncClient.chat`` (without ``stream``)."""
    names = _tool_names(request.messages)
    options: dict[str, Any] = {"num_ctx": num_ctx}
    if request.max_tokens is not None:
        options["num_predict"] = request.max_tokens
    if request.temperature is not None:
        options["temperature"] = request.temperature
    if request.top_p is not None:
        options["top_p"] = request.top_p
    if request.stop:
        options["stop"] = list(request.stop)
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [_message(m, names) for m in request.messages],
        "options": options,
    }
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": dict(t.parameters),
                },
            }
            for t in request.tools
        ]
    fmt = request.response_format
    if fmt is not None and fmt.kind == "json_schema" and fmt.schema is not None:
        body["format"] = dict(fmt.schema)
    elif fmt is not None and fmt.wants_json:
        body["format"] = "json"
    if request.reasoning is not None:
        effort = request.reasoning.effort
        body["think"] = effort if effort in ("low", "medium", "high") else True
    return body


def usage_from(data: Mapping[str, Any]) -> Usage:
    """Our usage from a final chat chunk (``prompt_eval_count``, ``eval_count``)."""
    return Usage(
        input_tokens=int(data.get("prompt_eval_count") or 0),
        output_tokens=int(data.get("eval_count") or 0),
    )


def truncation_warning(data: Mapping[str, Any], num_ctx: int) -> str | None:
    """A warning when what Ollama evaluated filled the context we gave it.

    We size num_ctx to hold prompt and answer, so a full context means Ollama cut the
    prompt (it does so silently) or the answer ran into the window.

    >>> truncation_warning({"prompt_eval_count": 4090, "eval_count": 6}, 4096) is not None
    True
    >>> truncation_warning({"prompt_eval_count": 900, "eval_count": 40}, 4096) is None
    True
    """
    evaluated = int(data.get("prompt_eval_count") or 0)
    produced = int(data.get("eval_count") or 0)
    if evaluated + produced < num_ctx - 16:
        return None
    return (
        f"ollama: the context window filled up (num_ctx {num_ctx}, prompt {evaluated} tokens"
        f" evaluated, {produced} generated): the prompt was probably truncated"
    )


def _calls(message: Mapping[str, Any]) -> tuple[ToolCall, ...]:
    calls = []
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        # Ollama gives calls no ids; clients match results by id, so make unique ones.
        call_id = call.get("id") or f"call_{uuid.uuid4().hex[:24]}"
        calls.append(
            ToolCall(
                call_id, function.get("name") or "", json.dumps(function.get("arguments") or {})
            )
        )
    return tuple(calls)


def _finish(data: Mapping[str, Any], has_calls: bool) -> FinishReason:
    if has_calls:
        return "tool_calls"
    return _FINISH.get(data.get("done_reason") or "stop", "stop")


def from_ollama(data: Mapping[str, Any], num_ctx: int) -> ChatResponse:
    """Our response from a non-streamed ``/api/chat`` answer."""
    message = data.get("message") or {}
    calls = _calls(message)
    thinking = message.get("thinking")
    warning = truncation_warning(data, num_ctx)
    return ChatResponse(
        model=data.get("model") or "",
        text=message.get("content") or "",
        tool_calls=calls,
        reasoning=(Reasoning(thinking),) if thinking else (),
        finish_reason=_finish(data, bool(calls)),
        usage=usage_from(data),
        provider_finish=data.get("done_reason"),
        warnings=(warning,) if warning else (),
    )


def load_seconds(data: Mapping[str, Any]) -> float:
    """A final chunk's ``load_duration`` (nanoseconds) in seconds.

    >>> load_seconds({"load_duration": 2_500_000_000}), load_seconds({})
    (2.5, 0.0)
    """
    return int(data.get("load_duration") or 0) / 1e9


class OllamaStreamDecoder:
    """Turns ``/api/chat`` NDJSON chunks into our deltas; `finished` at the ``done`` chunk."""

    def __init__(self, num_ctx: int) -> None:
        self.finished = False
        self._num_ctx = num_ctx
        self._final: Mapping[str, Any] = {}
        self._model = ""
        self._calls = 0

    def feed(self, chunk: Mapping[str, Any]) -> list[Delta]:
        """The deltas one chunk carries."""
        self._model = chunk.get("model") or self._model
        message = chunk.get("message") or {}
        out: list[Delta] = []
        if message.get("thinking"):
            out.append(ReasoningDelta(message["thinking"]))
        if message.get("content"):
            out.append(TextDelta(message["content"]))
        for call in _calls(message):
            out.append(ToolCallDelta(self._calls, call.id, call.name, call.arguments))
            self._calls += 1
        if chunk.get("done"):
            self.finished = True
            self._final = chunk
        return out

    @property
    def load_seconds(self) -> float:
        """How long Ollama spent loading the model for this answer (``load_duration``)."""
        return load_seconds(self._final)

    def summary(self) -> StreamSummary:
        """Usage, finish reason and a truncation warning from the ``done`` chunk."""
        warning = truncation_warning(self._final, self._num_ctx)
        return StreamSummary(
            model=self._model,
            usage=usage_from(self._final),
            finish_reason=_finish(self._final, self._calls > 0),
            provider_finish=self._final.get("done_reason"),
            warnings=(warning,) if warning else (),
        )

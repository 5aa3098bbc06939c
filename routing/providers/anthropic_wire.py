"""Our chat types to and from Anthropic's Messages API (JSON as documented), as pure functions.

What differs from the OpenAI shape, and is translated here: the system prompt is a field, not
a message; tool results are ``tool_result`` blocks inside a *user* message; tool calls are
``tool_use`` blocks whose input is an object, not JSON text; consecutive messages of one role
are merged; thinking blocks carry a signature that must be sent back unchanged; the input
token count excludes cached tokens; and ``max_tokens`` is required.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cortexd.routing.providers.chat import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Delta,
    FinishReason,
    ImagePart,
    Reasoning,
    ReasoningDelta,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from cortexd.routing.providers.stream import StreamSummary

#: Anthropic insists on max_tokens; enough for a long answer without inviting runaways.
DEFAULT_MAX_TOKENS = 8192
#: Our efforts as Anthropic's ``output_config.effort`` (it has no "minimal").
_EFFORT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high"}
_MIN_THINKING_BUDGET = 1024
_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_JSON_ONLY = "Answer with a single JSON object and nothing else: no prose, no code fences."


def answer_cap(request: ChatRequest) -> int:
    """The ``max_tokens`` Anthropic is sent for `request`: the most it can answer (and bill).

    >>> answer_cap(ChatRequest("m", (), max_tokens=300)), answer_cap(ChatRequest("m", ()))
    (300, 8192)
    """
    max_tokens = request.max_tokens or DEFAULT_MAX_TOKENS
    reasoning = request.reasoning
    if reasoning is not None and reasoning.budget_tokens is not None:
        budget = max(_MIN_THINKING_BUDGET, reasoning.budget_tokens)
        max_tokens = max(max_tokens, budget + 1024)  # the budget must stay below max_tokens
    return max_tokens


def to_anthropic(request: ChatRequest) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The keyword arguments for ``messages.create`` and warnings about dropped parameters."""
    warnings: list[str] = []
    max_tokens = answer_cap(request)
    body: dict[str, Any] = {"model": request.model}
    system = [_text_block(p) for m in request.messages if m.role == "system" for p in m.content]
    system = [b for b in system if b is not None]
    fmt = request.response_format
    config: dict[str, Any] = {}
    if fmt is not None and fmt.kind == "json_schema" and fmt.schema is not None:
        config["format"] = {"type": "json_schema", "schema": dict(fmt.schema)}
    elif fmt is not None and fmt.wants_json:
        system.append({"type": "text", "text": _JSON_ONLY})
    if system:
        body["system"] = system
    body["messages"] = _messages(request.messages)
    if request.reasoning is not None:
        effort, budget = request.reasoning.effort, request.reasoning.budget_tokens
        display = "summarized" if request.reasoning.summary else "omitted"
        if budget is not None:
            budget = max(_MIN_THINKING_BUDGET, budget)
            body["thinking"] = {"type": "enabled", "budget_tokens": budget, "display": display}
        else:
            body["thinking"] = {"type": "adaptive", "display": display}
        if effort is not None:
            config["effort"] = _EFFORT[effort]
    if config:
        body["output_config"] = config
    body["max_tokens"] = max_tokens
    if request.temperature is not None or request.top_p is not None:
        # Current Claude models take no sampling parameters (the SDK no longer has them).
        warnings.append("anthropic: temperature and top_p are not supported and were ignored")
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.tools:
        body["tools"] = [_tool(t.name, t.description, t.parameters) for t in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = _tool_choice(request.tool_choice.mode, request.tool_choice.name)
    if request.cache_prompt:
        _cache_breakpoints(body)
    if request.user:
        body["metadata"] = {"user_id": request.user}
    return body, tuple(warnings)


#: Anthropic takes at most this many `cache_control` breakpoints in one request.
MAX_CACHE_BREAKPOINTS = 4


def _cache_breakpoints(body: dict[str, Any]) -> None:
    """Ask Anthropic to cache the prompt where its structure makes a prefix stable: a
    breakpoint at the end of the system prompt (tools and system, which every turn of a
    session repeats, are found again even when its history changes, as it does when it
    crosses providers), and automatic caching for the rest (the API moves that breakpoint
    to the last block, and finds the previous turn's within 20 blocks of it)."""
    system = body.get("system") or body.get("tools")
    marks = sum(
        1
        for key in ("system", "tools", "messages")
        for item in body.get(key) or ()
        for block in (item.get("content") if key == "messages" else [item]) or ()
        if isinstance(block, dict) and "cache_control" in block
    )
    if system and marks + 2 <= MAX_CACHE_BREAKPOINTS and "cache_control" not in system[-1]:
        system[-1] = {**system[-1], "cache_control": {"type": "ephemeral"}}
        marks += 1
    if marks < MAX_CACHE_BREAKPOINTS:
        body["cache_control"] = {"type": "ephemeral"}


def _tool(name: str, description: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": name, "input_schema": dict(schema)}
    if description:
        tool["description"] = description
    return tool


def _tool_choice(mode: str, name: str | None) -> dict[str, Any]:
    if mode == "tool":
        return {"type": "tool", "name": name}
    return {"type": {"required": "any"}.get(mode, mode)}


def _text_block(part: TextPart | ImagePart) -> dict[str, Any] | None:
    if isinstance(part, ImagePart):
        inline = part.inline
        if inline is None:
            return {"type": "image", "source": {"type": "url", "url": part.url}}
        media_type, data = inline
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    if not part.text:
        return None  # the API rejects empty text blocks
    block: dict[str, Any] = {"type": "text", "text": part.text}
    if part.cache:
        block["cache_control"] = {"type": "ephemeral"}
    return block


def _blocks(message: ChatMessage) -> list[dict[str, Any]]:
    if message.role == "tool":
        content = [b for b in map(_text_block, message.content) if b is not None]
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
        if content:
            result["content"] = content
        return [result]
    blocks: list[dict[str, Any]] = []
    for r in message.reasoning:
        if r.redacted:
            blocks.append({"type": "redacted_thinking", "data": r.text})
        elif r.signature:  # unsigned thinking (from another provider) cannot be sent back
            blocks.append({"type": "thinking", "thinking": r.text, "signature": r.signature})
    blocks.extend(b for b in map(_text_block, message.content) if b is not None)
    blocks.extend(
        {"type": "tool_use", "id": c.id, "name": c.name, "input": c.parsed_arguments()}
        for c in message.tool_calls
    )
    return blocks


def _messages(messages: tuple[ChatMessage, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            # Tool results come first in their user turn, as the API expects.
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def usage_from(data: Mapping[str, Any] | None) -> Usage:
    """Our usage from Anthropic's; its input_tokens leave out the cached prompt tokens."""
    if not data:
        return Usage()
    cache_read = int(data.get("cache_read_input_tokens") or 0)
    cache_write = int(data.get("cache_creation_input_tokens") or 0)
    details = data.get("output_tokens_details") or {}
    thinking = data.get("thinking_tokens") or details.get("thinking_tokens") or 0
    hour = (data.get("cache_creation") or {}).get("ephemeral_1h_input_tokens") or 0
    return Usage(
        input_tokens=int(data.get("input_tokens") or 0) + cache_read + cache_write,
        output_tokens=int(data.get("output_tokens") or 0),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=int(thinking),
        cache_write_1h_tokens=int(hour),
    )


def finish_from(stop_reason: str | None) -> FinishReason:
    """Our finish reason for Anthropic's stop_reason."""
    return _FINISH.get(stop_reason or "end_turn", "stop")


def from_anthropic(message: Mapping[str, Any]) -> ChatResponse:
    """Our response from a Messages API ``message`` object."""
    text: list[str] = []
    calls: list[ToolCall] = []
    reasoning: list[Reasoning] = []
    for block in message.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            text.append(block.get("text") or "")
        elif kind == "tool_use":
            arguments = json.dumps(block.get("input") or {})
            calls.append(ToolCall(block["id"], block["name"], arguments))
        elif kind == "thinking":
            reasoning.append(Reasoning(block.get("thinking") or "", block.get("signature")))
        elif kind == "redacted_thinking":
            reasoning.append(Reasoning(block.get("data") or "", redacted=True))
    stop = message.get("stop_reason")
    return ChatResponse(
        model=message.get("model") or "",
        text="".join(text),
        tool_calls=tuple(calls),
        reasoning=tuple(reasoning),
        finish_reason=finish_from(stop),
        usage=usage_from(message.get("usage")),
        response_id=message.get("id"),
        provider_finish=stop,
    )


class AnthropicStreamDecoder:
    """Turns Messages API stream events (as JSON objects) into our deltas.

    Feed it every event in order; `summary()` is valid once ``message_stop`` was seen
    (`finished`). Tool calls are numbered in the order their blocks start.
    """

    def __init__(self) -> None:
        self.finished = False
        self._model = ""
        self._id: str | None = None
        self._usage: dict[str, Any] = {}
        self._stop: str | None = None
        self._tool_index: dict[int, int] = {}  # content block index -> our tool call index

    def feed(self, event: Mapping[str, Any]) -> list[Delta]:
        """The deltas one event carries (often none)."""
        kind = event.get("type")
        if kind == "content_block_delta":
            return self._delta(int(event.get("index", 0)), event.get("delta") or {})
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = len(self._tool_index)
                self._tool_index[int(event.get("index", 0))] = index
                return [ToolCallDelta(index, block.get("id"), block.get("name"))]
            if block.get("type") == "redacted_thinking":
                return [ReasoningDelta(block.get("data") or "", redacted=True)]
            if block.get("type") == "text" and block.get("text"):
                return [TextDelta(block["text"])]
            return []
        if kind == "message_start":
            message = event.get("message") or {}
            self._model = message.get("model") or ""
            self._id = message.get("id")
            self._usage.update({k: v for k, v in (message.get("usage") or {}).items() if v})
        elif kind == "message_delta":
            self._stop = (event.get("delta") or {}).get("stop_reason") or self._stop
            # message_delta's usage is cumulative: its counts replace message_start's.
            self._usage.update({k: v for k, v in (event.get("usage") or {}).items() if v})
        elif kind == "message_stop":
            self.finished = True
        return []

    def _delta(self, index: int, delta: Mapping[str, Any]) -> list[Delta]:
        kind = delta.get("type")
        if kind == "text_delta":
            return [TextDelta(delta.get("text") or "")]
        if kind == "thinking_delta":
            return [ReasoningDelta(delta.get("thinking") or "")]
        if kind == "signature_delta":
            return [ReasoningDelta("", delta.get("signature"))]
        if kind == "input_json_delta" and index in self._tool_index:
            return [ToolCallDelta(self._tool_index[index], arguments=delta.get("partial_json", ""))]
        return []

    def summary(self) -> StreamSummary:
        """What the stream said about itself: model, id, usage, stop reason."""
        return StreamSummary(
            model=self._model,
            response_id=self._id,
            usage=usage_from(self._usage),
            finish_reason=finish_from(self._stop),
            provider_finish=self._stop,
        )

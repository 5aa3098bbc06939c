"""Our chat types to and from OpenAI Chat Completions (JSON as documented), as pure functions.

Our types are close to this shape; what is translated: ``max_completion_tokens`` (the
reasoning models refuse ``max_tokens``), a reasoning budget becomes an effort, streaming asks
for usage in a last chunk (``stream_options.include_usage``), and ``prompt_tokens`` already
include the cached ones.
"""

from __future__ import annotations

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
    ReasoningConfig,
    ReasoningDelta,
    ResponseFormat,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolSpec,
    Usage,
)
from cortexd.routing.providers.stream import StreamSummary, UpstreamStreamError

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def effort_for(reasoning: ReasoningConfig) -> str:
    """An OpenAI reasoning effort for our config; a token budget is read as an effort.

    >>> effort_for(ReasoningConfig(budget_tokens=4000))
    'medium'
    >>> effort_for(ReasoningConfig(effort="minimal"))
    'minimal'
    """
    if reasoning.effort is not None:
        return reasoning.effort
    budget = reasoning.budget_tokens or 8192
    return "low" if budget <= 2048 else "medium" if budget <= 8192 else "high"


def tool_choice_value(choice: ToolChoice, *, flat: bool = False) -> Any:
    """OpenAI's tool_choice; the Responses API names the function at the top level (`flat`)."""
    if choice.mode != "tool":
        return choice.mode
    if flat:
        return {"type": "function", "name": choice.name}
    return {"type": "function", "function": {"name": choice.name}}


def _tool(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": dict(tool.parameters)}
    if tool.description:
        function["description"] = tool.description
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _format(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt.kind == "json_schema" and fmt.schema is not None:
        schema: dict[str, Any] = {"name": fmt.name, "schema": dict(fmt.schema)}
        if fmt.strict is not None:
            schema["strict"] = fmt.strict
        return {"type": "json_schema", "json_schema": schema}
    return {"type": fmt.kind if fmt.kind != "json_schema" else "json_object"}


def _content(message: ChatMessage) -> str | list[dict[str, Any]]:
    if not message.images:
        return message.text
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, ImagePart):
            image: dict[str, Any] = {"url": part.url}
            if part.detail:
                image["detail"] = part.detail
            parts.append({"type": "image_url", "image_url": image})
        elif part.text:
            parts.append({"type": "text", "text": part.text})
    return parts


def _message(message: ChatMessage) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text}
    out: dict[str, Any] = {"role": message.role, "content": _content(message)}
    if message.role == "assistant" and message.tool_calls:
        out["content"] = message.text or None
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.name:
        out["name"] = message.name
    return out


def to_chat(request: ChatRequest, *, stream: bool = False) -> dict[str, Any]:
    """The keyword arguments for ``chat.completions.create``."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [_message(m) for m in request.messages],
    }
    if request.max_tokens is not None:
        body["max_completion_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop"] = list(request.stop)
    if request.tools:
        body["tools"] = [_tool(t) for t in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = tool_choice_value(request.tool_choice)
    if request.response_format is not None and request.response_format.wants_json:
        body["response_format"] = _format(request.response_format)
    if request.reasoning is not None:
        body["reasoning_effort"] = effort_for(request.reasoning)
    if request.user:
        body["user"] = request.user
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def usage_from(data: Mapping[str, Any] | None) -> Usage:
    """Our usage from Chat Completions' (prompt_tokens include the cached ones)."""
    if not data:
        return Usage()
    prompt = data.get("prompt_tokens_details") or {}
    completion = data.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=int(data.get("prompt_tokens") or 0),
        output_tokens=int(data.get("completion_tokens") or 0),
        cache_read_tokens=int(prompt.get("cached_tokens") or 0),
        reasoning_tokens=int(completion.get("reasoning_tokens") or 0),
    )


def _calls(raw: Any) -> tuple[ToolCall, ...]:
    calls = []
    for call in raw or ():
        function = call.get("function") or {}
        calls.append(
            ToolCall(
                call.get("id") or "", function.get("name") or "", function.get("arguments") or "{}"
            )
        )
    return tuple(calls)


def from_chat(completion: Mapping[str, Any]) -> ChatResponse:
    """Our response from a ``chat.completion`` object (its first choice)."""
    choices = completion.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message") or {}
    finish = choice.get("finish_reason")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    return ChatResponse(
        model=completion.get("model") or "",
        text=message.get("content") or message.get("refusal") or "",
        tool_calls=_calls(message.get("tool_calls")),
        reasoning=(Reasoning(reasoning),) if isinstance(reasoning, str) and reasoning else (),
        finish_reason=_FINISH.get(finish or "stop", "stop"),
        usage=usage_from(completion.get("usage")),
        response_id=completion.get("id"),
        provider_finish=finish,
    )


class ChatStreamDecoder:
    """Turns ``chat.completion.chunk`` objects into our deltas.

    The stream is `finished` once a choice reported its finish_reason; the usage chunk that
    follows (empty choices) fills in the tokens. An ``error`` object inside the stream
    raises `UpstreamStreamError`.
    """

    def __init__(self) -> None:
        self.finished = False
        self._model = ""
        self._id: str | None = None
        self._usage: Mapping[str, Any] | None = None
        self._finish: str | None = None

    def feed(self, chunk: Mapping[str, Any]) -> list[Delta]:
        """The deltas one chunk carries."""
        error = chunk.get("error")
        if isinstance(error, Mapping):
            raise UpstreamStreamError(error.get("type"), error.get("code"), error.get("message"))
        self._model = chunk.get("model") or self._model
        self._id = chunk.get("id") or self._id
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        out: list[Delta] = []
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            thought = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(thought, str) and thought:
                out.append(ReasoningDelta(thought))
            if delta.get("content"):
                out.append(TextDelta(delta["content"]))
            if delta.get("refusal"):
                out.append(TextDelta(delta["refusal"]))
            for call in delta.get("tool_calls") or ():
                function = call.get("function") or {}
                out.append(
                    ToolCallDelta(
                        int(call.get("index", 0)),
                        call.get("id"),
                        function.get("name"),
                        function.get("arguments") or "",
                    )
                )
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
                self.finished = True
        return out

    def summary(self) -> StreamSummary:
        """Model, id, usage and finish reason as the stream reported them."""
        return StreamSummary(
            model=self._model,
            response_id=self._id,
            usage=usage_from(self._usage),
            finish_reason=_FINISH.get(self._finish or "stop", "stop"),
            provider_finish=self._finish,
        )

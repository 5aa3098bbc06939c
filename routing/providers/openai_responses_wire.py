"""Our chat types to and from OpenAI's Responses API, where the Codex models are served.

The Responses shape differs from Chat Completions: the system prompt is ``instructions``,
the conversation is a list of *items* (messages, ``function_call``, ``function_call_output``),
tools are flat (``{"type": "function", "name": …}``) and strict unless told otherwise, JSON
output is ``text.format``, and the stream is typed events ending with ``response.completed``
(no ``[DONE]``). We send ``store: false``: nothing is kept on OpenAI's side for later turns.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
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
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    Usage,
)
from cortexd.routing.providers.openai_wire import effort_for, tool_choice_value
from cortexd.routing.providers.stream import StreamSummary, UpstreamStreamError


def _tool(tool: ToolSpec) -> dict[str, Any]:
    # The Responses API makes tools strict by default, which rejects most hand-written
    # schemas (every property required, no additional ones): strict only when asked.
    out: dict[str, Any] = {
        "type": "function",
        "name": tool.name,
        "parameters": dict(tool.parameters),
        "strict": bool(tool.strict),
    }
    if tool.description:
        out["description"] = tool.description
    return out


def _items(message: ChatMessage) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {
                "type": "function_call_output",
                "call_id": message.tool_call_id,
                "output": message.text,
            }
        ]
    items: list[dict[str, Any]] = []
    if message.role == "assistant":
        if message.text:
            items.append({"role": "assistant", "content": message.text})
        items.extend(
            {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments}
            for c in message.tool_calls
        )
        return items
    if not message.images:
        return [{"role": message.role, "content": message.text}]
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, ImagePart):
            parts.append(
                {"type": "input_image", "image_url": part.url, "detail": part.detail or "auto"}
            )
        elif part.text:
            parts.append({"type": "input_text", "text": part.text})
    return [{"role": message.role, "content": parts}]


def uses_responses(model: str, responses_models: Collection[str] = ()) -> bool:
    """Whether a model is served by the Responses API (Codex models are served only there).

    >>> uses_responses("gpt-5.3-codex"), uses_responses("gpt-4o")
    (True, False)
    """
    return model in responses_models or "codex" in model.casefold()


def to_responses(request: ChatRequest) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The keyword arguments for ``responses.create``, and warnings about dropped parameters."""
    warnings: list[str] = []
    body: dict[str, Any] = {"model": request.model, "store": False}
    if request.system:
        body["instructions"] = request.system
    body["input"] = [i for m in request.messages if m.role != "system" for i in _items(m)]
    if request.max_tokens is not None:
        body["max_output_tokens"] = request.max_tokens
    if request.temperature is not None or request.top_p is not None:
        # The reasoning models served here refuse sampling parameters with a 400.
        warnings.append(
            "openai responses: temperature and top_p are not supported and were ignored"
        )
    if request.stop:
        warnings.append("openai responses: stop sequences are not supported and were ignored")
    if request.tools:
        body["tools"] = [_tool(t) for t in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = tool_choice_value(request.tool_choice, flat=True)
    fmt = request.response_format
    if fmt is not None and fmt.kind == "json_schema" and fmt.schema is not None:
        spec: dict[str, Any] = {"type": "json_schema", "name": fmt.name, "schema": dict(fmt.schema)}
        if fmt.strict is not None:
            spec["strict"] = fmt.strict
        body["text"] = {"format": spec}
    elif fmt is not None and fmt.wants_json:
        body["text"] = {"format": {"type": "json_object"}}
    if request.reasoning is not None:
        reasoning: dict[str, Any] = {"effort": effort_for(request.reasoning)}
        if request.reasoning.summary:
            reasoning["summary"] = "auto"
        body["reasoning"] = reasoning
    if request.user:
        body["safety_identifier"] = request.user
    return body, tuple(warnings)


def usage_from(data: Mapping[str, Any] | None) -> Usage:
    """Our usage from a Response's (input_tokens include the cached ones)."""
    if not data:
        return Usage()
    inp = data.get("input_tokens_details") or {}
    out = data.get("output_tokens_details") or {}
    return Usage(
        input_tokens=int(data.get("input_tokens") or 0),
        output_tokens=int(data.get("output_tokens") or 0),
        cache_read_tokens=int(inp.get("cached_tokens") or 0),
        reasoning_tokens=int(out.get("reasoning_tokens") or 0),
    )


def _finish(response: Mapping[str, Any], has_calls: bool) -> tuple[FinishReason, str | None]:
    status = response.get("status")
    if status == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return ("content_filter" if reason == "content_filter" else "length"), reason
    return ("tool_calls" if has_calls else "stop"), status


def from_responses(response: Mapping[str, Any]) -> ChatResponse:
    """Our response from a Responses API ``response`` object."""
    text: list[str] = []
    calls: list[ToolCall] = []
    reasoning: list[Reasoning] = []
    for item in response.get("output") or ():
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or ():
                if part.get("type") == "output_text":
                    text.append(part.get("text") or "")
                elif part.get("type") == "refusal":
                    text.append(part.get("refusal") or "")
        elif kind == "function_call":
            calls.append(
                ToolCall(
                    item.get("call_id") or "", item.get("name") or "", item.get("arguments") or "{}"
                )
            )
        elif kind == "reasoning":
            summary = "".join(s.get("text") or "" for s in item.get("summary") or ())
            if summary:
                reasoning.append(Reasoning(summary))
    finish, provider_finish = _finish(response, bool(calls))
    return ChatResponse(
        model=response.get("model") or "",
        text="".join(text),
        tool_calls=tuple(calls),
        reasoning=tuple(reasoning),
        finish_reason=finish,
        usage=usage_from(response.get("usage")),
        response_id=response.get("id"),
        provider_finish=provider_finish,
    )


class ResponsesStreamDecoder:
    """Turns Responses API stream events into our deltas.

    `finished` once ``response.completed`` or ``response.incomplete`` arrived;
    ``response.failed`` and ``error`` events raise `UpstreamStreamError`.
    """

    def __init__(self) -> None:
        self.finished = False
        self._final: Mapping[str, Any] = {}
        self._model = ""
        self._id: str | None = None
        self._tool_index: dict[int, int] = {}  # output_index -> our tool call index

    def feed(self, event: Mapping[str, Any]) -> list[Delta]:
        """The deltas one event carries (often none)."""
        kind = event.get("type") or ""
        if kind == "response.output_text.delta" or kind == "response.refusal.delta":
            return [TextDelta(event.get("delta") or "")]
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            return [ReasoningDelta(event.get("delta") or "")]
        if kind == "response.function_call_arguments.delta":
            index = self._tool_index.get(int(event.get("output_index", 0)))
            return (
                [] if index is None else [ToolCallDelta(index, arguments=event.get("delta") or "")]
            )
        if kind == "response.output_item.added":
            item = event.get("item") or {}
            if item.get("type") == "function_call":
                index = len(self._tool_index)
                self._tool_index[int(event.get("output_index", 0))] = index
                return [
                    ToolCallDelta(
                        index, item.get("call_id"), item.get("name"), item.get("arguments") or ""
                    )
                ]
            return []
        if kind in ("response.created", "response.in_progress"):
            response = event.get("response") or {}
            self._model = response.get("model") or self._model
            self._id = response.get("id") or self._id
        elif kind in ("response.completed", "response.incomplete"):
            self._final = event.get("response") or {}
            self.finished = True
        elif kind == "response.failed":
            error = (event.get("response") or {}).get("error") or {}
            raise UpstreamStreamError(error.get("code"), error.get("code"), error.get("message"))
        elif kind == "error":
            raise UpstreamStreamError(event.get("code"), event.get("code"), event.get("message"))
        return []

    def summary(self) -> StreamSummary:
        """Model, id, usage and finish reason from the final response object."""
        has_calls = bool(self._tool_index)
        finish, provider_finish = _finish(self._final, has_calls)
        return StreamSummary(
            model=self._final.get("model") or self._model,
            response_id=self._final.get("id") or self._id,
            usage=usage_from(self._final.get("usage")),
            finish_reason=finish,
            provider_finish=provider_finish,
        )

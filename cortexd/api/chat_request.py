"""An OpenAI Chat Completions request body, validated, as our request and the router's view.

Unknown OpenAI parameters are accepted and ignored (clients send many), except the ones that
would choose where a request goes or with which credentials: those are refused
(`validation.parse_body`). What Chat Completions cannot serve is refused in `chat_served`.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from cortexd.api.errors import ApiError
from cortexd.api.ranges import MAX_OUTPUT_TOKENS
from cortexd.api.validation import _Model
from cortexd.routing import Message, RouteRequest
from cortexd.routing.providers import (
    ChatMessage,
    ChatRequest,
    ImagePart,
    ReasoningConfig,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)


class _Wire(_Model):
    """OpenAI's types, strictly: ``"5"`` is no ``max_tokens`` and ``1`` no boolean. OpenAI's
    API refuses them, and a body that goes through as written must not hold what was taken
    here only by coercion."""

    model_config = ConfigDict(extra="ignore", strict=True)


class _ImageUrl(_Wire):
    url: str = Field(min_length=1)
    detail: str | None = None


class _Part(_Wire):
    type: Literal["text", "image_url", "input_text"]
    text: str | None = None
    image_url: _ImageUrl | str | None = None


class _Function(_Wire):
    name: str = Field(min_length=1)
    arguments: str = "{}"


class _ToolCall(_Wire):
    id: str
    type: Literal["function"] = "function"
    function: _Function


class _Message(_Wire):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[_Part] | None = None
    tool_calls: list[_ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None


class _FunctionDef(_Wire):
    name: str = Field(min_length=1, max_length=128)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None


class _Tool(_Wire):
    type: Literal["function"] = "function"
    function: _FunctionDef


class CortexOptions(_Wire):
    """The ``cortex`` extension object of a request. Unlike OpenAI's own fields, a key here
    that cortexd does not know is refused: it is ours, so a misspelling (``tsak``) can only be
    a mistake, and ignored it would route the call as if it were not there."""

    task: str | None = None
    local_only: bool = False
    author: str | None = None
    client: str | None = None
    project: str | None = None
    second_opinion: bool = False

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = list(cls.model_fields)
            for key in data:
                if key not in known:
                    raise PydanticCustomError("unknown_key", unknown_key(str(key), known))
        return data


def unknown_key(key: str, known: list[str]) -> str:
    """The message for a key that is not one of `known`, naming the nearest.

    >>> unknown_key("tsak", ["task", "local_only"])
    "unknown key 'tsak'; did you mean 'task'? (the keys are task, local_only)"
    """
    near = difflib.get_close_matches(key.casefold(), known, n=1, cutoff=0.5)
    hint = f"; did you mean '{near[0]}'?" if near else ""
    shown = key.encode("utf-8", "backslashreplace").decode("utf-8")[:60]
    return f"unknown key '{shown}'{hint} (the keys are {', '.join(known)})"


class ChatBody(_Wire):
    """The request body of ``POST /v1/chat/completions``."""

    model: str = "auto"
    messages: list[_Message] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, gt=0, le=MAX_OUTPUT_TOKENS)
    max_completion_tokens: int | None = Field(default=None, gt=0, le=MAX_OUTPUT_TOKENS)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    # Not read here, but passed through to OpenAI as written: OpenAI's own ranges.
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = Field(default=None, ge=-(2**63), lt=2**63)
    # Honoured only where the body goes through as written (see `check_served`).
    n: int | None = Field(default=None, ge=1, le=128)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    stop: str | list[str] | None = None
    tools: list[_Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    user: str | None = None
    cortex: CortexOptions | None = None

    @field_validator("stop")
    @classmethod
    def _few_stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 16:
            raise ValueError("at most 16 stop sequences")
        return value


def _parts(content: str | list[_Part] | None) -> tuple[TextPart | ImagePart, ...]:
    if content is None:
        return ()
    if isinstance(content, str):
        return (TextPart(content),)
    parts: list[TextPart | ImagePart] = []
    for part in content:
        if part.type == "image_url":
            image = part.image_url
            if image is None:
                raise ApiError(400, "an image_url part needs its image_url", param="messages")
            url, detail = (image, None) if isinstance(image, str) else (image.url, image.detail)
            parts.append(ImagePart(url, detail))
        else:
            parts.append(TextPart(part.text or ""))
    return tuple(parts)


def _message(message: _Message) -> ChatMessage:
    role = "system" if message.role == "developer" else message.role
    calls = tuple(
        ToolCall(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or ()
    )
    if role == "tool" and not message.tool_call_id:
        raise ApiError(400, "a tool message needs its tool_call_id", param="messages")
    return ChatMessage(
        role,
        _parts(message.content),
        tool_calls=calls,
        tool_call_id=message.tool_call_id,
        name=message.name,
    )


def _tool_choice(value: str | dict[str, Any] | None) -> ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in ("auto", "none", "required"):
            raise ApiError(400, f"tool_choice '{value}' is not auto, none or required")
        return ToolChoice(value)  # type: ignore[arg-type]
    function = value.get("function")
    name = function.get("name") if isinstance(function, dict) else value.get("name")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "tool_choice names no function", param="tool_choice")
    return ToolChoice("tool", name)


def _format(value: dict[str, Any] | None) -> ResponseFormat | None:
    if value is None:
        return None
    kind = value.get("type")
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, dict):
            raise ApiError(400, "response_format.json_schema must be an object")
        schema = spec.get("schema")
        if not isinstance(schema, dict):
            raise ApiError(400, "response_format.json_schema.schema must be an object")
        return ResponseFormat(
            "json_schema", schema, spec.get("name") or "response", spec.get("strict")
        )
    if kind in ("json_object", "text"):
        return ResponseFormat(kind)
    raise ApiError(400, f"response_format type '{kind}' is not text, json_object or json_schema")


def _check_prompt(messages: tuple[ChatMessage, ...]) -> None:
    """An empty prompt is a 400: sent on, it would be answered (and billed) for nothing."""
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    if users and not messages[users[-1]].text.strip() and not messages[users[-1]].images:
        raise ApiError(
            400,
            f"messages.{users[-1]}.content: the last user message has no text: there is "
            "nothing to answer",
            param=f"messages.{users[-1]}.content",
            code="empty_prompt",
        )


def to_chat_request(body: ChatBody) -> ChatRequest:
    """Our request for the providers (the model is set per attempt by dispatch)."""
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    tools = tuple(
        ToolSpec(t.function.name, t.function.description, t.function.parameters, t.function.strict)
        for t in body.tools or ()
    )
    messages = tuple(_message(m) for m in body.messages)
    _check_prompt(messages)
    return ChatRequest(
        model=body.model,
        messages=messages,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=stop,
        tools=tools,
        tool_choice=_tool_choice(body.tool_choice),
        response_format=_format(body.response_format),
        reasoning=ReasoningConfig(effort=body.reasoning_effort) if body.reasoning_effort else None,
        user=body.user,
    )


def to_route_request(body: ChatBody, request: ChatRequest, user_agent: str | None) -> RouteRequest:
    """What the router needs: the messages' text, the model asked for and the cortex object."""
    options = body.cortex or CortexOptions()
    return RouteRequest(
        messages=tuple(Message(m.role, m.text) for m in request.messages),
        model=body.model,
        task=options.task,
        client=options.client or user_agent,
        author=options.author,
        local_only=options.local_only,
    )

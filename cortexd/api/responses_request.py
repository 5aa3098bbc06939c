"""An OpenAI Responses request: checked, read for routing, and kept as the client wrote it.

Item and tool types this module does not read (``web_search``, reasoning items with
``encrypted_content``) pass through to OpenAI untouched; our request type is built beside
the body for requirements, estimates and another provider's model, which gets the tools of
``namespace`` tools and ``additional_tools`` items flat (responses_tools.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from starlette.requests import Request

from cortexd.api.agent_words import person_turns, reworded
from cortexd.api.errors import ApiError
from cortexd.api.ranges import MAX_INT32, MAX_OUTPUT_TOKENS, Range, first_out_of_range
from cortexd.api.recording import client_name
from cortexd.api.responses_tools import ResponsesTools, read_tools
from cortexd.api.validation import FORBIDDEN
from cortexd.pipeline.call import Call
from cortexd.routing import Message, RouteRequest
from cortexd.routing.providers import (
    ChatMessage,
    ChatRequest,
    Forward,
    ImagePart,
    ReasoningConfig,
    TextPart,
    ToolCall,
)

_TEXT_PARTS = ("input_text", "output_text", "text")
_EFFORTS = ("minimal", "low", "medium", "high")
_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}


def check_body(data: object) -> dict[str, Any]:
    """The body if it has what routing needs; else a 400 naming the field."""
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    bad = sorted(FORBIDDEN & data.keys())
    if bad:
        raise ApiError(400, f"'{bad[0]}' cannot be set by a request: cortexd holds the keys",
                       param=bad[0])  # fmt: skip
    if not isinstance(data.get("model"), str) or not data["model"].strip():
        raise ApiError(400, "Missing required parameter: 'model'.", param="model")
    items = data.get("input")
    if not isinstance(items, str | list) or not items:
        raise ApiError(400, "Missing required parameter: 'input'.", param="input")
    if isinstance(items, list):
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise _invalid(f"input[{i}]", "an object")
            if item.get("type", "message") == "message":
                role = item.get("role")
                if not isinstance(role, str) or role not in _ROLES:
                    raise _invalid(f"input[{i}].role", "one of user, assistant, system, developer")
                if not isinstance(item.get("content"), str | list):
                    raise _invalid(f"input[{i}].content", "a string or a list of parts")
    _check_prompt(items)
    for name, kind, types in _FIELDS:
        if data.get(name) is not None and not isinstance(data[name], types):
            raise _invalid(name, kind)
    if "stream" in data and not isinstance(data["stream"], bool):
        raise ApiError(400, "Invalid type for 'stream': expected a boolean.", param="stream")
    wrong = first_out_of_range(data, _RANGES)
    if wrong is not None:
        raise ApiError(400, f"Invalid '{wrong[0]}': {wrong[1]}.", param=wrong[0])
    return data


#: Fields read here, with the type each must have when present.
_FIELDS: tuple[tuple[str, str, type | tuple[type, ...]], ...] = (
    ("instructions", "a string", str),
    ("reasoning", "an object", dict),
    ("max_output_tokens", "an integer", int),
    ("tools", "an array of tools", list),
    ("temperature", "a number", (int, float)),
    ("top_p", "a number", (int, float)),
)


#: OpenAI's ranges for the numbers read here.
_RANGES = {
    "max_output_tokens": Range(1, MAX_OUTPUT_TOKENS, whole=True),
    "temperature": Range(0, 2),
    "top_p": Range(0, 1),
    "top_logprobs": Range(0, 20, whole=True),
    "max_tool_calls": Range(1, MAX_INT32, whole=True),
}


def _check_prompt(items: str | list[dict[str, Any]]) -> None:
    """An empty last user message is a 400: sent on, it would be billed for nothing (an
    image or a file is something to answer; blank text is not)."""
    listed = [{"role": "user", "content": items}] if isinstance(items, str) else items
    users = [i for i, item in enumerate(listed) if _is_user(item)]
    if not users:
        return
    content = listed[users[-1]]["content"]
    parts = [{"type": "input_text", "text": content}] if isinstance(content, str) else content
    if not any(
        not isinstance(p, dict)
        or p.get("type") not in _TEXT_PARTS
        or str(p.get("text", "")).strip()
        for p in parts
    ):
        where = "input" if isinstance(items, str) else f"input[{users[-1]}].content"
        raise ApiError(
            400,
            f"Invalid '{where}': the last user message has no text: there is nothing to answer.",
            param=where,
            code="empty_prompt",
        )


def _invalid(param: str, expected: str) -> ApiError:
    return ApiError(400, f"Invalid type for '{param}': expected {expected}.", param=param)


def _items(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = body["input"]
    if isinstance(items, str):
        return [{"type": "message", "role": "user", "content": items}]
    return list(items)


def _texts(content: object) -> list[str]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    parts = [p for p in content if isinstance(p, dict) and p.get("type") in _TEXT_PARTS]
    return [str(p.get("text", "")) for p in parts]


def _message(item: Mapping[str, Any], tools: ResponsesTools) -> ChatMessage | None:
    kind = item.get("type", "message")
    if kind == "message" and item.get("role") in _ROLES:
        parts: list[TextPart | ImagePart] = [TextPart(t) for t in _texts(item.get("content"))]
        content = item.get("content")
        for part in content if isinstance(content, list) else ():
            image = part.get("image_url") if isinstance(part, dict) else None
            if image and part.get("type") == "input_image":
                parts.append(ImagePart(str(image)))
        return ChatMessage(_ROLES[item["role"]], tuple(parts))  # type: ignore[arg-type]
    if kind in ("function_call", "custom_tool_call"):
        arguments = item.get("arguments", "")
        if kind == "custom_tool_call":  # as the function call a model without it made
            arguments = json.dumps({"input": str(item.get("input", ""))})
        namespace = item.get("namespace")
        name = tools.offered_name(str(item.get("name", "")), namespace and str(namespace))
        call = ToolCall(str(item.get("call_id", "")), name, str(arguments))
        return ChatMessage("assistant", tool_calls=(call,))
    if kind in ("function_call_output", "custom_tool_call_output"):
        output = item.get("output")
        text = output if isinstance(output, str) else json.dumps(output)
        return ChatMessage("tool", (TextPart(text),), tool_call_id=str(item.get("call_id", "")))
    return None  # reasoning items and types we do not read: forwarded as they are


def to_chat(body: Mapping[str, Any], forward: Forward) -> ChatRequest:
    """Our request for a Responses body, with the body itself to forward."""
    messages = [ChatMessage.of("system", body["instructions"])] if body.get("instructions") else []
    tools = read_tools(body)
    messages += [m for item in _items(body) if (m := _message(item, tools)) is not None]
    effort = (body.get("reasoning") or {}).get("effort")
    return ChatRequest(
        model=str(body["model"]),
        messages=tuple(messages),
        max_tokens=body.get("max_output_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        tools=tools.specs,
        reasoning=ReasoningConfig(effort=effort) if effort in _EFFORTS else None,
        forward=forward,
        # Translated to Anthropic, the stable prefix (tools, instructions) is cached as
        # OpenAI would have cached it without being asked.
        cache_prompt=True,
    )


def translation_losses(body: Mapping[str, Any]) -> tuple[str, ...]:
    """What another provider's model would not get of this request.

    >>> tools = [{"type": "web_search"}, {"type": "custom", "name": "p"}]
    >>> lost = translation_losses({"tools": tools, "input": [{"type": "reasoning"}]})
    >>> for line in lost:
    ...     print(line)
    OpenAI's hosted tool web_search
    custom tool p offered as a function tool (its grammar in words)
    OpenAI reasoning items (encrypted)
    """
    lost = list(read_tools(body).lost)
    items = body.get("input")
    if isinstance(items, list) and any(
        isinstance(i, dict) and i.get("type") == "reasoning" for i in items
    ):
        lost.append("OpenAI reasoning items (encrypted)")
    return tuple(lost)


def _is_user(item: Mapping[str, Any]) -> bool:
    return item.get("type", "message") == "message" and item.get("role") == "user"


def _reworded_item(item: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    content = item.get("content")
    if isinstance(content, str):
        return {**item, "content": reworded(content, old, new)}
    if not isinstance(content, list):
        return item
    parts = [
        {**p, "text": reworded(p["text"], old, new)}
        if isinstance(p, dict) and p.get("type") in _TEXT_PARTS and "text" in p else p
        for p in content
    ]  # fmt: skip
    return {**item, "content": parts}


def _turn(request: Request, session: str | None, number: int) -> str:
    """Codex names its turn in ``x-codex-turn-metadata``; else the person's turn number."""
    try:
        meta = json.loads(request.headers.get("x-codex-turn-metadata", ""))
        named = meta.get("turn_id") if isinstance(meta, dict) else None
    except ValueError:
        named = None
    if isinstance(named, str) and named:
        return named
    return f"{session}:{number}" if session else str(number)


def responses_call(body: dict[str, Any], request: Request) -> Call:
    """The pipeline's call for a checked Responses body."""
    stream = bool(body.get("stream"))
    forward = Forward("responses", body, {}, stream)
    users = [i for i in _items(body) if _is_user(i)]
    turns = person_turns(_texts(i.get("content")) for i in users)
    words, number = (turns[-1], len(turns)) if turns else ("", 0)
    agent = request.headers.get("user-agent")
    session = request.headers.get("session-id")

    def reword(sent: Forward, old: str, new: str, earlier: bool = False) -> Forward:
        items = _items(sent.body)
        users = [i for i, item in enumerate(items) if _is_user(item)]
        # An earlier turn's words are never edited in the latest turn's message.
        for i in reversed(users[:-1] if earlier else users):
            changed = _reworded_item(items[i], old, new)
            if changed != items[i]:
                items[i] = changed
                break
        return replace(sent, body={**sent.body, "input": items})

    return Call(
        wire="responses",
        route=RouteRequest(
            messages=(Message("user", words),),
            model=body["model"],
            client=agent,
            earlier=tuple(turns[:-1]),  # a session directive said in an earlier turn counts
        ),
        chat=to_chat(body, forward),
        stream=stream,
        asked_model=body["model"],
        client=client_name(request.headers.get("originator"), agent),
        session=session,
        turn=_turn(request, session, number),
        family="openai",
        agent_model=body["model"],
        reword=reword,
        earlier=tuple(turns[:-1]),
        losses=translation_losses(body),
    )

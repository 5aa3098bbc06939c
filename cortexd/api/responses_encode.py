"""Our answers in OpenAI's Responses shape, for Codex talking to a model that is not OpenAI's.

The reverse of ``openai_responses_wire``: a `ChatResponse` becomes a Responses ``response``
object and its output items (a stream of our deltas becomes Codex's SSE events in
`responses_stream`, from these same items). Item ids are derived from the response id,
so the same answer always encodes the same way; a tool call keeps its provider's id as its
``call_id``, so the client's ``function_call_output`` of the next turn maps back unchanged.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from cortexd.api.responses_tools import NO_TOOLS, OfferedTool, ResponsesTools
from cortexd.routing.providers import ChatResponse, FinishReason, ToolCall, Usage

ItemKind = Literal["message", "function_call"]


def usage_json(usage: Usage) -> dict[str, Any]:
    """A Responses ``usage`` object (input tokens include the cached ones, as OpenAI counts)."""
    return {
        "input_tokens": usage.input_tokens,
        # The SDK's usage model requires cache_write_tokens; Anthropic's prompt-cache writes
        # fill it (its 5-minute and 1-hour lifetimes match none of OpenAI's ttl buckets).
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def item_id(kind: ItemKind, response_id: str, output_index: int) -> str:
    """The id of output item `output_index`: ``msg_…`` or ``fc_…`` after the response id.

    >>> item_id("message", "resp_abc", 0), item_id("function_call", "resp_abc", 1)
    ('msg_abc_0', 'fc_abc_1')
    """
    prefix = "msg" if kind == "message" else "fc"
    return f"{prefix}_{response_id.removeprefix('resp_')}_{output_index}"


def message_item(item: str, text: str, status: str = "completed") -> dict[str, Any]:
    """An assistant ``message`` output item holding `text` as one ``output_text`` part."""
    return {
        "type": "message",
        "id": item,
        "role": "assistant",
        "status": status,
        "content": [output_text_part(text)] if status == "completed" else [],
    }


def output_text_part(text: str) -> dict[str, Any]:
    """An ``output_text`` content part."""
    return {"type": "output_text", "text": text, "annotations": []}


def function_call_item(
    item: str, call: ToolCall, status: str = "completed", tool: OfferedTool | None = None
) -> dict[str, Any]:
    """A ``function_call`` output item; `call_id` is the provider's own tool call id, and
    `tool` the client's tool the call was offered for (its own name and namespace)."""
    out = {
        "type": "function_call",
        "id": item,
        "call_id": call.id,
        "name": tool.name if tool is not None else call.name,
        "arguments": call.arguments,
        "status": status,
    }
    if tool is not None and tool.namespace:
        out["namespace"] = tool.namespace
    return out


def custom_input(arguments: str) -> str:
    """A custom tool's input from the function call another provider's model made of it
    (its one string argument, ``input``; see responses_tools.custom_as_function).

    >>> custom_input('{"input": "*** Begin Patch"}'), custom_input("not json")
    ('*** Begin Patch', 'not json')
    """
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    if isinstance(value, dict) and isinstance(value.get("input"), str):
        return str(value["input"])
    return arguments


def custom_call_item(
    item: str, call: ToolCall, status: str = "completed", tool: OfferedTool | None = None
) -> dict[str, Any]:
    """A ``custom_tool_call`` output item (Codex's ``apply_patch``), from a function call."""
    out = {
        "type": "custom_tool_call",
        "id": item,
        "call_id": call.id,
        "name": tool.name if tool is not None else call.name,
        "input": custom_input(call.arguments) if call.arguments else "",
        "status": status,
    }
    if tool is not None and tool.namespace:
        out["namespace"] = tool.namespace
    return out


def call_item(
    item: str, call: ToolCall, tools: ResponsesTools, status: str = "completed"
) -> dict[str, Any]:
    """A tool call's output item, for the client's tool it was offered for: a custom
    tool's as the custom call its client expects, a namespaced one with its namespace."""
    tool = tools.own(call.name)
    if tool.custom:
        return custom_call_item(item, call, status, tool)
    return function_call_item(item, call, status, tool)


def output_items(
    response: ChatResponse, response_id: str, tools: ResponsesTools = NO_TOOLS
) -> list[dict[str, Any]]:
    """The answer's output items: its text as one message, then one item per tool call."""
    items: list[dict[str, Any]] = []
    if response.text:
        items.append(message_item(item_id("message", response_id, 0), response.text))
    for call in response.tool_calls:
        items.append(call_item(item_id("function_call", response_id, len(items)), call, tools))
    return items


def _incomplete_reason(finish: FinishReason) -> str | None:
    # Responses has no "stop because of length" status of its own: a cut-off answer is
    # "incomplete" with why, which is how from_responses reads it back.
    if finish == "length":
        return "max_output_tokens"
    if finish == "content_filter":
        return "content_filter"
    return None


def response_json(
    response: ChatResponse,
    *,
    model: str,
    response_id: str,
    status: str = "completed",
    created_at: int | None = None,
    output: list[dict[str, Any]] | None = None,
    tools: ResponsesTools = NO_TOOLS,
) -> dict[str, Any]:
    """A Responses ``response`` object for `response`.

    A finished answer cut short ("length", "content_filter") is ``incomplete`` with its
    reason, whatever `status` says. `output` replaces the items built from `response` (the
    stream encoder passes the items in the order it streamed them).
    """
    reason = _incomplete_reason(response.finish_reason) if status == "completed" else None
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()) if created_at is None else created_at,
        "status": "incomplete" if reason else status,
        "error": None,
        "incomplete_details": {"reason": reason} if reason else None,
        "instructions": None,
        "metadata": {},
        "model": model,
        "output": output_items(response, response_id, tools) if output is None else output,
        # The SDK's Response model requires these three; we do not know the request's here.
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage_json(response.usage) if status == "completed" else None,
    }

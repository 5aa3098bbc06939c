"""An Anthropic Messages request: checked, read for routing, and kept as the client wrote it.

The body is checked only as far as routing needs (model, max_tokens, the messages' roles
and blocks); every field and block type passes through untouched to an Anthropic model.
Our request type is built beside it for requirements, budgets and estimates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from starlette.requests import Request

from cortexd.api.agent_words import person_turns, reworded
from cortexd.api.errors import ApiError
from cortexd.api.messages_encode import call_id_from_tool_use
from cortexd.api.ranges import MAX_INT32, MAX_OUTPUT_TOKENS, Range, first_out_of_range
from cortexd.api.recording import client_name
from cortexd.api.validation import FORBIDDEN
from cortexd.pipeline.call import Call
from cortexd.routing import Message, RouteRequest
from cortexd.routing.providers import (
    ChatMessage,
    ChatRequest,
    Forward,
    ImagePart,
    Reasoning,
    ReasoningConfig,
    TextPart,
    ToolCall,
    ToolSpec,
)

#: The client's headers an Anthropic model must see (betas change what the API accepts).
PASSED_HEADERS = ("anthropic-beta", "anthropic-version")
_ROLES = ("user", "assistant", "system")


def _bad(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param)


def check_body(data: object, *, needs_max_tokens: bool = True) -> dict[str, Any]:
    """The body if it has what routing needs; else a 400 naming the field, as Anthropic's
    API words it (``messages.1.content: …``)."""
    if not isinstance(data, dict):
        raise _bad("the request body must be a JSON object")
    bad = sorted(FORBIDDEN & data.keys())
    if bad:
        raise _bad(f"{bad[0]}: cannot be set by a request: cortexd holds the keys", bad[0])
    if not isinstance(data.get("model"), str) or not data["model"].strip():
        raise _bad("model: Field required (a model name, or auto)", "model")
    if needs_max_tokens:
        cap = data.get("max_tokens")
        if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
            raise _bad("max_tokens: Field required (a whole number above 0)", "max_tokens")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages: Field required (a non-empty list)", "messages")
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise _bad(f"{where}.role: Input should be 'user' or 'assistant'", where)
        content = message.get("content")
        if isinstance(content, list):
            for j, block in enumerate(content):
                _check_block(block, f"{where}.content.{j}")
        elif not isinstance(content, str):
            raise _bad(f"{where}.content: Input should be a string or a list of blocks", where)
    _check_prompt(messages)
    system = data.get("system")
    if isinstance(system, list):
        for j, block in enumerate(system):
            _check_block(block, f"system.{j}")
    elif system is not None and not isinstance(system, str):
        raise _bad("system: Input should be a string or a list of text blocks", "system")
    tools = data.get("tools")
    listed = isinstance(tools, list) and all(isinstance(t, dict) for t in tools)
    if tools is not None and not listed:
        raise _bad("tools: Input should be a list of tool objects", "tools")
    if "stream" in data and not isinstance(data["stream"], bool):
        raise _bad("stream: Input should be a valid boolean", "stream")
    stops = data.get("stop_sequences")
    if stops is not None and not (
        isinstance(stops, list) and all(isinstance(s, str) for s in stops)
    ):
        raise _bad("stop_sequences: Input should be a list of strings", "stop_sequences")
    wrong = first_out_of_range(data, _RANGES)
    if wrong is not None:
        raise _bad(f"{wrong[0]}: {wrong[1]}", wrong[0])
    return data


#: Anthropic's ranges for the numbers read here (out of range, they would also skew the
#: estimates budgets and the window check make before anything is sent).
_RANGES = {
    "max_tokens": Range(1, MAX_OUTPUT_TOKENS, whole=True),
    "temperature": Range(0, 1),
    "top_p": Range(0, 1),
    "top_k": Range(0, MAX_INT32, whole=True),
    "thinking.budget_tokens": Range(1, MAX_OUTPUT_TOKENS, whole=True),
}


def _check_prompt(messages: list[dict[str, Any]]) -> None:
    """An empty last user message is a 400: sent on, it would be billed for nothing (a
    tool result, an image or a document is something to answer; blank text is not)."""
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    if not users:
        return
    content = messages[users[-1]]["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    if not any(b["type"] != "text" or b["text"].strip() for b in blocks):
        where = f"messages.{users[-1]}.content"
        raise _bad(f"{where}: the last user message has no text: there is nothing to answer", where)


def _check_block(block: object, where: str) -> None:
    """A content block's shape, as far as routing reads it (its other fields pass as they are)."""
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise _bad(f"{where}.type: Field required", where)
    if block["type"] == "text" and not isinstance(block.get("text"), str):
        raise _bad(f"{where}.text: Input should be a valid string", where)
    if "source" in block and not isinstance(block["source"], dict):
        raise _bad(f"{where}.source: Input should be an object", where)
    content = block.get("content")
    if content is not None and not isinstance(content, str | list):
        raise _bad(f"{where}.content: Input should be a string or a list of blocks", where)


def _blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _image(block: Mapping[str, Any]) -> ImagePart | None:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        return ImagePart(f"data:{source.get('media_type')};base64,{source.get('data', '')}")
    if source.get("type") == "url" and source.get("url"):
        return ImagePart(str(source["url"]))
    return None


def _document_text(block: Mapping[str, Any]) -> str:
    """A document's text, where it has one (a plain-text or content source); a PDF's bytes
    (base64 or a URL) are not text, and are left out (`translation_losses` says so).

    >>> _document_text({"source": {"type": "text", "data": "notes"}, "title": "a.txt"})
    'a.txt:\\nnotes'
    >>> _document_text({"source": {"type": "base64", "media_type": "application/pdf"}})
    ''
    """
    source = block.get("source") or {}
    if source.get("type") == "text":
        text = _text_of(source.get("data"))
    elif source.get("type") == "content":
        text = _text_of(source.get("content"))
    else:
        return ""
    title = block.get("title")
    return f"{title}:\n{text}" if title and text else text


def _text_of(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(b.get("text", "") for b in value if isinstance(b, dict))
    return ""


def _messages(role: str, content: str | list[dict[str, Any]]) -> list[ChatMessage]:
    """Our messages for one Messages API message (a tool result becomes its own)."""
    parts: list[TextPart | ImagePart] = []
    calls: list[ToolCall] = []
    thinking: list[Reasoning] = []
    results: list[ChatMessage] = []
    for block in _blocks(content):
        kind = block.get("type")
        if kind == "text":
            parts.append(TextPart(str(block.get("text", "")), bool(block.get("cache_control"))))
        elif kind == "image" and (image := _image(block)) is not None:
            parts.append(image)
        elif kind == "document" and (document := _document_text(block)):
            parts.append(TextPart(document))
        elif kind == "tool_use":
            # Another provider's call id comes back as it made it (messages_encode).
            calls.append(ToolCall(call_id_from_tool_use(str(block.get("id", ""))),
                                  str(block.get("name", "")),
                                  json.dumps(block.get("input") or {})))  # fmt: skip
        elif kind == "tool_result":
            text = (TextPart(_text_of(block.get("content"))),)
            used = call_id_from_tool_use(str(block.get("tool_use_id", "")))
            results.append(ChatMessage("tool", text, tool_call_id=used))
        elif kind == "thinking":
            thinking.append(Reasoning(str(block.get("thinking", "")), block.get("signature")))
        elif kind == "redacted_thinking":
            thinking.append(Reasoning(str(block.get("data", "")), redacted=True))
    own = ChatMessage(role, tuple(parts), tuple(calls), reasoning=tuple(thinking))  # type: ignore[arg-type]
    return [*results, own] if parts or calls or thinking or not results else results


def to_chat(body: Mapping[str, Any], forward: Forward) -> ChatRequest:
    """Our request for a Messages body, with the body itself to forward."""
    messages: list[ChatMessage] = []
    if body.get("system"):
        messages.append(ChatMessage.of("system", _text_of(body["system"])))
    for message in body["messages"]:
        messages += _messages(message["role"], message["content"])
    tools = tuple(
        ToolSpec(str(t.get("name", "")), str(t.get("description", "")),
                 t.get("input_schema") or {"type": "object", "properties": {}})
        for t in body.get("tools") or () if isinstance(t, dict) and not _server_tool(t)
    )  # fmt: skip
    thinking = body.get("thinking") or {}
    effort = (body.get("output_config") or {}).get("effort")
    effort = effort if effort in ("low", "medium", "high") else None
    reasoning = None
    if isinstance(thinking, dict) and thinking.get("type") not in (None, "disabled") or effort:
        budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
        reasoning = ReasoningConfig(effort=effort, budget_tokens=budget)
    stop = body.get("stop_sequences") or ()
    return ChatRequest(
        model=str(body["model"]),
        messages=tuple(messages),
        max_tokens=body.get("max_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        stop=tuple(stop) if isinstance(stop, list) else (),
        tools=tools,
        reasoning=reasoning,
        forward=forward,
        cache_prompt=True,
    )


def _server_tool(tool: Mapping[str, Any]) -> bool:
    """An Anthropic-hosted tool (``web_search_20250305``, ``bash_…``): only Anthropic runs it.

    >>> _server_tool({"type": "web_search_20250305", "name": "web_search"})
    True
    >>> _server_tool({"name": "Bash", "input_schema": {}}), _server_tool({"type": "custom"})
    (False, False)
    """
    kind = tool.get("type")
    return isinstance(kind, str) and kind not in ("custom", "function")


def translation_losses(body: Mapping[str, Any]) -> tuple[str, ...]:
    """What another provider's model would not get of this request.

    >>> web_search = {"type": "web_search_20250305", "name": "web_search"}
    >>> translation_losses({"messages": [], "tools": [web_search]})
    ("Anthropic's hosted tool web_search (web_search_20250305)",)
    >>> pdf = {"type": "document", "source": {"type": "base64", "data": "JVBERi0x"}}
    >>> translation_losses({"messages": [{"role": "user", "content": [pdf]}]})
    ('1 PDF document(s): documents go to Anthropic only',)
    """
    tools = [t for t in body.get("tools") or () if isinstance(t, dict) and _server_tool(t)]
    lost = [f"Anthropic's hosted tool {t.get('name')} ({t.get('type')})" for t in tools]
    documents = [
        b for m in body["messages"] for b in _blocks(m["content"])
        if b.get("type") == "document" and not _document_text(b)
    ]  # fmt: skip
    if documents:
        lost.append(f"{len(documents)} PDF document(s): documents go to Anthropic only")
    return tuple(lost)


def _user_pieces(body: Mapping[str, Any]) -> list[list[str]]:
    return [
        [b.get("text", "") for b in _blocks(m["content"]) if b.get("type") == "text"]
        for m in body["messages"]
        if m["role"] == "user"
    ]


def _is_text(block: dict[str, Any]) -> bool:
    return block.get("type") == "text" and isinstance(block.get("text"), str)


def _reworded_content(content: str | list[dict[str, Any]], old: str, new: str) -> Any:
    if isinstance(content, str):
        return reworded(content, old, new)
    return [{**b, "text": reworded(b["text"], old, new)} if _is_text(b) else b for b in content]


def without_thinking_after_a_crossing(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The body to send Anthropic, and why it changed. A tool-use loop whose last assistant
    turn another provider's model answered (no thinking block at its start) would be refused
    with thinking on ("a final assistant message must start with a thinking block"): that
    turn goes without thinking, and the session's earlier, signed thinking stays as it is.

    >>> turn = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_cx_1"}]}
    >>> result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x"}]}
    >>> sent, why = without_thinking_after_a_crossing(
    ...     {"thinking": {"type": "adaptive"}, "messages": [turn, result]})
    >>> "thinking" in sent, why is not None
    (False, True)
    """
    thinking = body.get("thinking")
    messages = body.get("messages") or []
    if not isinstance(thinking, dict) or thinking.get("type") in (None, "disabled"):
        return body, None
    if len(messages) < 2 or messages[-1].get("role") != "user":
        return body, None
    last = messages[-1]["content"]
    if not isinstance(last, list) or not any(b.get("type") == "tool_result" for b in last):
        return body, None
    turn = messages[-2]
    blocks = turn.get("content") if turn.get("role") == "assistant" else None
    if not isinstance(blocks, list) or not blocks:
        return body, None
    if blocks[0].get("type") in ("thinking", "redacted_thinking"):
        return body, None
    sent = {k: v for k, v in body.items() if k != "thinking"}
    edits = (sent.get("context_management") or {}).get("edits")
    if isinstance(edits, list):  # clearing thinking needs thinking on
        kept = [e for e in edits if not str(e.get("type", "")).startswith("clear_thinking")]
        sent["context_management"] = {**sent["context_management"], "edits": kept}
    return sent, (
        "thinking off for this turn: its last assistant turn came from another provider's "
        "model, with no thinking block to start it"
    )


def messages_call(body: dict[str, Any], request: Request) -> Call:
    """The pipeline's call for a checked Messages body."""
    headers = request.headers
    passed = {name: headers[name] for name in PASSED_HEADERS if name in headers}
    stream = bool(body.get("stream"))
    sent, adjusted = without_thinking_after_a_crossing(body)
    forward = Forward("messages", sent, passed, stream, dict(request.query_params))
    turns = person_turns(_user_pieces(body))
    words, turn = (turns[-1], len(turns)) if turns else ("", 0)
    agent = headers.get("user-agent")
    session = headers.get("x-claude-code-session-id")

    def reword(sent: Forward, old: str, new: str, earlier: bool = False) -> Forward:
        changed = dict(sent.body)
        messages = list(changed["messages"])
        said = [
            i for i, m in enumerate(messages)
            if m["role"] == "user" and any(_is_text(b) for b in _blocks(m["content"]))
        ]  # fmt: skip
        # An earlier turn's words are never edited in the latest turn's message.
        latest = said[-1] if earlier and said else -1
        for i in range(len(messages) - 1, -1, -1):
            if messages[i]["role"] == "user" and i != latest:
                content = _reworded_content(messages[i]["content"], old, new)
                if content != messages[i]["content"]:
                    messages[i] = {**messages[i], "content": content}
                    break
        changed["messages"] = messages
        return replace(sent, body=changed)

    return Call(
        wire="messages",
        route=RouteRequest(
            messages=(Message("user", words),),
            model=body["model"],
            client=agent,
            earlier=tuple(turns[:-1]),  # a session directive said in an earlier turn counts
        ),
        chat=to_chat(body, forward),
        stream=stream,
        asked_model=body["model"],
        client=client_name(None, agent),
        session=session,
        turn=f"{session}:{turn}" if session else str(turn),
        family="anthropic",
        agent_model=body["model"],
        reword=reword,
        earlier=tuple(turns[:-1]),
        losses=translation_losses(body),
        notes=(adjusted,) if adjusted else (),
    )

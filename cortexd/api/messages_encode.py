"""Our answers in Anthropic's Messages shape: the ``message`` object and its SSE stream.

This is how a model of another provider (gpt-4o, codex) answers Claude Code's
``POST /v1/messages``: its answer, in our neutral types, is written out as Anthropic would
have. An Anthropic model's answer never comes through here (its body is passed through).

Two things cannot be carried over as they are:

- Reasoning. Claude Code sends every ``thinking`` block back in the next turn, and Anthropic
  refuses a thinking block whose signature it did not make. Only reasoning signed by
  Anthropic is written out; another provider's reasoning is left out.
- Tool call ids. Anthropic's ``tool_use`` ids match ``^[A-Za-z0-9_-]+$`` and Claude Code
  expects ``toolu_…``; another provider's id is mapped to one with `tool_use_id`, and the
  next turn's ``tool_result`` is mapped back with `call_id_from_tool_use`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cortexd.api.error_shapes import anthropic_error_event
from cortexd.routing.providers import (
    ChatResponse,
    FinishReason,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)

_STOP_REASON: dict[FinishReason, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
#: An id Anthropic made (``toolu_01…``, Bedrock's ``toolu_bdrk_…``, Vertex's ``toolu_vrtx_…``).
_ANTHROPIC_ID = re.compile(r"toolu_[A-Za-z0-9_-]+")
#: What marks an id we made from another provider's, so the inverse never touches
#: Anthropic's own ids (theirs continue ``toolu_01``, ``toolu_bdrk_``, ``toolu_vrtx_``).
_FOREIGN = "toolu_cx_"
#: Characters kept as they are; every other byte is written ``-hh`` (so ``-`` is too), which
#: keeps the mapping reversible for any id while OpenAI's ``call_…`` stays readable.
_KEPT = re.compile(r"[A-Za-z0-9_]")
_ESCAPED = re.compile(r"-([0-9a-f]{2})")


def tool_use_id(call_id: str) -> str:
    """The ``tool_use`` id for our tool call id: Anthropic's own kept, any other mapped.

    >>> tool_use_id("toolu_01AbC"), tool_use_id("call_Xy9")
    ('toolu_01AbC', 'toolu_cx_call_Xy9')
    >>> tool_use_id("fc.1-a")
    'toolu_cx_fc-2e1-2da'
    """
    if _ANTHROPIC_ID.fullmatch(call_id):
        return call_id
    escaped = "".join(
        c if _KEPT.fullmatch(c) else "".join(f"-{b:02x}" for b in c.encode()) for c in call_id
    )
    return _FOREIGN + escaped


def call_id_from_tool_use(tool_use: str) -> str:
    """Our tool call id for a ``tool_use`` id (a ``tool_result``'s ``tool_use_id``): the
    inverse of `tool_use_id`; an id we did not map is returned as it is.

    >>> call_id_from_tool_use("toolu_cx_fc-2e1-2da"), call_id_from_tool_use("toolu_01AbC")
    ('fc.1-a', 'toolu_01AbC')
    """
    if not tool_use.startswith(_FOREIGN):
        return tool_use
    body = tool_use[len(_FOREIGN) :]
    # Decode byte by byte, so an escaped multi-byte character comes back whole.
    raw = bytearray()
    at = 0
    for match in _ESCAPED.finditer(body):
        raw += body[at : match.start()].encode()
        raw.append(int(match.group(1), 16))
        at = match.end()
    raw += body[at:].encode()
    return raw.decode(errors="replace")


def stop_reason(finish: FinishReason) -> str:
    """Anthropic's ``stop_reason`` for our finish reason."""
    return _STOP_REASON[finish]


def usage_json(usage: Usage) -> dict[str, int]:
    """Anthropic's usage object; its ``input_tokens`` leave out cache reads and writes,
    which our `Usage.input_tokens` count."""
    cached = usage.cache_read_tokens + usage.cache_write_tokens
    return {
        "input_tokens": max(0, usage.input_tokens - cached),
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
    }


def call_id_or_made(call_id: str | None, message_id: str, index: int) -> str:
    """`call_id`, or one made from the message's id and the call's index where the provider
    gave none: Claude Code matches each tool_result to its tool_use by id, so ids must be
    unique, and the stream and the whole message must make the same one.

    >>> call_id_or_made("call_1", "msg_9", 0), call_id_or_made("", "msg_9", 1)
    ('call_1', 'msg_9_1')
    """
    return call_id or f"{message_id}_{index}"


def tool_use_block(call: ToolCall, *, message_id: str, index: int) -> dict[str, Any]:
    """A ``tool_use`` content block for `call` (the message's `index`-th tool call), its
    arguments parsed (``{}`` when invalid)."""
    return {
        "type": "tool_use",
        "id": tool_use_id(call_id_or_made(call.id, message_id, index)),
        "name": call.name,
        "input": call.parsed_arguments(),
    }


def content_blocks(response: ChatResponse, message_id: str) -> list[dict[str, Any]]:
    """The answer's content blocks: Anthropic-signed reasoning, text, then tool calls."""
    blocks: list[dict[str, Any]] = []
    for reasoning in response.reasoning:
        # Claude Code sends thinking back next turn, and Anthropic refuses a thinking block
        # without its own valid signature: another provider's (unsigned) reasoning is left out.
        if reasoning.redacted:
            blocks.append({"type": "redacted_thinking", "data": reasoning.text})
        elif reasoning.signature:
            blocks.append(
                {"type": "thinking", "thinking": reasoning.text, "signature": reasoning.signature}
            )
    if response.text:
        blocks.append({"type": "text", "text": response.text})
    blocks.extend(
        tool_use_block(c, message_id=message_id, index=i) for i, c in enumerate(response.tool_calls)
    )
    return blocks


def message_json(response: ChatResponse, *, model: str, message_id: str) -> dict[str, Any]:
    """`response` as an Anthropic ``message`` object, answering as `model`."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content_blocks(response, message_id),
        "stop_reason": stop_reason(response.finish_reason),
        "stop_sequence": None,
        "usage": usage_json(response.usage),
    }


def sse_event(data: dict[str, Any]) -> bytes:
    """One server-sent event named after its ``type``, as Anthropic sends them."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {data['type']}\ndata: {payload}\n\n".encode()


class MessagesStreamEncoder:
    """Turns our stream events into Anthropic's Messages SSE bytes, event by event.

    Call `start` once, `feed` with each event, then `finish` (or `feed` the `StreamEnd`), or
    `error` when the stream broke. Content blocks are numbered from 0 in the order they open;
    one block is open at a time, as Anthropic streams them.
    """

    def __init__(self) -> None:
        self._next_index = 0
        self._open: str | None = None  # "text", or "tool:<our call index>"
        self._tools: set[int] = set()  # our call indexes whose block was opened
        self.finished = False
        self._message_id = ""

    def start(self, model: str, message_id: str, input_tokens_estimate: int) -> bytes:
        """``message_start``: the message with no content yet and an estimate of its input
        (``finish`` sends the real counts)."""
        self._message_id = message_id
        usage = usage_json(Usage(input_tokens=input_tokens_estimate))
        message: dict[str, Any] = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return sse_event({"type": "message_start", "message": message})

    def feed(self, event: StreamEvent) -> bytes:
        """The bytes for one of our stream events (often none; none after the end)."""
        if self.finished:
            return b""
        if isinstance(event, TextDelta):
            return self._text(event.text)
        if isinstance(event, ToolCallDelta):
            return self._tool(event)
        if isinstance(event, StreamEnd):
            return self.finish(event.response)
        # ReasoningDelta: see the module's docstring. RawEvent and Alive are no content.
        return b""

    def finish(self, response: ChatResponse) -> bytes:
        """Closes the open block, then ``message_delta`` (stop reason, the real usage) and
        ``message_stop``."""
        if self.finished:
            return b""
        out = self._close()
        if self._next_index == 0:
            # Nothing was streamed (a provider that answered in one piece): send it now.
            blocks = content_blocks(response, self._message_id)
            out += b"".join(self._whole_block(b) for b in blocks)
        self.finished = True
        delta = {"stop_reason": stop_reason(response.finish_reason), "stop_sequence": None}
        # message_delta's usage replaces message_start's estimate, field by field.
        out += sse_event(
            {"type": "message_delta", "delta": delta, "usage": usage_json(response.usage)}
        )
        return out + sse_event({"type": "message_stop"})

    def error(self, message: str, kind: str) -> bytes:
        """An ``event: error`` for a stream that broke (``kind`` "overloaded" is retryable)."""
        self.finished = True
        return anthropic_error_event(message, kind)

    def _text(self, text: str) -> bytes:
        if not text:
            return b""
        out = b""
        if self._open != "text":
            out += self._close() + self._open_block("text", {"type": "text", "text": ""})
        delta = {"type": "text_delta", "text": text}
        return out + self._delta(delta)

    def _tool(self, event: ToolCallDelta) -> bytes:
        key = f"tool:{event.index}"
        out = b""
        if event.index not in self._tools:
            self._tools.add(event.index)
            block = {
                "type": "tool_use",
                "id": tool_use_id(call_id_or_made(event.id, self._message_id, event.index)),
                "name": event.name or "",
                "input": {},
            }
            out += self._close() + self._open_block(key, block)
        elif self._open != key:
            # Its block was closed, and Anthropic's stream cannot reopen one. Providers send
            # parallel calls one after another, so this piece is dropped rather than sent
            # to a closed block.
            return b""
        if event.arguments:
            out += self._delta({"type": "input_json_delta", "partial_json": event.arguments})
        return out

    def _open_block(self, key: str, block: dict[str, Any]) -> bytes:
        self._open = key
        start = {"type": "content_block_start", "index": self._next_index, "content_block": block}
        self._next_index += 1
        return sse_event(start)

    def _delta(self, delta: dict[str, Any]) -> bytes:
        index = self._next_index - 1
        return sse_event({"type": "content_block_delta", "index": index, "delta": delta})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return sse_event({"type": "content_block_stop", "index": self._next_index - 1})

    def _whole_block(self, block: dict[str, Any]) -> bytes:
        """A finished block as start, one delta and stop (the input as one JSON piece)."""
        kind = block["type"]
        if kind == "text":
            out = self._open_block("text", {"type": "text", "text": ""})
            out += self._delta({"type": "text_delta", "text": block["text"]})
        elif kind == "tool_use":
            out = self._open_block("tool", {**block, "input": {}})
            partial = json.dumps(block["input"], ensure_ascii=False)
            out += self._delta({"type": "input_json_delta", "partial_json": partial})
        elif kind == "thinking":
            out = self._open_block("thinking", {"type": "thinking", "thinking": ""})
            out += self._delta({"type": "thinking_delta", "thinking": block["thinking"]})
            out += self._delta({"type": "signature_delta", "signature": block["signature"]})
        else:  # redacted_thinking comes whole in its start
            out = self._open_block(kind, block)
        return out + self._close()

"""Our stream of deltas as the typed SSE events of OpenAI's Responses API, for Codex.

Codex parses ``response.created`` … ``response.completed`` and keeps what each item's
``.done`` event carries, so the encoder opens and closes items as the deltas come and
reconciles them with the whole answer at the end. The items and the response object are
`responses_encode`'s, so a streamed answer and the same answer whole encode alike.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from cortexd.api.responses_encode import (
    ItemKind,
    call_item,
    custom_call_item,
    custom_input,
    function_call_item,
    item_id,
    message_item,
    output_text_part,
    response_json,
)
from cortexd.api.responses_tools import NO_TOOLS, ResponsesTools
from cortexd.routing.providers import (
    ChatResponse,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
)


def sse(event: dict[str, Any]) -> bytes:
    """One SSE event named after its ``type``."""
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


@dataclass(slots=True)
class _Item:
    """An output item as streamed so far."""

    kind: ItemKind
    id: str
    index: int
    text: str = ""  # a message's text, or a function call's arguments
    call_id: str = ""
    name: str = ""
    done: bool = False


class ResponsesStreamEncoder:
    """Renders our stream events as Responses SSE events, numbered from 0.

    Call `start` once, `feed` each event, then `finish` with the whole answer (or `failed`).
    Text opens a message item; a tool call closes it and opens a ``function_call`` item.
    Function call items stay open until `finish`, whose ``.done`` events carry the answer's
    final text and arguments, since that is what Codex keeps of each item.
    """

    def __init__(self, tools: ResponsesTools = NO_TOOLS) -> None:
        self._tools = tools  # the request's tools: calls go back as made for them
        self._seq = 0
        self._model = ""
        self._id = ""
        self._created_at = 0
        self._items: list[_Item] = []
        self._message: _Item | None = None  # the open message item, if any
        self._calls: dict[int, _Item] = {}  # our tool call index -> its item

    def _emit(self, kind: str, **fields: Any) -> bytes:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return sse(event)

    def _lifecycle(self, kind: str, response: ChatResponse, status: str, **kw: Any) -> bytes:
        body = response_json(
            response,
            model=self._model,
            response_id=self._id,
            status=status,
            created_at=self._created_at,
            **kw,
        )
        return self._emit(kind, response=body)

    def start(self, model: str, response_id: str) -> bytes:
        """``response.created`` and ``response.in_progress``, with no output yet."""
        self._model, self._id, self._created_at = model, response_id, int(time.time())
        empty = ChatResponse(model=model)
        return self._lifecycle("response.created", empty, "in_progress") + self._lifecycle(
            "response.in_progress", empty, "in_progress"
        )

    def feed(self, event: StreamEvent) -> bytes:
        """The SSE events for one of our stream events; a `StreamEnd` is `finish`.

        Reasoning gives none: Codex's reasoning items carry OpenAI's encrypted content, which
        another provider's thinking cannot fill. Raw and liveness events give none either.
        """
        if isinstance(event, TextDelta):
            return self._text(event.text) if event.text else b""
        if isinstance(event, ToolCallDelta):
            return self._tool(event)
        if isinstance(event, StreamEnd):
            return self.finish(event.response)
        return b""

    def _open_message(self) -> tuple[_Item, bytes]:
        index = len(self._items)
        item = _Item("message", item_id("message", self._id, index), index)
        self._items.append(item)
        self._message = item
        out = self._emit(
            "response.output_item.added",
            output_index=index,
            item=message_item(item.id, "", "in_progress"),
        )
        out += self._emit(
            "response.content_part.added",
            item_id=item.id,
            output_index=index,
            content_index=0,
            part=output_text_part(""),
        )
        return item, out

    def _text(self, text: str) -> bytes:
        out = b""
        item = self._message
        if item is None:
            item, out = self._open_message()
        item.text += text
        return out + self._emit(
            "response.output_text.delta",
            item_id=item.id,
            output_index=item.index,
            content_index=0,
            delta=text,
            logprobs=[],
        )

    def _close_message(self, final_text: str | None = None) -> bytes:
        item = self._message
        if item is None:
            return b""
        self._message = None
        item.done = True
        out = b""
        if final_text is not None and final_text != item.text:
            # The answer's text is what Codex keeps; the streamed deltas rarely differ from it.
            if final_text.startswith(item.text):
                out += self._emit(
                    "response.output_text.delta",
                    item_id=item.id,
                    output_index=item.index,
                    content_index=0,
                    delta=final_text[len(item.text) :],
                    logprobs=[],
                )
            item.text = final_text
        place = {"item_id": item.id, "output_index": item.index, "content_index": 0}
        out += self._emit("response.output_text.done", **place, text=item.text, logprobs=[])
        out += self._emit("response.content_part.done", **place, part=output_text_part(item.text))
        return out + self._emit(
            "response.output_item.done",
            output_index=item.index,
            item=message_item(item.id, item.text),
        )

    def _tool(self, delta: ToolCallDelta) -> bytes:
        out = b""
        item = self._calls.get(delta.index)
        if item is None:
            out += self._close_message()
            index = len(self._items)
            item = _Item("function_call", item_id("function_call", self._id, index), index)
            item.call_id, item.name = delta.id or "", delta.name or ""
            self._items.append(item)
            self._calls[delta.index] = item
            call = ToolCall(item.call_id, item.name, "")
            out += self._emit(
                "response.output_item.added",
                output_index=index,
                item=call_item(item.id, call, self._tools, "in_progress"),
            )
        if self._tools.is_custom(item.name):
            item.text += delta.arguments  # JSON around the input: sent whole when it is done
            return out
        if delta.arguments and not item.done:
            item.text += delta.arguments
            out += self._arguments_delta(item, delta.arguments)
        return out

    def _arguments_delta(self, item: _Item, piece: str) -> bytes:
        return self._emit(
            "response.function_call_arguments.delta",
            item_id=item.id,
            output_index=item.index,
            delta=piece,
        )

    def _close_custom(self, item: _Item, call: ToolCall) -> bytes:
        final = ToolCall(call.id or item.call_id, call.name or item.name, call.arguments)
        item.text, item.done = call.arguments, True
        whole = custom_input(final.arguments)
        out = self._emit(
            "response.custom_tool_call_input.delta",
            item_id=item.id,
            output_index=item.index,
            delta=whole,
        )
        out += self._emit(
            "response.custom_tool_call_input.done",
            item_id=item.id,
            output_index=item.index,
            input=whole,
        )
        return out + self._emit(
            "response.output_item.done",
            output_index=item.index,
            item=custom_call_item(item.id, final, tool=self._tools.own(final.name)),
        )

    def _close_call(self, item: _Item, call: ToolCall) -> bytes:
        if self._tools.is_custom(call.name or item.name):
            return self._close_custom(item, call)
        out = b""
        if call.arguments != item.text and call.arguments.startswith(item.text):
            # Anthropic's call with no input streams no arguments but ends as "{}".
            out += self._arguments_delta(item, call.arguments[len(item.text) :])
        item.text, item.done = call.arguments, True
        final = ToolCall(call.id or item.call_id, call.name or item.name, call.arguments)
        out += self._emit(
            "response.function_call_arguments.done",
            item_id=item.id,
            output_index=item.index,
            name=self._tools.own(final.name).name,
            arguments=final.arguments,
        )
        return out + self._emit(
            "response.output_item.done",
            output_index=item.index,
            item=function_call_item(item.id, final, tool=self._tools.own(final.name)),
        )

    def finish(self, response: ChatResponse) -> bytes:
        """Closes the open items with the answer's whole text and arguments (streaming what
        never came as deltas), then ``response.completed`` (``response.incomplete`` when the
        answer was cut short) with the whole response object."""
        out = b""
        if self._message is None and response.text and not self._has_message():
            out += self._open_message()[1]
        if self._message is not None:
            # Text after a tool call streams as a second message: only the open one's part of
            # the answer's text is reconciled against what it streamed.
            before = "".join(i.text for i in self._items if i.kind == "message" and i.done)
            rest = response.text[len(before) :] if response.text.startswith(before) else None
            out += self._close_message(rest)
        for index, call in enumerate(response.tool_calls):
            if index not in self._calls:
                out += self._tool(ToolCallDelta(index, call.id, call.name))
        for index, item in sorted(self._calls.items()):
            if not item.done:
                streamed = ToolCall(item.call_id, item.name, item.text)
                final = response.tool_calls[index] if index < len(response.tool_calls) else streamed
                out += self._close_call(item, final)
        output = [self._item_json(i) for i in self._items]
        body = response_json(
            response,
            model=self._model,
            response_id=self._id,
            created_at=self._created_at,
            output=output,
        )
        kind = "response.completed" if body["status"] == "completed" else "response.incomplete"
        return out + self._emit(kind, response=body)

    def _has_message(self) -> bool:
        return any(i.kind == "message" for i in self._items)

    def _item_json(self, item: _Item) -> dict[str, Any]:
        if item.kind == "message":
            return message_item(item.id, item.text)
        return call_item(item.id, ToolCall(item.call_id, item.name, item.text), self._tools)

    def failed(self, message: str, code: str = "server_error") -> bytes:
        """``response.failed`` with an error object, for a stream that broke."""
        body = response_json(
            ChatResponse(model=self._model),
            model=self._model,
            response_id=self._id,
            status="failed",
            created_at=self._created_at,
            output=[self._item_json(i) for i in self._items if i.done],
        )
        body["error"] = {"code": code, "message": message}
        return self._emit("response.failed", response=body)

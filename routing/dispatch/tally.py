"""What a stream cut short used: its tokens, estimated from what it streamed.

A stream that broke, stalled or was left by its caller never gets the provider's final
count, yet the provider bills the prompt it read and every token it wrote. Recording such
a try at 0 tokens made the ledger say less than the bill (and less than the budgets had
counted). So each try's stream is tallied as it goes: characters of text, tool calls and
reasoning become output tokens at the same rate the prompt is estimated with, and the
prompt's tokens are the provider's own count where its opening event gave one
(``message_start``), else the local estimate.

Deltas are counted as they pass (a few additions). A forwarded stream's events are raw
bytes: they are only kept, and decoded by their wire's own decoder when the count is
asked for (after a failure) or when enough are held, so a stream that ends well pays for
no second decoding.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Protocol

from cortexd.routing.dispatch.requirements import CHARS_PER_TOKEN, estimate_tokens
from cortexd.routing.providers.chat import (
    ChatRequest,
    RawEvent,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    Wire,
)

#: Raw event bytes held before they are decoded: a long stream's frames are not all kept.
_HOLD_BYTES = 1 << 20


class _Decoder(Protocol):
    def feed(self, event: Mapping[str, Any]) -> list[Any]: ...

    def summary(self) -> Any: ...


def _decoder(wire: Wire) -> _Decoder:
    # Imported here: only a stream cut short (or a very long one) decodes its frames twice.
    if wire == "messages":
        from cortexd.routing.providers.anthropic_wire import AnthropicStreamDecoder

        return AnthropicStreamDecoder()
    if wire == "responses":
        from cortexd.routing.providers.openai_responses_wire import ResponsesStreamDecoder

        return ResponsesStreamDecoder()
    from cortexd.routing.providers.openai_wire import ChatStreamDecoder

    return ChatStreamDecoder()


class StreamTally:
    """Counts what one try's stream carried, for `usage()` if it never finishes.

    >>> from cortexd.routing.providers.chat import ChatMessage
    >>> tally = StreamTally(ChatRequest("m", (ChatMessage.of("user", "x" * 350),)))
    >>> tally.feed(TextDelta("y" * 70))
    >>> tally.feed(ToolCallDelta(0, "id", "look", '{"q": 1}'))
    >>> tally.usage()
    Usage(input_tokens=104, output_tokens=24, cache_read_tokens=0, cache_write_tokens=0, \
reasoning_tokens=0, cache_write_1h_tokens=0)
    """

    def __init__(self, request: ChatRequest) -> None:
        self._request = request
        self._chars = 0
        self._thought = 0
        self._frames: list[bytes] = []
        self._held = 0
        self._wire: _Decoder | None = None

    def feed(self, event: StreamEvent) -> None:
        """Count one event of the stream (any kind; those without content count nothing)."""
        if isinstance(event, TextDelta):
            self._chars += len(event.text)
        elif isinstance(event, ToolCallDelta):
            self._chars += len(event.name or "") + len(event.arguments)
        elif isinstance(event, ReasoningDelta):
            self._thought += len(event.text)
        elif isinstance(event, RawEvent):
            self._frames.append(event.data)
            self._held += len(event.data)
            if self._held > _HOLD_BYTES:
                self._decode()

    def usage(self) -> Usage:
        """The try's tokens: the provider's counts where it sent them, else estimates."""
        self._decode()
        told = self._wire.summary().usage if self._wire is not None else Usage()
        thought = math.ceil(self._thought / CHARS_PER_TOKEN)
        written = math.ceil(self._chars / CHARS_PER_TOKEN) + thought
        return Usage(
            input_tokens=told.input_tokens or estimate_tokens(self._request),
            output_tokens=max(told.output_tokens, written),
            cache_read_tokens=told.cache_read_tokens,
            cache_write_tokens=told.cache_write_tokens,
            reasoning_tokens=max(told.reasoning_tokens, thought),
            cache_write_1h_tokens=told.cache_write_1h_tokens,
        )

    def _decode(self) -> None:
        """Read the held raw events with their wire's decoder, counting their content."""
        if not self._frames:
            return
        from cortexd.routing.providers.forward import frame_fields

        forward = self._request.forward
        if self._wire is None:
            self._wire = _decoder(forward.wire if forward is not None else "chat")
        frames, self._frames, self._held = self._frames, [], 0
        for frame in frames:
            _, data = frame_fields(frame)
            try:
                payload = json.loads(data) if data and data != "[DONE]" else None
                deltas = self._wire.feed(payload) if isinstance(payload, dict) else []
            except Exception:  # noqa: BLE001 - a frame that cannot be read counts nothing
                continue
            for delta in deltas:
                self.feed(delta)

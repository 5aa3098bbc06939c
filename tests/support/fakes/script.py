"""What a fake answers, in provider-neutral terms: turns, tool calls and faults, and their queue."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Finish = Literal["stop", "length", "tool_calls"]
FaultKind = Literal["status", "hang", "reset", "break_stream", "stream_error", "malformed_json"]

_FINISHES = ("stop", "length", "tool_calls")


@dataclass(frozen=True)
class ToolCall:
    """One tool call the model makes; each fake renders it in its own wire shape."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    """One successful answer from a fake.

    Token counts are neutral: ``input_tokens`` counts every prompt token, cached or not, and
    ``output_tokens`` every generated token, reasoning included. Each fake reports them the way
    its provider does (Anthropic's ``input_tokens`` leaves the cache reads and writes out;
    OpenAI's ``prompt_tokens`` keeps them in; Ollama's ``prompt_eval_count`` is what it evaluated,
    so a test can simulate a truncated prompt by setting ``input_tokens``).
    ``cache_write_1h_tokens`` is the part of ``cache_write_tokens`` written with Anthropic's
    one-hour TTL; the rest is written with the default five-minute TTL.
    """

    text: str = "Hello from the fake."
    thinking: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    finish: Finish | None = None
    stop_sequence: str | None = None
    input_tokens: int = 12
    output_tokens: int = 5
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    delay: float = 0.0
    chunk_delay: float = 0.0
    embedding_dims: int = 8

    def __post_init__(self) -> None:
        if self.finish is not None and self.finish not in _FINISHES:
            raise ValueError(f"finish must be one of {_FINISHES}, not {self.finish!r}")
        if not 0 <= self.cache_write_1h_tokens <= self.cache_write_tokens:
            # A part of the writes, so that every fake's totals stay as they were.
            raise ValueError("cache_write_1h_tokens must lie between 0 and cache_write_tokens")

    @property
    def finish_reason(self) -> Finish:
        """The neutral finish reason: the one given, else derived from the tool calls."""
        if self.finish is not None:
            return self.finish
        return "tool_calls" if self.tool_calls else "stop"


@dataclass(frozen=True)
class Fault:
    """A failure a fake produces instead of a turn; build one with the class methods."""

    kind: FaultKind
    code: int = 0
    body: object = None
    headers: Mapping[str, str] = field(default_factory=dict)
    message: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    after: int = 0

    @classmethod
    def status(
        cls,
        code: int,
        *,
        body: object = None,
        headers: Mapping[str, str] | None = None,
        message: str | None = None,
        error_type: str | None = None,
        error_code: str | None = None,
    ) -> Fault:
        """An HTTP error status.

        The fake renders the error body in its provider's documented shape, unless ``body`` is
        given: a dict or list is sent as JSON, str or bytes as they are.
        """
        return cls(
            kind="status",
            code=code,
            body=body,
            headers=dict(headers or {}),
            message=message,
            error_type=error_type,
            error_code=error_code,
        )

    @classmethod
    def hang(cls) -> Fault:
        """Read the request and never answer (until the client leaves or the server stops)."""
        return cls(kind="hang")

    @classmethod
    def reset(cls) -> Fault:
        """Read the request, then reset the connection (RST) without any response."""
        return cls(kind="reset")

    @classmethod
    def break_stream(cls, after: int) -> Fault:
        """A 200 stream that sends ``after`` content events, then drops the connection.

        The chunked body is never finished. On a non-streaming request, the JSON body is cut in
        half instead.
        """
        return cls(kind="break_stream", after=after)

    @classmethod
    def stream_error(
        cls, after: int, error_type: str = "overloaded_error", message: str = "Overloaded"
    ) -> Fault:
        """A 200 stream that sends ``after`` content events, then an in-stream error.

        The error takes the provider's documented in-stream form. On a non-streaming request
        the fake answers with the HTTP status that goes with ``error_type`` instead.
        """
        return cls(kind="stream_error", after=after, error_type=error_type, message=message)

    @classmethod
    def malformed_json(cls) -> Fault:
        """A 200 response labelled application/json whose body is not valid JSON."""
        return cls(kind="malformed_json")


class Script:
    """A thread-safe queue of turns and faults; an empty queue answers with a default ``Turn()``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[Turn | Fault] = deque()

    def enqueue(self, *items: Turn | Fault) -> None:
        """Append items, answered in order by the next scripted requests."""
        for item in items:
            if not isinstance(item, Turn | Fault):
                raise TypeError(f"expected Turn or Fault, got {type(item).__name__}")
        with self._lock:
            self._items.extend(items)

    def next(self) -> Turn | Fault:
        """Take the next item, or a default turn when none is queued."""
        with self._lock:
            return self._items.popleft() if self._items else Turn()

    def clear(self) -> None:
        """Drop every queued item."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

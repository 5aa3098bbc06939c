"""Pass-through: a client's own request sent to a provider that speaks its wire format.

The body goes out as the client wrote it with only ``model`` changed, through the official
SDK's ``post`` (its auth headers, its error classes, retries off) with the raw body as
``content``. A stream comes back frame by frame: each SSE event is relayed as the bytes the
provider sent, while the adapter's own pure decoder reads it on the side for usage, timing
and the answer's text. Nothing is re-serialised on the way back, so thinking signatures and
fields nobody here knows survive.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import replace
from typing import Any

import httpx2

from cortexd.routing.providers.chat import (
    ChatRequest,
    ChatResponse,
    RawEvent,
    StreamEnd,
    StreamEvent,
    Timing,
    Wire,
)
from cortexd.routing.providers.errors import (
    ProviderConnectionError,
    ProviderError,
    StreamInterruptedError,
)
from cortexd.routing.providers.http_errors import error_for_status
from cortexd.routing.providers.settings import call_timeout
from cortexd.routing.providers.stream import StreamCollector, StreamDecoder, UpstreamStreamError

#: Events that say a stream began but carry no content: held until content comes.
OPENING: Mapping[Wire, frozenset[str]] = {
    "messages": frozenset({"message_start", "ping"}),
    "responses": frozenset({"response.created", "response.in_progress", "response.queued"}),
    "chat": frozenset(),
}
#: The event that ends a stream: held back until the call is on record.
FINAL: Mapping[Wire, frozenset[str]] = {
    "messages": frozenset({"message_stop"}),
    "responses": frozenset({"response.completed", "response.incomplete"}),
    "chat": frozenset({"[DONE]"}),
}
#: The provider's response headers a client should see.
_PASSED_PREFIXES = ("anthropic-ratelimit-", "x-ratelimit-")
_PASSED = frozenset({"request-id", "x-request-id", "retry-after", "openai-processing-ms"})
# The SDKs' own switch for "hand me the response unread" (what with_streaming_response sets).
_RAW_RESPONSE = "X-Stainless-Raw-Response"


def passed_headers(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The request id and rate-limit headers among a provider's response headers.

    >>> passed_headers({"request-id": "r1", "content-type": "x", "x-ratelimit-limit-tokens": "5"})
    (('request-id', 'r1'), ('x-ratelimit-limit-tokens', '5'))
    """
    return tuple(
        (name.lower(), value)
        for name, value in headers.items()
        if name.lower() in _PASSED or name.lower().startswith(_PASSED_PREFIXES)
    )


def body_for(request: ChatRequest) -> bytes:
    """The client's body with this attempt's model, and nothing else changed.

    >>> from cortexd.routing.providers.chat import Forward
    >>> body_for(ChatRequest("m-2", (), forward=Forward("messages", {"model": "a", "x": 1.5})))
    b'{"model":"m-2","x":1.5}'
    """
    assert request.forward is not None
    body = dict(request.forward.body)
    body["model"] = request.model
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class SseSplitter:
    r"""Whole SSE events out of the bytes as they arrive, each with its blank line.

    Any line ending the SSE standard allows (CRLF, LF, CR) ends a line; a long event
    arriving in many reads is scanned once, not again at every read.

    >>> splitter = SseSplitter()
    >>> splitter.feed(b"event: a\ndata: 1\n\nevent: b\r\ndata: 2\r")
    [b'event: a\ndata: 1\n\n']
    >>> splitter.feed(b"\n\r\ndata: 3\r\r")
    [b'event: b\r\ndata: 2\r\n\r\n', b'data: 3\r\r']
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scanned = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """The events `chunk` completes."""
        self._buffer += chunk
        frames: list[bytes] = []
        start = 0
        # Back off three bytes: a separator may have begun at the end of the last read.
        for end in _FRAME_END.finditer(self._buffer, max(0, self._scanned - 3)):
            if end.start() < start:
                continue
            frames.append(bytes(self._buffer[start : end.end()]))
            start = end.end()
        del self._buffer[:start]
        self._scanned = len(self._buffer)
        return frames


_FRAME_END = re.compile(rb"\r\n\r\n|\n\n|\r\r|\r\n\n|\n\r\n")
_LINE = re.compile(rb"\r\n|\r|\n")


def frame_fields(frame: bytes) -> tuple[str | None, str]:
    r"""An SSE event's name and its data lines joined. Lines are split on the bytes, so a
    U+2028 inside a JSON string (legal unescaped) stays where it is.

    >>> frame_fields(b"event: ping\ndata: {}\n\n"), frame_fields(b": comment\n\n")
    (('ping', '{}'), (None, ''))
    >>> frame_fields('data: "a\u2028b"\n\n'.encode()) == (None, '"a\u2028b"')
    True
    """
    event: str | None = None
    data: list[str] = []
    for raw in _LINE.split(frame):
        name, _, value = raw.decode("utf-8", "replace").partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    return event, "\n".join(data)


def _progress(wire: Wire, kind: str | None, payload: object) -> bool:
    """Whether an event only says the stream is alive: opening events, keep-alive comments,
    and a Responses model's reasoning (Codex asks for it encrypted: a long silence may
    follow), all held until content comes, so that a failure before it can still fall back.

    >>> _progress("responses", "response.output_item.added", {"item": {"type": "reasoning"}})
    True
    >>> _progress("messages", "content_block_start", {}), _progress("messages", None, {})
    (False, True)
    """
    if wire == "chat":  # chunks have no event name: what they carry decides
        return not _chat_content(payload)
    if kind is None or kind in OPENING[wire]:
        return True
    if wire == "responses" and isinstance(payload, dict):
        item = payload.get("item")
        reasoning = isinstance(item, dict) and item.get("type") == "reasoning"
        return kind.startswith("response.reasoning") or reasoning
    return False


def _error_event(event: str | None, payload: Mapping[str, Any]) -> None:
    """Raise the provider's in-stream error: Anthropic's ``error`` event nests its type,
    OpenAI's carries a code."""
    if event != "error" and payload.get("type") != "error":
        return
    nested = payload.get("error")
    if isinstance(nested, Mapping):
        raise UpstreamStreamError(nested.get("type"), nested.get("code"), nested.get("message"))
    raise UpstreamStreamError(payload.get("code"), payload.get("code"), payload.get("message"))


def _chat_content(chunk: object) -> bool:
    """Whether a Chat Completions chunk carries content (the first one often holds only
    the role: it opens the stream, like Anthropic's message_start).

    >>> _chat_content({"choices": [{"delta": {"role": "assistant", "content": ""}}]})
    False
    >>> _chat_content({"choices": [{"delta": {"content": "Hi"}}]})
    True
    """
    if not isinstance(chunk, dict):
        return False
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if any(delta.get(k) for k in ("content", "tool_calls", "refusal", "reasoning_content")):
            return True
        if choice.get("finish_reason"):
            return True
    return False


async def forward(
    client: Any,  # an official SDK client: `AsyncAnthropic` or `AsyncOpenAI` (their `post`)
    path: str,
    request: ChatRequest,
    decoder: StreamDecoder,
    from_json: Callable[[Mapping[str, Any]], ChatResponse],
    *,
    provider: str,
    map_error: Callable[[BaseException], ProviderError],
    caught: tuple[type[BaseException], ...],
    clock: Callable[[], float] = time.monotonic,
) -> AsyncGenerator[StreamEvent, None]:
    """Send the client's request; yield its stream's events as `RawEvent`s, then `StreamEnd`
    (whose response holds the last event, or the whole JSON answer, in `raw`)."""
    forwarded = request.forward
    assert forwarded is not None
    headers = {"Content-Type": "application/json", **forwarded.headers}
    if forwarded.stream:
        headers |= {"Accept": "text/event-stream", _RAW_RESPONSE: "stream"}
    options: dict[str, Any] = {"headers": headers, "timeout": call_timeout(request.timeout)}
    if forwarded.query:
        options["params"] = dict(forwarded.query)
    started = clock()
    response: httpx2.Response | None = None
    try:
        response = await client.post(
            path, cast_to=httpx2.Response, content=body_for(request), options=options
        )
        assert response is not None
        shown = passed_headers(response.headers)
        if not forwarded.stream:
            raw = await response.aread()
            answer = from_json(json.loads(raw))
            elapsed = clock() - started
            timing = Timing(elapsed, elapsed)
            yield StreamEnd(replace(answer, timing=timing, raw=raw, headers=shown))
            return
        collector = StreamCollector(started, clock)
        events = _relay(
            response, forwarded.wire, decoder, collector, shown, (provider, request.model)
        )
        async with contextlib.aclosing(events):
            async for event in events:
                yield event
    except UpstreamStreamError as exc:
        kind = exc.error_type or exc.code
        raise error_for_status(
            200, exc.message, provider=provider, model=request.model, error_type=kind, code=exc.code
        ) from None
    except caught as exc:
        error = map_error(exc)
        if response is not None and type(error) is ProviderConnectionError:
            error = StreamInterruptedError(error.detail, provider=provider, model=request.model)
        raise error from None
    finally:
        if response is not None:
            await response.aclose()


async def _relay(
    response: httpx2.Response,
    wire: Wire,
    decoder: StreamDecoder,
    collector: StreamCollector,
    shown: tuple[tuple[str, str], ...],
    where: tuple[str, str],
) -> AsyncGenerator[StreamEvent, None]:
    splitter = SseSplitter()
    tail: list[bytes] = []
    content = False
    first = shown
    async for chunk in response.aiter_bytes():
        for frame in splitter.feed(chunk):
            event, data = frame_fields(frame)
            payload: Any = json.loads(data) if data and data != "[DONE]" else {}
            kind = event or (payload.get("type") if isinstance(payload, dict) else None)
            if data == "[DONE]":
                kind = "[DONE]"
            if isinstance(payload, dict):
                _error_event(event, payload)
                for delta in decoder.feed(payload):
                    collector.add(delta)
            if kind in FINAL[wire]:
                tail.append(frame)
                continue
            opening = not content and _progress(wire, kind, payload)
            content = content or not opening
            yield RawEvent(frame, opening, first)
            first = ()
    if not decoder.finished:
        raise StreamInterruptedError(
            "the stream ended before the provider finished it", provider=where[0], model=where[1]
        )
    answer = collector.finish(decoder.summary())
    yield StreamEnd(replace(answer, raw=b"".join(tail), headers=shown))

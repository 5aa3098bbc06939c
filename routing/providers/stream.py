"""Assembling a stream's deltas into the finished answer, the same way for every provider."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from cortexd.errors import CortexError
from cortexd.routing.providers.chat import (
    Alive,
    ChatResponse,
    Delta,
    FinishReason,
    Reasoning,
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Timing,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from cortexd.routing.providers.errors import (
    ProviderConnectionError,
    ProviderError,
    StreamInterruptedError,
)
from cortexd.routing.providers.http_errors import error_for_status


class UpstreamStreamError(CortexError):
    """An error the provider reported inside a stream that had begun with 200 OK.

    Raised by the pure stream decoders; each adapter turns it into our error tree.
    """

    def __init__(self, error_type: str | None, code: str | None, message: str | None) -> None:
        self.error_type = error_type
        self.code = code
        self.message = message or "the provider reported an error inside the stream"
        super().__init__(self.message)


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """What a stream says about itself besides content: who answered, usage, why it ended."""

    model: str
    response_id: str | None = None
    usage: Usage = Usage()
    finish_reason: FinishReason = "stop"
    provider_finish: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass
class _Call:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class StreamCollector:
    """Keeps the text, tool calls and reasoning of a stream, and when its first token came.

    `started` is the `clock` reading when the call began; time to first token is taken at the
    first content delta (text or a tool call), not at reasoning, which is only progress.
    """

    def __init__(self, started: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._started = started
        self._clock = clock
        self.first_token_s: float | None = None
        self._text: list[str] = []
        self._calls: dict[int, _Call] = {}
        self._reasoning: list[Reasoning] = []
        self._open_reasoning: list[str] | None = None

    @property
    def has_content(self) -> bool:
        """Whether any content reached the caller (after which no fallback may splice)."""
        return self.first_token_s is not None

    def add(self, delta: Delta) -> None:
        """Take one delta into the answer."""
        if isinstance(delta, ReasoningDelta):
            self._reason(delta)
            return
        if self.first_token_s is None and (not isinstance(delta, TextDelta) or delta.text):
            self.first_token_s = self._clock() - self._started
        if isinstance(delta, TextDelta):
            self._text.append(delta.text)
        elif isinstance(delta, ToolCallDelta):
            call = self._calls.setdefault(delta.index, _Call())
            call.id = delta.id or call.id
            call.name = delta.name or call.name
            call.arguments.append(delta.arguments)

    def _reason(self, delta: ReasoningDelta) -> None:
        if delta.redacted:
            self._close_reasoning(None)
            self._reasoning.append(Reasoning(delta.text, redacted=True))
            return
        if self._open_reasoning is None:
            self._open_reasoning = []
        self._open_reasoning.append(delta.text)
        if delta.signature is not None:
            self._close_reasoning(delta.signature)

    def _close_reasoning(self, signature: str | None) -> None:
        if self._open_reasoning is not None:
            self._reasoning.append(Reasoning("".join(self._open_reasoning), signature))
        self._open_reasoning = None

    def finish(self, summary: StreamSummary) -> ChatResponse:
        """The whole answer, once the stream ended properly."""
        self._close_reasoning(None)
        calls = tuple(
            ToolCall(c.id, c.name, "".join(c.arguments) or "{}")
            for _, c in sorted(self._calls.items())
        )
        total = self._clock() - self._started
        return ChatResponse(
            model=summary.model,
            text="".join(self._text),
            tool_calls=calls,
            reasoning=tuple(self._reasoning),
            finish_reason=summary.finish_reason,
            usage=summary.usage,
            timing=Timing(self.first_token_s, total),
            response_id=summary.response_id,
            provider_finish=summary.provider_finish,
            warnings=summary.warnings,
        )


class StreamDecoder(Protocol):
    """A provider's pure translator from its stream events (JSON objects) to our deltas."""

    finished: bool

    def feed(self, event: Mapping[str, Any]) -> list[Delta]: ...

    def summary(self) -> StreamSummary: ...


async def run_stream(
    open_events: Callable[[], Awaitable[AsyncIterator[Any]]],
    decoder: StreamDecoder,
    *,
    provider: str,
    model: str,
    map_error: Callable[[BaseException], ProviderError],
    caught: tuple[type[BaseException], ...],
    warnings: tuple[str, ...] = (),
    clock: Callable[[], float] = time.monotonic,
) -> AsyncGenerator[StreamEvent, None]:
    """Open an SDK stream, yield our deltas, end with `StreamEnd` — or raise our error.

    `open_events` starts the call and returns the SDK's async iterator of events (pydantic
    models or dicts). An error event inside the stream, a broken connection, and a stream
    that ends before the provider's end event all raise a `ProviderError`.
    """
    started = clock()
    collector = StreamCollector(started, clock)
    events: AsyncIterator[Any] | None = None
    try:
        events = await open_events()
        alive = False
        async for event in events:
            if not alive:
                alive = True
                yield Alive()  # the first event, whatever it says: the model is there
            data = event if isinstance(event, Mapping) else event.model_dump()
            for delta in decoder.feed(data):
                collector.add(delta)
                yield delta
    except UpstreamStreamError as exc:
        kind = exc.error_type or exc.code
        raise error_for_status(
            200, exc.message, provider=provider, model=model, error_type=kind, code=exc.code
        ) from None
    except caught as exc:
        error = map_error(exc)
        if events is not None and type(error) is ProviderConnectionError:
            # Some SDKs call a connection lost mid-body a connection error; once the stream
            # has begun it is an interrupted stream.
            error = StreamInterruptedError(error.detail, provider=provider, model=model)
        raise error from None
    finally:
        close = getattr(events, "aclose", None) or getattr(events, "close", None)
        if close is not None:
            await close()
    if not decoder.finished:
        raise StreamInterruptedError(
            "the stream ended before the provider finished it", provider=provider, model=model
        )
    summary = decoder.summary()
    summary = replace(summary, warnings=warnings + summary.warnings)
    yield StreamEnd(collector.finish(summary))

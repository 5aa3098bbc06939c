"""One model's stream under the dispatcher's time limits: the wait for a first sign of life,
for the first event (long for a model that thinks first), and between events once content
flows. Reasoning and opening events are held back until content comes, so a model that
fails before answering can still be replaced; after content, a failure is a
`PartialAnswerError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable

from cortexd.routing.catalog import ModelSpec
from cortexd.routing.dispatch.errors import PartialAnswerError
from cortexd.routing.dispatch.liveness import Limits, Phase, hang_wait, silence, wait_for
from cortexd.routing.dispatch.requirements import estimate_tokens
from cortexd.routing.dispatch.state import DispatchSettings
from cortexd.routing.providers.chat import (
    Alive,
    ChatRequest,
    RawEvent,
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
)
from cortexd.routing.providers.contract import ChatProvider
from cortexd.routing.providers.errors import (
    ProviderError,
    ProviderTimeoutError,
    StreamInterruptedError,
)

#: The code of a timeout with no sign of life: a hang, never retried before the next model.
HUNG = "no_sign_of_life"


async def timed_stream(
    provider: ChatProvider,
    spec: ModelSpec,
    request: ChatRequest,
    *,
    deadline: float,
    settings: DispatchSettings,
    clock: Callable[[], float],
    patient: bool,
    answering: Callable[[], None],
    content_seen: asyncio.Event | None = None,
    seen: Callable[[StreamEvent], None] | None = None,
) -> AsyncGenerator[StreamEvent, None]:
    """One model's stream under `settings`' time limits and the request's `deadline`.

    Reasoning is held back until content comes (`answering` is called then: this model
    answers), and a failure after content raises `PartialAnswerError` instead of the error.
    A wait with no sign of life at all ends as a timeout with the code `HUNG`."""
    first_wait = settings.reasoning_ttft_s if patient else settings.ttft_s
    hang = hang_wait(estimate_tokens(request), settings.hang_s)
    if request.forward is not None and not request.forward.stream:
        # A forwarded JSON call says nothing until its whole answer is written: it may
        # take what is left of the deadline (there is no sign of life to wait for).
        first_wait = hang = max(first_wait, deadline - clock())
    if spec.local:
        hang = first_wait  # a local model may be loading: routing/cold_skip.py decides that
    limits = Limits(hang_s=hang, first_s=first_wait, stall_s=settings.stall_s)
    phase: Phase = "waiting"
    held: list[StreamEvent] = []
    event_seen: StreamEvent | None = None
    content = False
    events = provider.stream(request)
    try:
        while True:
            # The deadline bounds the wait for content; once it flows (an agent's turn
            # may stream for minutes), only a stall ends it.
            limit = wait_for(phase, limits)
            if not content:
                limit = min(limit, deadline - clock())
            try:
                async with asyncio.timeout(max(limit, 0.0)):
                    event = await anext(events)
            except StopAsyncIteration:
                if isinstance(event_seen, StreamEnd):
                    return
                broken = StreamInterruptedError(
                    "the stream ended without its end",
                    provider=spec.provider.value,
                    model=spec.name,
                )
                if content:
                    raise PartialAnswerError(spec.name, broken) from None
                raise broken from None
            except TimeoutError:
                error = ProviderTimeoutError(
                    silence(phase, limit),
                    provider=spec.provider.value,
                    model=spec.name,
                    code=HUNG if phase == "waiting" else None,
                )
                if content:
                    raise PartialAnswerError(spec.name, error) from None
                raise error from None
            except ProviderError as error:
                if content:
                    raise PartialAnswerError(spec.name, error) from None
                raise
            if isinstance(event, Alive):
                phase = "alive" if phase == "waiting" else phase
                continue
            event_seen = event
            if seen is not None:
                seen(event)  # held ones too: a try cut short is billed for its thinking
            opening = isinstance(event, RawEvent) and event.opening
            # An opening event is a sign of life, not progress: the first-event wait (a
            # reasoning model's long one) goes on until something more comes.
            phase = "alive" if opening and phase == "waiting" else phase
            phase = phase if opening else "content"
            if not content and (isinstance(event, ReasoningDelta) or opening):
                held.append(event)  # shown once this model is known to answer
                continue
            if not content:
                content = True
                answering()
                if content_seen is not None:
                    content_seen.set()  # a hedged race's verdict (hedge.py)
                for early in held:
                    yield early
            yield event
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()


def thinks_long(spec: ModelSpec) -> bool:
    """Whether a model may think for long before its first token."""
    mid = spec.model_id.casefold()
    return (
        spec.name in ("opus", "codex")
        or "codex" in mid
        or "opus" in mid
        or mid[:2] in ("o1", "o3", "o4")
    )

"""Dispatch: run a plan's chain of models under one deadline until one answers.

Models that cannot serve the request are skipped with a reason (no key, a paused provider,
an open circuit, missing tools/images/JSON, a window too small for the prompt). Each failure
is classified by `policy`: retry once, move on, look for a larger window, or give the client
the provider's message. Streams fall back only until the first content token; after it a
failure ends the stream with `PartialAnswerError`, so no answer ever mixes two models' text.
Every try and every skip becomes one `Attempt`, handed to the injected sink.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, Unpack

from cortexd.routing.catalog import Catalog, ModelSpec
from cortexd.routing.dispatch.attempt import AttemptSink, Outcome
from cortexd.routing.dispatch.embedding import EmbedResult, embed_chain
from cortexd.routing.dispatch.errors import ChainExhaustedError, PartialAnswerError
from cortexd.routing.dispatch.health import ModelHealth
from cortexd.routing.dispatch.hedge import HedgePolicy, race
from cortexd.routing.dispatch.policy import Action, action_for, retry_delay, should_retry
from cortexd.routing.dispatch.requirements import estimate_tokens, missing
from cortexd.routing.dispatch.state import Dispatch, DispatchResult, DispatchSettings, Run, Tried
from cortexd.routing.dispatch.tally import StreamTally
from cortexd.routing.dispatch.timed_stream import HUNG, thinks_long, timed_stream
from cortexd.routing.embed_prefixes import InputType
from cortexd.routing.providers.chat import (
    ChatRequest,
    EmbedRequest,
    StreamEnd,
    StreamEvent,
)
from cortexd.routing.providers.contract import Capabilities, ChatProvider
from cortexd.routing.providers.errors import (
    NotConfiguredError,
    ProviderError,
    ProviderTimeoutError,
)

ProviderLookup = Callable[[ModelSpec], ChatProvider]


class Dispatcher:
    """Runs plans' chains across the providers; remembers model health between requests."""

    def __init__(
        self,
        catalog: Catalog,
        providers: ProviderLookup,
        sink: AttemptSink,
        *,
        health: ModelHealth | None = None,
        settings: DispatchSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.catalog = catalog
        self._providers = providers
        self._sink = sink
        self.health = health or ModelHealth(clock)
        self.settings = settings or DispatchSettings()
        self.clock = clock
        self._rng = rng or random.Random()
        self._sleep = sleep

    async def complete(
        self,
        chain: tuple[str, ...],
        request: ChatRequest,
        *,
        task: str,
        request_id: str,
        deadline_s: float | None = None,
        second_opinion: bool = False,
        hedge: HedgePolicy | None = None,
        catalog: Catalog | None = None,
    ) -> DispatchResult:
        """The first answer the chain produces; raises `ChainExhaustedError` or the
        provider's `InvalidRequestError` when the request itself is wrong.

        `second_opinion` marks the attempts as a cross-check's, not the answer's; `hedge`
        lets a late primary's fallback start beside it (hedge.py); `catalog` is the one
        the call was planned with (else the dispatcher's, the latest)."""
        state = Dispatch(
            request_id, task, second_opinion, began=self.clock(), catalog=catalog or self.catalog
        )
        run = self._run(chain, request, state, deadline_s, streaming=False, hedge=hedge)
        try:
            async for event in run:
                if isinstance(event, StreamEnd):
                    return DispatchResult(event.response, state)
        finally:
            await run.aclose()
        raise ChainExhaustedError([], None)  # pragma: no cover - _run ends with StreamEnd or raises

    def stream(
        self,
        chain: tuple[str, ...],
        request: ChatRequest,
        *,
        task: str,
        request_id: str,
        deadline_s: float | None = None,
        hedge: HedgePolicy | None = None,
        catalog: Catalog | None = None,
    ) -> tuple[Dispatch, AsyncIterator[StreamEvent]]:
        """The dispatch state and the stream of the first model that produces content;
        `hedge` lets a late primary's fallback start beside it (hedge.py); `catalog` as
        for `complete`."""
        state = Dispatch(request_id, task, began=self.clock(), catalog=catalog or self.catalog)
        return state, self._run(chain, request, state, deadline_s, streaming=True, hedge=hedge)

    async def embed(
        self,
        chain: tuple[str, ...],
        request: EmbedRequest,
        *,
        task: str = "Embeddings",
        request_id: str,
        deadline_s: float | None = None,
        input_type: InputType | None = None,
        catalog: Catalog | None = None,
    ) -> EmbedResult:
        """Vectors from the first model of `chain` that embeds, by chat's rules; raises as
        `embedding.embed_chain` says. `input_type` picks a prefix where a model wants one;
        `catalog` as for `complete`."""
        state = Dispatch(request_id, task, began=self.clock(), catalog=catalog or self.catalog)
        run = Run(self.clock() + (deadline_s or self.settings.deadline_s))
        return await embed_chain(self, chain, request, state, run, input_type)

    async def _capabilities(self, provider: ChatProvider, spec: ModelSpec) -> Capabilities:
        caps = await provider.capabilities(spec.model_id)
        if spec.context_window and not spec.local:
            caps = replace(caps, context_window=spec.context_window)  # the user's alias row wins
        return caps

    def _record(
        self, state: Dispatch, spec: ModelSpec, outcome: Outcome, **given: Unpack[Tried]
    ) -> None:
        """One try or skip on the record: in `state` and through the sink."""
        price = self._catalog(state).price(spec) if outcome != "skipped" else None
        attempt = state.attempt(spec, outcome, price=price, now=self.clock(), **given)
        state.attempts.append(attempt)
        self._sink(attempt)

    async def _run(
        self,
        chain: tuple[str, ...],
        request: ChatRequest,
        state: Dispatch,
        deadline_s: float | None,
        *,
        streaming: bool,
        hedge: HedgePolicy | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        deadline = self.clock() + (deadline_s or self.settings.deadline_s)
        run = Run(deadline, size=len(chain))
        hedged: set[int] = set()  # fallbacks that had their turn beside their primary
        first = True  # the first model tried (skipped ones aside) may be raced
        for index, name in enumerate(chain):
            if index in hedged:
                continue
            spec = self._catalog(state).resolve(name)
            if spec is None:
                run.failures.append((name, "not in the model catalog"))
                continue
            why = self.health.skip_reason(spec)
            if why is not None:
                self._skip(state, spec, run, index, why)
                continue
            # skip_reason() may have made this request the circuit's probe: whatever happens
            # below, the probe slot is given back (a verdict, if any, is recorded first).
            partner = self._partner(state, chain, index, hedge) if first else None
            first = False
            if partner is not None and hedge is not None:
                attempt = self._hedged(spec, index, partner, request, state, run, streaming, hedge)
            else:
                attempt = self._try_model(spec, index, request, state, run, streaming)
            try:
                async for event in attempt:
                    yield event
                if run.answered:
                    return
            finally:
                await attempt.aclose()  # a caller that left is recorded as such, at once
                self.health.abandoned(spec)
                if partner is not None and any(
                    a.model == partner[1].name and a.outcome != "cancelled" for a in state.attempts
                ):
                    hedged.add(partner[0])  # it had its turn; one cancelled by the race did not
        raise ChainExhaustedError(run.failures, run.retry_hint)

    def _catalog(self, state: Dispatch) -> Catalog:
        """The catalog of `state`'s request: the one it was planned with."""
        return state.catalog or self.catalog

    def _partner(
        self, state: Dispatch, chain: tuple[str, ...], index: int, hedge: HedgePolicy | None
    ) -> tuple[int, ModelSpec] | None:
        """The model a hedge would start beside the first model tried: the next one, when it
        is healthy and the call's policy lets it run."""
        if hedge is None or index + 1 >= len(chain):
            return None
        spec = self._catalog(state).resolve(chain[index + 1])
        if spec is None or self.health.unavailable({spec.name: spec}):
            return None
        return None if hedge.refusal(spec) is not None else (index + 1, spec)

    def _hedged(
        self,
        spec: ModelSpec,
        index: int,
        partner: tuple[int, ModelSpec],
        request: ChatRequest,
        state: Dispatch,
        run: Run,
        streaming: bool,
        hedge: HedgePolicy,
    ) -> AsyncGenerator[StreamEvent, None]:
        """The primary, raced by its partner once it is late (hedge.py)."""
        number, other = partner

        def hedging() -> None:
            state.hedged = True
            hedge.started(other)

        return race(
            lambda seen: self._try_model(spec, index, request, state, run, streaming, seen),
            lambda seen: self._try_model(other, number, request, state, run, streaming, seen),
            hedge.after_s(spec),
            hedging,
        )

    def _skip(self, state: Dispatch, spec: ModelSpec, run: Run, index: int, why: str) -> None:
        self._record(state, spec, "skipped", number=0, fallback=index > 0, skip_reason=why)
        run.failures.append((spec.name, f"skipped: {why}"))

    async def _try_model(
        self,
        spec: ModelSpec,
        index: int,
        request: ChatRequest,
        state: Dispatch,
        run: Run,
        streaming: bool,
        content_seen: asyncio.Event | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        """Try one model (and retry it once when that may help); sets `run.answered`."""
        provider = self._providers(spec)
        try:
            limit = max(0.0, min(self.settings.ttft_s, run.deadline - self.clock()))
            async with asyncio.timeout(limit):
                caps = await self._capabilities(provider, spec)
        except ProviderError as unknown:
            self._skip(state, spec, run, index, f"cannot tell what it can do: {unknown.detail}")
            return
        except TimeoutError:
            self._skip(state, spec, run, index, "cannot tell what it can do: no answer in time")
            return
        why = missing(request, caps)
        if why is None and run.min_window and (caps.context_window or 0) <= run.min_window:
            why = f"its window ({caps.context_window}) is no larger than a window too small"
        if why is not None:
            self._skip(state, spec, run, index, why)
            return
        # Reasoning models, requests asking for reasoning and local models (which may have to
        # load first) get the long wait for their first event.
        patient = spec.local or caps.reasoning or request.reasoning is not None or thinks_long(spec)
        retries = 0
        while True:
            remaining = run.deadline - self.clock()
            if remaining <= 0:
                run.failures.append((spec.name, "the request's deadline passed"))
                raise ChainExhaustedError(run.failures, run.retry_hint)
            run.number += 1
            sized = replace(request, model=spec.model_id, timeout=remaining)
            started = self.clock()
            last: StreamEvent | None = None  # only the last event is kept: streams run long
            tally = StreamTally(sized)  # what it used, should it never finish
            tried: dict[str, Any] = {
                "number": run.number,
                "fallback": index > 0,
                "retry": retries > 0,
            }
            failure: ProviderError | None = None
            try:
                # Non-streamed requests are streamed too, so the same first-token and stall
                # limits catch a hanging upstream; nothing reaches the caller until the end,
                # so any failure may fall back.
                inner = timed_stream(
                    provider, spec, sized,
                    deadline=run.deadline, settings=self.settings, clock=self.clock,
                    patient=patient, answering=functools.partial(_answering, state, spec),
                    content_seen=content_seen, seen=tally.feed,
                )  # fmt: skip
                try:
                    async for event in inner:
                        if last is None:
                            state.fallback = index > 0
                        last = event
                        if isinstance(event, StreamEnd):
                            break
                        if streaming:
                            yield event
                finally:
                    await inner.aclose()
            except PartialAnswerError as partial:
                if not streaming:
                    failure = partial.cause
                    tried |= {"usage": tally.usage(), "estimated": True}  # billed, then cut
                else:
                    self.health.failed(spec, partial.cause)
                    self._record(
                        state, spec, "partial", **tried,
                        total_s=self.clock() - started, error=partial.cause,
                        usage=tally.usage(), estimated=True,
                    )  # fmt: skip
                    raise
            except NotConfiguredError as absent:
                # No key, no library: not a failure of the model, just not usable here.
                run.number -= 1
                self._skip(state, spec, run, index, absent.detail)
                return
            except ProviderError as failed:
                failure = failed
            except (asyncio.CancelledError, GeneratorExit):
                self._record(
                    state, spec, "cancelled", **tried,
                    total_s=self.clock() - started, usage=tally.usage(), estimated=True,
                )  # fmt: skip
                raise
            else:
                end = last
                assert isinstance(end, StreamEnd)
                self.health.succeeded(spec)
                state.model, state.provider = spec.name, spec.provider.value
                state.fallback = index > 0
                self._record(
                    state, spec, "ok", **tried,
                    response=end.response, total_s=self.clock() - started,
                )  # fmt: skip
                run.answered = True
                # Recorded before the last event leaves: a caller may stop reading there.
                yield end
                return
            error = failure
            assert error is not None
            action = action_for(error)
            if action is Action.SKIP:
                run.number -= 1
                self._skip(state, spec, run, index, error.detail)
                return
            self.health.failed(spec, error)
            self._record(state, spec, "error", **tried, total_s=self.clock() - started, error=error)
            if action is Action.FAIL:
                raise error
            if action is Action.LARGER_WINDOW:
                run.min_window = max(
                    run.min_window, caps.context_window or estimate_tokens(request)
                )
            # A model that timed out is not retried before the chain's next model has had its
            # turn (docs/architecture.md), and a hung one is not retried at all.
            timed_out = isinstance(error, ProviderTimeoutError)
            moves_on = timed_out and (error.code == HUNG or index < run.size - 1)
            if should_retry(error, retries) and not moves_on:
                left = run.deadline - self.clock()
                delay = retry_delay(retries, error.retry_after, left, self._rng)
                if delay is not None:
                    await self._sleep(delay)
                    retries += 1
                    continue
            if error.retry_after is not None:
                run.retry_hint = min(run.retry_hint or error.retry_after, error.retry_after)
            run.failures.append((spec.name, f"{type(error).__name__}: {error.detail}"))
            return


def _answering(state: Dispatch, spec: ModelSpec) -> None:
    """`spec` is the model answering `state`'s request (its first content came)."""
    state.model, state.provider = spec.name, spec.provider.value

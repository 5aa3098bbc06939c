"""Hedged fallback (issue 20, section 1): a primary with no content by its threshold gets its
fallback started beside it; the first with content answers, the other is cancelled and on
the record. Dispatch with the real adapters against the wire-format fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn

from cortexd.bookkeeping.spend import SpendTracker
from cortexd.routing.catalog import ModelSpec, build_catalog
from cortexd.routing.dispatch import Attempt, Dispatcher, DispatchSettings, HedgePolicy
from cortexd.routing.providers import ChatMessage, ChatRequest, StreamEnd, TextDelta
from cortexd.routing.providers.registry import ProviderRegistry

pytestmark = pytest.mark.anyio
CHAIN = ("sonnet", "gpt-4o")


@pytest.fixture
async def registry(
    anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> AsyncIterator[ProviderRegistry]:
    anthropic_fake.clear()
    openai_fake.clear()
    env = {"ANTHROPIC_BASE_URL": anthropic_fake.base_url, "OPENAI_BASE_URL": openai_fake.base_url}
    built = ProviderRegistry(keys={"anthropic": "k", "openai": "k"}, env=env)
    # What each model can do is looked up once (genai-prices' first load is slow).
    for spec in (build_catalog().resolve(name) for name in CHAIN):
        assert spec is not None
        await built(spec).capabilities(spec.model_id)
    yield built
    await built.aclose()


def _dispatcher(registry: ProviderRegistry, attempts: list[Attempt]) -> Dispatcher:
    settings = DispatchSettings(
        deadline_s=30, ttft_s=10, reasoning_ttft_s=10, stall_s=10, hang_s=10
    )
    return Dispatcher(build_catalog(), registry, attempts.append, settings=settings)


def _ask() -> ChatRequest:
    return ChatRequest("auto", (ChatMessage.of("user", "hello"),), max_tokens=50)


def _policy(after: float = 0.5, refusal: str | None = None) -> HedgePolicy:
    def refuse(spec: ModelSpec) -> str | None:
        return refusal

    return HedgePolicy(after_s=lambda spec: after, refusal=refuse)


def _outcomes(attempts: list[Attempt]) -> list[tuple[str, str]]:
    return sorted((a.model, a.outcome) for a in attempts)


async def test_a_late_primary_is_raced_by_its_fallback_which_answers(
    registry: ProviderRegistry, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    attempts: list[Attempt] = []
    anthropic_fake.enqueue(Turn(text="late primary", delay=3.0))
    openai_fake.enqueue(Turn(text="the fallback"))
    result = await _dispatcher(registry, attempts).complete(
        CHAIN, _ask(), task="t", request_id="h1", hedge=_policy()
    )
    assert result.response.text == "the fallback"
    assert result.dispatch.hedged and result.dispatch.fallback
    assert result.dispatch.model == "gpt-4o"
    assert _outcomes(attempts) == [("gpt-4o", "ok"), ("sonnet", "cancelled")]


async def test_a_streamed_race_yields_only_the_winners_content(
    registry: ProviderRegistry, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    attempts: list[Attempt] = []
    anthropic_fake.enqueue(Turn(text="late primary", delay=3.0))
    openai_fake.enqueue(Turn(text="the fallback streams"))
    state, events = _dispatcher(registry, attempts).stream(
        CHAIN, _ask(), task="t", request_id="h2", hedge=_policy()
    )
    seen = [event async for event in events]
    text = "".join(e.text for e in seen if isinstance(e, TextDelta))
    assert text == "the fallback streams" and isinstance(seen[-1], StreamEnd)
    assert state.hedged and state.model == "gpt-4o"
    assert ("sonnet", "cancelled") in _outcomes(attempts)


async def test_a_primary_on_time_is_never_raced(
    registry: ProviderRegistry, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    attempts: list[Attempt] = []
    anthropic_fake.enqueue(Turn(text="on time"))
    result = await _dispatcher(registry, attempts).complete(
        CHAIN, _ask(), task="t", request_id="h3", hedge=_policy(after=5.0)
    )
    assert result.response.text == "on time" and not result.dispatch.hedged
    assert not openai_fake.requests


async def test_the_primary_wins_when_it_answers_first_after_the_hedge_began(
    registry: ProviderRegistry, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    attempts: list[Attempt] = []
    anthropic_fake.enqueue(Turn(text="primary after all", delay=0.8))
    openai_fake.enqueue(Turn(text="too slow", delay=5.0))
    result = await _dispatcher(registry, attempts).complete(
        CHAIN, _ask(), task="t", request_id="h4", hedge=_policy(after=0.3)
    )
    assert result.response.text == "primary after all" and result.dispatch.hedged
    assert _outcomes(attempts) == [("gpt-4o", "cancelled"), ("sonnet", "ok")]


async def test_a_primary_that_fails_before_its_threshold_falls_back_as_usual(
    registry: ProviderRegistry, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    attempts: list[Attempt] = []
    anthropic_fake.enqueue(Fault.status(529), Fault.status(529))
    openai_fake.enqueue(Turn(text="the fallback"))
    result = await _dispatcher(registry, attempts).complete(
        CHAIN, _ask(), task="t", request_id="h5", hedge=_policy(after=5.0)
    )
    assert result.response.text == "the fallback" and not result.dispatch.hedged
    assert len(openai_fake.requests) == 1


async def test_a_refused_hedge_waits_for_the_primary(
    registry: ProviderRegistry, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    attempts: list[Attempt] = []
    anthropic_fake.enqueue(Turn(text="slow but mine", delay=1.0))
    result = await _dispatcher(registry, attempts).complete(
        CHAIN, _ask(), task="t", request_id="h6", hedge=_policy(after=0.2, refusal="too big")
    )
    assert result.response.text == "slow but mine" and not result.dispatch.hedged
    assert not openai_fake.requests


async def test_a_cancelled_thinker_is_billed_for_its_thinking(
    registry: ProviderRegistry, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    attempts: list[Attempt] = []
    # The primary thinks aloud for about 2 s before any text; the fallback answers at once.
    thinking = " ".join(f"step{i}" for i in range(40))
    anthropic_fake.enqueue(Turn(thinking=thinking, text="late", chunk_delay=0.05))
    openai_fake.enqueue(Turn(text="the fallback"))
    result = await _dispatcher(registry, attempts).complete(
        CHAIN, _ask(), task="t", request_id="h7", hedge=_policy(after=0.3)
    )
    assert result.response.text == "the fallback"
    cancelled = next(a for a in attempts if a.outcome == "cancelled")
    assert cancelled.model == "sonnet" and cancelled.usage.output_tokens > 0


async def test_a_race_winner_that_breaks_still_leaves_its_fallback_a_turn(
    registry: ProviderRegistry, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    attempts: list[Attempt] = []
    anthropic_fake.enqueue(Fault.break_stream(after=3), Fault.break_stream(after=3))
    # The partner starts at once but is slower: the primary wins the race, then breaks. The
    # cancelled partner may or may not have reached the fake before it was cancelled: either
    # way, the fallback's own turn gets a slow but whole answer.
    slow = Turn(text="the fallback answered", delay=1.0)
    openai_fake.enqueue(slow, slow)
    result = await _dispatcher(registry, attempts).complete(
        CHAIN, _ask(), task="t", request_id="h8", hedge=_policy(after=0.0)
    )
    assert result.response.text == "the fallback answered"
    assert ("gpt-4o", "cancelled") in _outcomes(attempts)


def test_a_hedge_on_the_same_provider_holds_both_estimates() -> None:
    spend = SpendTracker(lambda: {})
    spend.reserve("call", "anthropic", 100)
    spend.reserve("call", "anthropic", 300, more=True)  # the hedge's second Claude model
    assert spend.held().of("anthropic") == 400

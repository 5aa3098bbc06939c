"""Dispatch of forwarded (pass-through) requests: time limits that suit agent turns.

A stream whose content flows is not cut by the request's deadline (only a stall ends it);
opening events are not progress, so a reasoning model keeps its long first-event wait; a
forwarded JSON call, which says nothing until its whole answer is written, may take what is
left of the deadline."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from support.fakes import FakeAnthropic, FakeOpenAI, Turn

from cortexd.routing.catalog import build_catalog
from cortexd.routing.dispatch import Attempt, Dispatcher, DispatchSettings
from cortexd.routing.providers import (
    ChatMessage,
    ChatRequest,
    Forward,
    RawEvent,
    StreamEnd,
)
from cortexd.routing.providers.registry import ProviderRegistry

KEY = "sk-test-forward"
pytestmark = pytest.mark.anyio


@pytest.fixture
async def registry(
    anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> AsyncIterator[ProviderRegistry]:
    env = {"ANTHROPIC_BASE_URL": anthropic_fake.base_url, "OPENAI_BASE_URL": openai_fake.base_url}
    built = ProviderRegistry(keys={"anthropic": KEY, "openai": KEY}, env=env)
    yield built
    await built.aclose()


def _dispatcher(registry: ProviderRegistry, **settings: float) -> Dispatcher:
    attempts: list[Attempt] = []
    return Dispatcher(
        build_catalog(), registry, attempts.append, settings=DispatchSettings(**settings)
    )


def _messages(stream: bool) -> ChatRequest:
    body = {"model": "sonnet", "max_tokens": 100, "stream": stream,
            "messages": [{"role": "user", "content": "tell me a story"}]}  # fmt: skip
    return ChatRequest(
        "sonnet", (ChatMessage.of("user", "tell me a story"),), max_tokens=100,
        forward=Forward("messages", body, {}, stream),
    )  # fmt: skip


async def test_a_flowing_stream_outlives_the_requests_deadline(
    registry: ProviderRegistry, anthropic_fake: FakeAnthropic
) -> None:
    anthropic_fake.clear()
    # What the model can do is looked up once (genai-prices' first load takes a while).
    anthropic_fake.enqueue(Turn(text="warm"))
    await _dispatcher(registry).complete(("sonnet",), _messages(False), task="t", request_id="r0")
    # About 2 s of content in pieces 0.2 s apart, against a 1 s deadline.
    anthropic_fake.enqueue(Turn(text=" ".join(["word"] * 10), chunk_delay=0.2))
    dispatcher = _dispatcher(
        registry, deadline_s=1.0, ttft_s=1.0, reasoning_ttft_s=1.0, stall_s=1.0
    )
    _, events = dispatcher.stream(("sonnet",), _messages(True), task="t", request_id="r1")
    seen = [event async for event in events]
    assert isinstance(seen[-1], StreamEnd)
    assert seen[-1].response.raw is not None and b"message_stop" in seen[-1].response.raw
    assert sum(isinstance(e, RawEvent) for e in seen) > 10


async def test_a_forwarded_json_call_may_take_what_is_left_of_the_deadline(
    registry: ProviderRegistry, anthropic_fake: FakeAnthropic
) -> None:
    anthropic_fake.clear()
    anthropic_fake.enqueue(Turn(text="slowly written", delay=1.0))
    dispatcher = _dispatcher(
        registry, deadline_s=10.0, ttft_s=0.3, reasoning_ttft_s=0.3, stall_s=0.3
    )
    result = await dispatcher.complete(("sonnet",), _messages(False), task="t", request_id="r2")
    assert result.response.text == "slowly written" and result.response.raw is not None


async def test_a_stream_that_sends_nothing_is_still_cut_at_its_first_event_wait(
    registry: ProviderRegistry, anthropic_fake: FakeAnthropic
) -> None:
    anthropic_fake.clear()
    anthropic_fake.enqueue(Turn(text="late", delay=2.0), Turn(text="late", delay=2.0))
    dispatcher = _dispatcher(
        registry, deadline_s=10.0, ttft_s=0.3, reasoning_ttft_s=0.3, stall_s=0.3
    )
    _, events = dispatcher.stream(("sonnet",), _messages(True), task="t", request_id="r3")
    with pytest.raises(Exception, match="no sign of life|sent no content"):
        _ = [event async for event in events]


@pytest.mark.parametrize("forwarded", [False, True])
async def test_a_model_that_shows_life_keeps_its_long_wait(
    registry: ProviderRegistry, anthropic_fake: FakeAnthropic, forwarded: bool
) -> None:
    anthropic_fake.clear()
    anthropic_fake.enqueue(Turn(text="warm"))
    await _dispatcher(registry).complete(("sonnet",), _messages(False), task="t", request_id="w")
    # Events 0.5 s apart: longer than the 0.3 s a silent model gets, well within the 5 s a
    # model that has shown a sign of life (message_start) gets before its content.
    anthropic_fake.enqueue(Turn(text="sound", chunk_delay=0.5))
    dispatcher = _dispatcher(
        registry, deadline_s=30.0, ttft_s=5.0, reasoning_ttft_s=5.0, stall_s=5.0, hang_s=0.3
    )
    request = _messages(True) if forwarded else ask("Is this proof sound?")
    result = await dispatcher.complete(("sonnet",), request, task="t", request_id="r4")
    assert result.response.text == "sound"


async def test_a_model_with_no_sign_of_life_is_hung_within_its_short_wait(
    registry: ProviderRegistry, anthropic_fake: FakeAnthropic
) -> None:
    anthropic_fake.clear()
    anthropic_fake.enqueue(Turn(text="late", delay=1.0))
    dispatcher = _dispatcher(
        registry, deadline_s=30.0, ttft_s=5.0, reasoning_ttft_s=5.0, stall_s=5.0, hang_s=0.3
    )
    _, events = dispatcher.stream(("sonnet",), ask("hi"), task="t", request_id="r5")
    with pytest.raises(Exception, match="no sign of life"):
        _ = [event async for event in events]


def ask(text: str) -> ChatRequest:
    return ChatRequest("sonnet", (ChatMessage.of("user", text),), max_tokens=100)


async def test_a_forwarded_chat_stream_flows_as_it_comes_not_at_its_end(
    registry: ProviderRegistry, openai_fake: FakeOpenAI
) -> None:
    openai_fake.clear()
    openai_fake.enqueue(Turn(text="one two three four five six", chunk_delay=0.2))
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "count"}]}
    request = ChatRequest(
        "gpt-4o", (ChatMessage.of("user", "count"),), forward=Forward("chat", body, {}, True)
    )
    dispatcher = _dispatcher(registry)
    _, events = dispatcher.stream(("gpt-4o",), request, task="t", request_id="c1")
    first_content: float | None = None
    async for event in events:
        if isinstance(event, RawEvent) and not event.opening and first_content is None:
            first_content = time.monotonic()
        if isinstance(event, StreamEnd):
            assert first_content is not None and time.monotonic() - first_content > 0.6

"""Dispatch against the fake providers: every failure of the primary is answered by the
fallback when one can serve, reported clearly when none can, and every attempt is recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from support.fakes import FakeAnthropic, FakeOllama, FakeOpenAI, Fault, OllamaModel, Turn

from cortexd.routing.catalog import Api, ModelSpec, Provider, build_catalog
from cortexd.routing.dispatch import (
    Attempt,
    ChainExhaustedError,
    Dispatcher,
    DispatchSettings,
    PartialAnswerError,
)
from cortexd.routing.providers import (
    ChatMessage,
    ChatRequest,
    InvalidRequestError,
    StreamEnd,
    TextDelta,
    ToolSpec,
)
from cortexd.routing.providers.registry import ProviderRegistry

pytestmark = pytest.mark.anyio
KEY = "sk-test-canary-0123456789abcdefghijklmnopqrstuv"
PRIMARY, FALLBACK = "sonnet", "gpt-4o"
CHAIN = (PRIMARY, FALLBACK)


class Clock:
    """Time that tests move by hand (circuit cooldowns), over the real monotonic clock."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def ollama_fake() -> Iterator[FakeOllama]:
    models = [
        OllamaModel("llama3.1:8b", capabilities=("completion",)),  # no tools
        OllamaModel("tiny:1b", context_length=2048, capabilities=("completion", "tools")),
    ]
    with FakeOllama(models=models) as fake:
        yield fake


@pytest.fixture
async def registry(
    anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI, ollama_fake: FakeOllama
) -> AsyncIterator[ProviderRegistry]:
    env = {
        "ANTHROPIC_BASE_URL": anthropic_fake.base_url,
        "OPENAI_BASE_URL": openai_fake.base_url,
    }
    built = ProviderRegistry(
        keys={"anthropic": KEY, "openai": KEY}, env=env, ollama_host=ollama_fake.url
    )
    yield built
    await built.aclose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def attempts() -> list[Attempt]:
    return []


@pytest.fixture
def pauses() -> list[float]:
    return []


@pytest.fixture
def dispatcher(
    registry: ProviderRegistry, attempts: list[Attempt], clock: Clock, pauses: list[float]
) -> Dispatcher:
    async def sleep(seconds: float) -> None:
        pauses.append(seconds)  # retries are instant in tests; the delay is still checked

    settings = DispatchSettings(deadline_s=10.0, ttft_s=0.5, reasoning_ttft_s=0.5, stall_s=0.5)
    tiny = [m for m in build_catalog()]  # the built-in catalog, as the seed file uses it
    catalog = build_catalog(tiny)
    return Dispatcher(
        catalog, registry, attempts.append, settings=settings, clock=clock, sleep=sleep
    )


def ask(text: str = "Hello", **kwargs: object) -> ChatRequest:
    return ChatRequest("auto", (ChatMessage.of("user", text),), **kwargs)  # type: ignore[arg-type]


async def run(dispatcher: Dispatcher, chain: tuple[str, ...] = CHAIN, **kwargs: object) -> str:
    result = await dispatcher.complete(
        chain, ask(**kwargs), task="General agent work", request_id="req-1"
    )
    return f"{result.dispatch.model}: {result.response.text}"


def outcomes(attempts: list[Attempt]) -> list[tuple[str, str, str | None]]:
    return [(a.model, a.outcome, a.error_class) for a in attempts]


TRANSIENT = [
    (Fault.status(429), "RateLimitError"),
    (Fault.status(500), "ServerError"),
    (Fault.status(503), "OverloadedError"),
    (Fault.status(529), "OverloadedError"),
    (Fault.reset(), "ProviderConnectionError"),
    (Fault.malformed_json(), "StreamInterruptedError"),
    (Fault.stream_error(after=0), "OverloadedError"),
    (Fault.break_stream(after=0), "StreamInterruptedError"),
]


@pytest.mark.parametrize(("fault", "error_class"), TRANSIENT)
async def test_a_transient_failure_is_retried_once_then_the_fallback_answers(
    dispatcher: Dispatcher,
    anthropic_fake: FakeAnthropic,
    openai_fake: FakeOpenAI,
    attempts: list[Attempt],
    pauses: list[float],
    fault: Fault,
    error_class: str,
) -> None:
    anthropic_fake.enqueue(fault, fault)
    openai_fake.enqueue(Turn(text="from the fallback"))
    assert await run(dispatcher) == "gpt-4o: from the fallback"
    assert outcomes(attempts) == [
        (PRIMARY, "error", error_class),
        (PRIMARY, "error", error_class),
        (FALLBACK, "ok", None),
    ]
    assert [a.retry for a in attempts] == [False, True, False]
    assert [a.fallback for a in attempts] == [False, False, True]
    assert len(pauses) == 1 and 0 < pauses[0] <= 0.375  # one jittered pause before the retry
    assert attempts[-1].usage.output_tokens > 0 and attempts[-1].total_s > 0


async def test_a_hung_primary_is_not_retried_before_the_fallback_has_had_its_turn(
    dispatcher: Dispatcher,
    anthropic_fake: FakeAnthropic,
    openai_fake: FakeOpenAI,
    attempts: list[Attempt],
    pauses: list[float],
) -> None:
    # A timeout moves on at once (issue 20): the same model, hung, would hang again.
    anthropic_fake.enqueue(Fault.hang(), Fault.hang())
    openai_fake.enqueue(Turn(text="from the fallback"))
    assert await run(dispatcher) == "gpt-4o: from the fallback"
    assert outcomes(attempts) == [
        (PRIMARY, "error", "ProviderTimeoutError"),
        (FALLBACK, "ok", None),
    ]
    assert "no sign of life" in (attempts[0].error or "") and not pauses


async def test_one_transient_failure_is_answered_by_the_retry(
    dispatcher: Dispatcher,
    anthropic_fake: FakeAnthropic,
    openai_fake: FakeOpenAI,
    attempts: list[Attempt],
) -> None:
    anthropic_fake.enqueue(Fault.status(529), Turn(text="second try"))
    assert await run(dispatcher) == "sonnet: second try"
    assert outcomes(attempts) == [(PRIMARY, "error", "OverloadedError"), (PRIMARY, "ok", None)]
    assert openai_fake.requests == []


async def test_retry_after_is_honoured_when_it_fits(
    dispatcher: Dispatcher, anthropic_fake: FakeAnthropic, pauses: list[float]
) -> None:
    anthropic_fake.enqueue(Fault.status(429, headers={"retry-after": "2"}), Turn(text="ok"))
    assert await run(dispatcher) == "sonnet: ok"
    assert pauses == [2.0]


async def test_a_long_retry_after_goes_to_the_fallback_at_once(
    dispatcher: Dispatcher,
    anthropic_fake: FakeAnthropic,
    openai_fake: FakeOpenAI,
    pauses: list[float],
) -> None:
    anthropic_fake.enqueue(Fault.status(429, headers={"retry-after": "60"}))
    openai_fake.enqueue(Turn(text="now"))
    assert await run(dispatcher) == "gpt-4o: now"
    assert pauses == [] and len(anthropic_fake.requests) == 1


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(401, "AuthenticationError"), (403, "AuthenticationError"), (404, "ModelNotFoundError")],
)
async def test_an_unavailable_model_falls_back_and_is_skipped_afterwards(
    dispatcher: Dispatcher,
    anthropic_fake: FakeAnthropic,
    openai_fake: FakeOpenAI,
    attempts: list[Attempt],
    status: int,
    error_class: str,
) -> None:
    anthropic_fake.enqueue(Fault.status(status))
    assert (await run(dispatcher)).startswith("gpt-4o:")
    assert outcomes(attempts) == [(PRIMARY, "error", error_class), (FALLBACK, "ok", None)]
    attempts.clear()
    assert (await run(dispatcher)).startswith("gpt-4o:")
    assert attempts[0].outcome == "skipped" and attempts[0].model == PRIMARY
    assert len(anthropic_fake.requests) == 1  # not asked again


async def test_a_spend_limit_takes_the_provider_out(
    dispatcher: Dispatcher,
    anthropic_fake: FakeAnthropic,
    openai_fake: FakeOpenAI,
    attempts: list[Attempt],
) -> None:
    openai_fake.enqueue(
        Fault.status(
            429, message="You exceeded your current quota.", error_code="insufficient_quota"
        )
    )
    assert await run(dispatcher, chain=("gpt-4o", "sonnet")) == "sonnet: Hello from the fake."
    attempts.clear()
    assert (await run(dispatcher, chain=("codex", "sonnet"))).startswith("sonnet:")
    assert attempts[0].model == "codex" and attempts[0].outcome == "skipped"
    assert "spend limit" in (attempts[0].skip_reason or "")
    assert len(openai_fake.requests) == 1


async def test_a_wrong_request_is_neither_retried_nor_sent_elsewhere(
    dispatcher: Dispatcher, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    anthropic_fake.enqueue(Fault.status(400, message="messages.0.content: field required"))
    with pytest.raises(InvalidRequestError, match="field required"):
        await run(dispatcher)
    assert len(anthropic_fake.requests) == 1 and openai_fake.requests == []


async def test_context_length_goes_only_to_a_larger_window(
    dispatcher: Dispatcher,
    anthropic_fake: FakeAnthropic,
    openai_fake: FakeOpenAI,
    attempts: list[Attempt],
) -> None:
    openai_fake.enqueue(
        Fault.status(
            400,
            message="maximum context length is 128000 tokens",
            error_code="context_length_exceeded",
        )
    )
    assert (await run(dispatcher, chain=("gpt-4o", "sonnet"))).startswith("sonnet:")
    # sonnet's window is larger; the other way round the fallback is skipped:
    attempts.clear()
    anthropic_fake.enqueue(
        Fault.status(400, message="prompt is too long: 1200000 tokens > 1000000 maximum")
    )
    with pytest.raises(ChainExhaustedError) as caught:
        await run(dispatcher)
    assert attempts[-1].outcome == "skipped" and "no larger" in (attempts[-1].skip_reason or "")
    assert "ContextLengthError" in str(caught.value)


async def test_the_whole_chain_failing_names_each_model_and_why(
    dispatcher: Dispatcher, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    anthropic_fake.enqueue(Fault.status(529), Fault.status(529))
    openai_fake.enqueue(
        Fault.status(500, message="upstream exploded"),
        Fault.status(429, headers={"retry-after": "30"}),
    )
    with pytest.raises(ChainExhaustedError) as caught:
        await run(dispatcher)
    message = str(caught.value)
    assert "sonnet: OverloadedError" in message and "gpt-4o: RateLimitError" in message
    assert [m for m, _ in caught.value.failures] == [PRIMARY, FALLBACK]
    assert caught.value.retry_after == 30.0


async def test_an_open_circuit_skips_without_waiting_and_probes_after_the_cooldown(
    dispatcher: Dispatcher,
    anthropic_fake: FakeAnthropic,
    attempts: list[Attempt],
    clock: Clock,
) -> None:
    anthropic_fake.enqueue(*[Fault.status(500)] * 3)
    await run(dispatcher)  # two failures (try and retry), the fallback answers
    anthropic_fake.enqueue(Fault.status(404, message="gone"))
    dispatcher.health.breakers.failure(PRIMARY)  # a third consecutive failure opens it
    sent = len(anthropic_fake.requests)
    attempts.clear()
    started = time.monotonic()
    assert (await run(dispatcher)).startswith("gpt-4o:")
    assert (
        time.monotonic() - started < 3.0
    )  # generous on a loaded machine; waiting out the circuit would take 10 s
    assert attempts[0].outcome == "skipped" and "circuit open" in (attempts[0].skip_reason or "")
    assert len(anthropic_fake.requests) == sent
    anthropic_fake.clear()
    clock.offset += 11  # past the first cooldown: one probe request goes through
    assert await run(dispatcher) == "sonnet: Hello from the fake."
    assert len(anthropic_fake.requests) == 1
    assert not dispatcher.health.breakers.is_open(PRIMARY)


async def test_a_stream_broken_before_its_first_token_is_answered_by_the_fallback(
    dispatcher: Dispatcher, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    anthropic_fake.enqueue(Fault.break_stream(after=0), Fault.stream_error(after=0))
    openai_fake.enqueue(Turn(text="clean answer"))
    state, events = dispatcher.stream(CHAIN, ask(), task="t", request_id="r")
    received = [e async for e in events]
    text = "".join(e.text for e in received if isinstance(e, TextDelta))
    assert text == "clean answer" and isinstance(received[-1], StreamEnd)
    assert state.model == FALLBACK and state.fallback


async def test_a_stream_broken_after_its_first_token_ends_with_an_error(
    dispatcher: Dispatcher,
    anthropic_fake: FakeAnthropic,
    openai_fake: FakeOpenAI,
    attempts: list[Attempt],
) -> None:
    anthropic_fake.enqueue(
        Turn(text="one two three four five six"),
    )
    anthropic_fake.clear()
    anthropic_fake.enqueue(Fault.break_stream(after=2))
    _, events = dispatcher.stream(CHAIN, ask(), task="t", request_id="r")
    received: list[object] = []
    with pytest.raises(PartialAnswerError) as caught:
        async for event in events:
            received.append(event)
    assert received and all(isinstance(e, TextDelta) for e in received)  # no StreamEnd
    assert caught.value.model == PRIMARY
    assert openai_fake.requests == []  # never spliced with another model's text
    assert attempts[-1].outcome == "partial"


async def test_a_stalled_stream_counts_as_a_failure(
    registry: ProviderRegistry,
    anthropic_fake: FakeAnthropic,
    openai_fake: FakeOpenAI,
    attempts: list[Attempt],
) -> None:
    slow = Turn(text="a b c d e f g h", chunk_delay=0.8)
    anthropic_fake.enqueue(slow, slow)
    settings = DispatchSettings(deadline_s=20.0, ttft_s=3.0, reasoning_ttft_s=3.0, stall_s=0.4)
    patient = Dispatcher(build_catalog(), registry, attempts.append, settings=settings)
    result = await patient.complete(CHAIN, ask(), task="t", request_id="r")
    assert result.dispatch.model == FALLBACK
    assert attempts[0].error_class == "ProviderTimeoutError"
    assert "stalled for 0.4 s" in (attempts[0].error or "")


async def test_a_request_with_tools_skips_a_fallback_without_tools(
    dispatcher: Dispatcher, anthropic_fake: FakeAnthropic, attempts: list[Attempt]
) -> None:
    anthropic_fake.enqueue(Fault.status(500), Fault.status(500))
    tool = ToolSpec("lookup", "Look it up")
    with pytest.raises(ChainExhaustedError, match="takes none"):
        await run(dispatcher, chain=(PRIMARY, "llama3.1:8b"), tools=(tool,))
    assert attempts[-1].model == "llama3.1:8b" and attempts[-1].outcome == "skipped"


async def test_a_long_prompt_skips_models_with_small_windows(
    dispatcher: Dispatcher, ollama_fake: FakeOllama, attempts: list[Attempt]
) -> None:
    long_text = "many words " * 1000  # ~3,000 tokens: more than tiny:1b's 2,048
    assert (await run(dispatcher, chain=("tiny:1b", PRIMARY), text=long_text)).startswith("sonnet:")
    assert attempts[0].outcome == "skipped" and "window is 2048" in (attempts[0].skip_reason or "")
    assert not [r for r in ollama_fake.requests if r.path == "/api/chat"]


async def test_the_deadline_holds_with_hanging_upstreams(
    registry: ProviderRegistry, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    anthropic_fake.enqueue(Fault.hang(), Fault.hang())
    openai_fake.enqueue(Fault.hang(), Fault.hang())
    settings = DispatchSettings(deadline_s=1.0, ttft_s=30.0, reasoning_ttft_s=30.0, stall_s=30.0)
    slow = Dispatcher(build_catalog(), registry, lambda a: None, settings=settings)
    started = time.monotonic()
    with pytest.raises(ChainExhaustedError, match="deadline"):
        await slow.complete(CHAIN, ask(), task="t", request_id="r")
    assert time.monotonic() - started < 5.0  # the upstreams hang forever; the deadline is 1 s


async def test_a_model_without_a_key_is_skipped_with_the_reason(
    anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI, attempts: list[Attempt]
) -> None:
    env = {"ANTHROPIC_BASE_URL": anthropic_fake.base_url, "OPENAI_BASE_URL": openai_fake.base_url}
    registry = ProviderRegistry(keys={"anthropic": KEY}, env=env)
    keyless = Dispatcher(build_catalog(), registry, attempts.append)
    result = await keyless.complete((FALLBACK, PRIMARY), ask(), task="t", request_id="r")
    assert result.dispatch.model == PRIMARY
    assert attempts[0].outcome == "skipped" and "OPENAI_API_KEY" in (attempts[0].skip_reason or "")
    await registry.aclose()


async def test_attempts_carry_cost_and_ids(
    dispatcher: Dispatcher, anthropic_fake: FakeAnthropic, attempts: list[Attempt]
) -> None:
    anthropic_fake.enqueue(Turn(input_tokens=1000, output_tokens=100))
    await run(dispatcher)
    (attempt,) = attempts
    assert attempt.request_id == "req-1" and attempt.task == "General agent work"
    assert attempt.provider == "anthropic" and attempt.model_id == "claude-sonnet-5-5"
    assert attempt.cost_usd is not None and attempt.cost_usd > 0
    assert attempt.first_token_s is not None and attempt.first_token_s <= attempt.total_s


async def test_a_caller_that_goes_away_is_recorded_as_cancelled(
    dispatcher: Dispatcher, anthropic_fake: FakeAnthropic, attempts: list[Attempt]
) -> None:
    anthropic_fake.enqueue(Turn(text="a b c d e f g h i j", chunk_delay=0.05))
    _, events = dispatcher.stream(CHAIN, ask(), task="t", request_id="r")
    await anext(events)
    await events.aclose()  # type: ignore[attr-defined]
    assert attempts[-1].outcome == "cancelled"
    await asyncio.sleep(0)


async def test_a_probe_that_meets_a_wrong_request_gives_the_slot_back(
    dispatcher: Dispatcher, anthropic_fake: FakeAnthropic, clock: Clock
) -> None:
    for _ in range(3):
        dispatcher.health.breakers.failure(PRIMARY)
    clock.offset += 11
    anthropic_fake.enqueue(Fault.status(400, message="bad field"))
    with pytest.raises(InvalidRequestError):
        await run(dispatcher)  # this request was the probe; its 400 says nothing of the model
    assert await run(dispatcher) == "sonnet: Hello from the fake."  # probed again, not stuck
    assert dispatcher.health.unavailable({PRIMARY: build_catalog().models[PRIMARY]}) == {}


async def test_a_half_open_circuit_is_not_reported_as_open(
    dispatcher: Dispatcher, clock: Clock
) -> None:
    models = {PRIMARY: build_catalog().models[PRIMARY]}
    for _ in range(3):
        dispatcher.health.breakers.failure(PRIMARY)
    assert dispatcher.health.unavailable(models) == {PRIMARY: "circuit open"}
    clock.offset += 11
    assert dispatcher.health.unavailable(models) == {}  # the router may plan it: a probe


async def test_a_403_pauses_the_model_not_the_provider(
    dispatcher: Dispatcher, anthropic_fake: FakeAnthropic, attempts: list[Attempt]
) -> None:
    anthropic_fake.enqueue(Fault.status(403, message="no access to this model"))
    assert (await run(dispatcher, chain=("opus", "gpt-4o"))).startswith("gpt-4o:")
    assert await run(dispatcher, chain=("sonnet",)) == "sonnet: Hello from the fake."
    attempts.clear()
    assert (await run(dispatcher, chain=("opus", "gpt-4o"))).startswith("gpt-4o:")
    assert attempts[0].outcome == "skipped" and attempts[0].model == "opus"


async def test_a_call_keeps_the_catalog_it_was_planned_with_across_a_reload(
    dispatcher: Dispatcher, openai_fake: FakeOpenAI, attempts: list[Attempt]
) -> None:
    # The routing file named an alias when the call was planned; a reload that drops it
    # lands before dispatch. The call still reaches its model.
    planned = build_catalog([ModelSpec("mine", Provider.OPENAI, "gpt-4o", Api.CHAT)])
    dispatcher.catalog = build_catalog()  # what the reload swapped in: no "mine"
    openai_fake.enqueue(Turn(text="still here"), Turn(text="never sent"))
    result = await dispatcher.complete(
        ("mine",), ask(), task="General agent work", request_id="r", catalog=planned
    )
    assert (result.dispatch.model, result.response.text) == ("mine", "still here")
    assert attempts[-1].model == "mine" and attempts[-1].outcome == "ok"
    with pytest.raises(ChainExhaustedError, match="mine: not in the model catalog"):
        await dispatcher.complete(("mine",), ask(), task="General agent work", request_id="s")

"""Embeddings go through dispatch as chat does: a transient failure is retried or falls back,
a hung provider is cut off by the request's deadline, an open circuit is skipped with its
reason, and the provider's 400 is the client's 400 with no other model asked. Each try and
skip is one attempt; the call row keeps them all.

Directly against `Dispatcher` with the real provider adapters pointed at the fakes, and
through the in-process application (`app`), whose model health is reset between tests."""

from __future__ import annotations

import doctest
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from support.app import App
from support.fakes import FakeAnthropic, FakeOllama, FakeOpenAI, Fault, Turn

from cortexd.api import embeddings_routes
from cortexd.routing import InputType
from cortexd.routing.catalog import build_catalog
from cortexd.routing.dispatch import (
    Attempt,
    CannotEmbedError,
    ChainExhaustedError,
    Dispatcher,
    DispatchSettings,
    ModelHealth,
)
from cortexd.routing.providers import EmbedRequest, InvalidRequestError
from cortexd.routing.providers.registry import ProviderRegistry

KEY = "sk-test-canary-0123456789abcdefghijklmnopqrstuv"
SMALL, LARGE = "text-embedding-3-small", "text-embedding-3-large"
#: Per-try waits short enough that a stuck test fails fast; retries do not sleep (`pauses`).
QUICK = DispatchSettings(deadline_s=10.0, ttft_s=5.0)


# --- the dispatcher, built here -------------------------------------------------------------


@pytest.fixture
def ollama_fake() -> Iterator[FakeOllama]:
    with FakeOllama(models=["nomic-embed-text"]) as fake:
        yield fake


@pytest.fixture
async def registry(
    openai_fake: FakeOpenAI, ollama_fake: FakeOllama
) -> AsyncIterator[ProviderRegistry]:
    env = {"OPENAI_BASE_URL": openai_fake.base_url}
    built = ProviderRegistry(keys={"openai": KEY}, env=env, ollama_host=ollama_fake.url)
    yield built
    await built.aclose()


@pytest.fixture
def attempts() -> list[Attempt]:
    return []


@pytest.fixture
def pauses() -> list[float]:
    return []


def dispatcher_for(
    registry: ProviderRegistry,
    attempts: list[Attempt],
    pauses: list[float],
    settings: DispatchSettings = QUICK,
) -> Dispatcher:
    async def sleep(seconds: float) -> None:
        pauses.append(seconds)  # retries are instant in tests; the pause is still asked for

    return Dispatcher(build_catalog(), registry, attempts.append, settings=settings, sleep=sleep)


@pytest.fixture
def dispatcher(
    registry: ProviderRegistry, attempts: list[Attempt], pauses: list[float]
) -> Dispatcher:
    return dispatcher_for(registry, attempts, pauses)


def texts(*inputs: str) -> EmbedRequest:
    return EmbedRequest("auto", inputs or ("a", "b"))


def tries(attempts: list[Attempt]) -> list[tuple[str, str, str | None, bool, bool]]:
    return [(a.model, a.outcome, a.error_class, a.retry, a.fallback) for a in attempts]


def embedded_by(fake: FakeOpenAI) -> list[str]:
    return [r.json["model"] for r in fake.requests if r.path == "/v1/embeddings"]


@pytest.mark.anyio
async def test_a_500_is_retried_and_both_tries_are_attempts(
    dispatcher: Dispatcher,
    openai_fake: FakeOpenAI,
    attempts: list[Attempt],
    pauses: list[float],
) -> None:
    openai_fake.enqueue(Fault.status(500), Turn(embedding_dims=8, input_tokens=5))
    result = await dispatcher.embed((SMALL, LARGE), texts(), request_id="r-1")
    assert [len(v) for v in result.response.vectors] == [8, 8]
    assert result.dispatch.model == SMALL and result.dispatch.fallback is False
    assert tries(attempts) == [
        (SMALL, "error", "ServerError", False, False),
        (SMALL, "ok", None, True, False),
    ]
    assert len(pauses) == 1  # one jittered pause before the retry
    ok = attempts[-1]
    assert ok.task == "Embeddings" and ok.request_id == "r-1" and ok.number == 2
    assert ok.usage.input_tokens == 5 and ok.cost_usd is not None and ok.cost_usd > 0
    assert ok.total_s > 0 and ok.started_s >= attempts[0].total_s
    assert result.dispatch.attempts == attempts
    assert embedded_by(openai_fake) == [SMALL, SMALL]


@pytest.mark.anyio
async def test_two_500s_fall_back_to_the_next_model(
    dispatcher: Dispatcher, openai_fake: FakeOpenAI, attempts: list[Attempt]
) -> None:
    openai_fake.enqueue(Fault.status(500), Fault.status(503), Turn(embedding_dims=4))
    result = await dispatcher.embed((LARGE, SMALL), texts(), request_id="r")
    assert result.dispatch.model == SMALL and result.dispatch.fallback is True
    assert tries(attempts) == [
        (LARGE, "error", "ServerError", False, False),
        (LARGE, "error", "OverloadedError", True, False),
        (SMALL, "ok", None, False, True),
    ]
    assert embedded_by(openai_fake) == [LARGE, LARGE, SMALL]


@pytest.mark.anyio
async def test_a_hung_provider_is_cut_off_by_the_deadline(
    registry: ProviderRegistry,
    openai_fake: FakeOpenAI,
    attempts: list[Attempt],
    pauses: list[float],
) -> None:
    openai_fake.enqueue(Fault.hang(), Fault.hang(), Fault.hang())
    # The per-try wait (ttft_s) is long: only the request's deadline can end this.
    settings = DispatchSettings(deadline_s=1.0, ttft_s=30.0, reasoning_ttft_s=30.0)
    short = dispatcher_for(registry, attempts, pauses, settings)
    started = time.monotonic()
    with pytest.raises(ChainExhaustedError) as caught:
        await short.embed((LARGE, SMALL), texts(), request_id="r")
    assert time.monotonic() - started < 5.0  # the upstream hangs forever; the deadline is 1 s
    assert not isinstance(caught.value, CannotEmbedError)  # a later request may be answered
    assert tries(attempts) == [(LARGE, "error", "ProviderTimeoutError", False, False)]
    assert "the request's deadline passed" in str(caught.value)
    assert embedded_by(openai_fake) == [LARGE]  # the fallback had no time left to be asked


@pytest.mark.anyio
async def test_an_open_circuit_is_skipped_with_its_reason(
    dispatcher: Dispatcher, openai_fake: FakeOpenAI, attempts: list[Attempt]
) -> None:
    for _ in range(3):
        dispatcher.health.breakers.failure(LARGE)  # three consecutive failures open it
    result = await dispatcher.embed((LARGE, SMALL), texts(), request_id="r")
    assert result.dispatch.model == SMALL
    skipped, answered = attempts
    assert skipped.model == LARGE and skipped.outcome == "skipped" and skipped.number == 0
    assert "circuit open" in (skipped.skip_reason or "")
    assert answered.model == SMALL and answered.number == 1 and answered.fallback
    assert embedded_by(openai_fake) == [SMALL]


@pytest.mark.anyio
async def test_failures_open_the_circuit_for_later_requests(
    dispatcher: Dispatcher, openai_fake: FakeOpenAI, attempts: list[Attempt]
) -> None:
    openai_fake.enqueue(*[Fault.status(500)] * 4)
    for _ in range(2):
        with pytest.raises(ChainExhaustedError):
            await dispatcher.embed((LARGE,), texts(), request_id="r")
    assert dispatcher.health.breakers.is_open(LARGE)
    attempts.clear()
    result = await dispatcher.embed((LARGE, SMALL), texts(), request_id="r")
    assert result.dispatch.model == SMALL and attempts[0].outcome == "skipped"
    assert embedded_by(openai_fake).count(LARGE) == 4  # none after the circuit opened


@pytest.mark.anyio
async def test_a_400_fails_at_once_without_a_fallback(
    dispatcher: Dispatcher, openai_fake: FakeOpenAI, attempts: list[Attempt]
) -> None:
    openai_fake.enqueue(Fault.status(400, message="'input' is too long"))
    with pytest.raises(InvalidRequestError, match="'input' is too long"):
        await dispatcher.embed((LARGE, SMALL), texts(), request_id="r")
    assert tries(attempts) == [(LARGE, "error", "InvalidRequestError", False, False)]
    assert embedded_by(openai_fake) == [LARGE]
    assert not dispatcher.health.breakers.is_open(LARGE)


@pytest.mark.anyio
async def test_models_that_cannot_embed_are_skipped_with_a_reason(
    openai_fake: FakeOpenAI,
    ollama_fake: FakeOllama,
    attempts: list[Attempt],
    pauses: list[float],
) -> None:
    env = {"OPENAI_BASE_URL": openai_fake.base_url}
    registry = ProviderRegistry(keys={"openai": KEY}, env=env, ollama_host=ollama_fake.url)
    try:
        dispatcher = dispatcher_for(registry, attempts, pauses)
        result = await dispatcher.embed(("gpt-4o", "sonnet", SMALL), texts(), request_id="r")
        assert result.dispatch.model == SMALL
        reasons = {a.model: a.skip_reason or "" for a in attempts if a.outcome == "skipped"}
        assert "makes no embeddings (a chat model)" in reasons["gpt-4o"]
        assert "sonnet" in reasons  # a chat model, and no key either
        assert attempts[-1].number == 1  # skips are not tries
        with pytest.raises(CannotEmbedError, match="gpt-4o: skipped: makes no embeddings"):
            await dispatcher.embed(("gpt-4o",), texts(), request_id="r")
    finally:
        await registry.aclose()
    assert embedded_by(openai_fake) == [SMALL]


@pytest.mark.anyio
async def test_each_model_gets_the_prefixes_it_was_trained_with(
    dispatcher: Dispatcher, openai_fake: FakeOpenAI, ollama_fake: FakeOllama
) -> None:
    ollama_fake.enqueue(Fault.status(500), Fault.status(500))
    openai_fake.enqueue(Turn(embedding_dims=4))
    chain = ("nomic-embed-text", SMALL)
    request = texts("call the dentist")
    result = await dispatcher.embed(chain, request, request_id="r", input_type=InputType.QUERY)
    assert result.dispatch.model == SMALL
    sent = [r.json["input"] for r in ollama_fake.requests if r.path == "/api/embed"]
    assert sent == [["search_query: call the dentist"]] * 2
    (to_openai,) = [r.json["input"] for r in openai_fake.requests if r.path == "/v1/embeddings"]
    assert to_openai == ["call the dentist"]  # not a nomic model: the texts as they came


# --- through the application -----------------------------------------------------------------


@pytest.fixture(autouse=True)
def _healthy(request: pytest.FixtureRequest) -> Iterator[None]:
    """The application is shared by this module's tests: each starts with every circuit shut."""
    yield
    if "app" in request.fixturenames:
        app: App = request.getfixturevalue("app")
        app.services.dispatcher.health = ModelHealth(app.services.dispatcher.clock)


def embed(app: App, **body: Any) -> Any:
    return app.client().post("/v1/embeddings", json={"model": SMALL, "input": ["a"], **body})


def last_call(app: App) -> dict[str, Any]:
    client = app.client()
    latest = client.get("/v1/calls", params={"limit": 1}).json()["data"][-1]
    found: dict[str, Any] = client.get(f"/v1/calls/{latest['id']}").json()
    return found


def test_a_500_then_success_answers_and_the_call_keeps_both_attempts(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _, openai_fake = fresh
    openai_fake.enqueue(Fault.status(500), Turn(embedding_dims=6, input_tokens=3))
    answer = embed(app, input=["a", "b"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == SMALL and len(answer.json()["data"]) == 2
    assert answer.json()["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    call = last_call(app)
    assert call["kind"] == "embeddings" and call["outcome"] == "ok" and call["model"] == SMALL
    outcomes = [(a["outcome"], a["retry"]) for a in call["attempts"]]
    assert outcomes == [("error", False), ("ok", True)]
    assert "ServerError" in call["attempts"][0]["error"]


def test_an_open_circuit_is_a_503_naming_the_reason(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _, openai_fake = fresh
    for _ in range(3):
        app.services.dispatcher.health.breakers.failure(SMALL)
    answer = embed(app)
    assert answer.status_code == 503 and "retry-after" in answer.headers
    assert "circuit open" in answer.json()["error"]["message"]
    assert not openai_fake.requests
    call = last_call(app)
    assert call["kind"] == "embeddings" and call["outcome"] == "error"
    assert [a["outcome"] for a in call["attempts"]] == ["skipped"]
    assert "circuit open" in call["attempts"][0]["skipped"]


def test_the_providers_400_is_the_clients_400(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _, openai_fake = fresh
    openai_fake.enqueue(Fault.status(400, message="'dimensions' is not supported"))
    answer = embed(app, dimensions=12)
    assert answer.status_code == 400
    assert "'dimensions' is not supported" in answer.json()["error"]["message"]
    assert len(openai_fake.requests) == 1
    call = last_call(app)
    assert call["outcome"] == "error" and "InvalidRequestError" in call["error"]
    assert [a["outcome"] for a in call["attempts"]] == ["error"]


def test_a_chat_model_named_is_the_requests_error_and_asks_nobody(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    answer = embed(app, model="gpt-4o")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "makes no embeddings" in error["message"]
    assert not openai_fake.requests and not anthropic_fake.requests
    assert [a["outcome"] for a in last_call(app)["attempts"]] == ["skipped"]


def test_an_unknown_model_is_refused_before_any_call(app: App) -> None:
    answer = embed(app, model="no-such-embedder")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "model_not_found"
    assert "unknown model 'no-such-embedder'" in answer.json()["error"]["message"]


def test_vectors_are_encoded_as_openai_does() -> None:
    result = doctest.testmod(embeddings_routes)
    assert result.attempted > 0 and result.failed == 0

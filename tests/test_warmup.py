"""A cold local model and the first-token budget: the pure rule, Ollama's side of it, and a
call through the daemon that lets the cloud answer while the local model loads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from support.canary import ANTHROPIC_KEY
from support.daemon import remove_home, short_home, start_daemon
from support.fakes import FakeAnthropic, FakeOllama, Turn
from support.nvml import fake_nvml_env
from support.waiting import wait_for

from cortexd.hardware.capacity import GIB
from cortexd.routing import skip_cold
from cortexd.routing.providers import Warmth
from cortexd.routing.providers.ollama import OllamaProvider

COLD = Warmth(loaded=False, load_seconds=5.0, measured=True)
QUICK = Warmth(loaded=False, load_seconds=0.5, measured=True)
WARM = Warmth(loaded=True, load_seconds=5.0, measured=True)
GUESS = Warmth(loaded=False, load_seconds=3.3, measured=False)
LOCAL = {"llama3.1:8b", "qwen2.5:14b"}


@pytest.mark.parametrize(
    ("chain", "warmth", "expected", "moved"),
    [
        (("llama3.1:8b", "haiku"), {"llama3.1:8b": COLD}, ("haiku", "llama3.1:8b"), True),
        (("llama3.1:8b", "haiku"), {"llama3.1:8b": WARM}, ("llama3.1:8b", "haiku"), False),
        (("llama3.1:8b", "haiku"), {"llama3.1:8b": QUICK}, ("llama3.1:8b", "haiku"), False),
        (("llama3.1:8b", "haiku"), {}, ("llama3.1:8b", "haiku"), False),  # unknown: kept
        (("llama3.1:8b",), {"llama3.1:8b": COLD}, ("llama3.1:8b",), False),  # local only
        (
            ("llama3.1:8b", "qwen2.5:14b", "sonnet", "opus"),
            {"llama3.1:8b": COLD, "qwen2.5:14b": WARM},
            ("qwen2.5:14b", "sonnet", "llama3.1:8b", "opus"),
            True,
        ),
        (("haiku", "llama3.1:8b"), {"llama3.1:8b": COLD}, ("haiku", "llama3.1:8b"), False),
    ],
)
def test_a_cold_local_model_slower_than_the_budget_goes_behind_the_cloud(
    chain: tuple[str, ...], warmth: dict[str, Warmth], expected: tuple[str, ...], moved: bool
) -> None:
    decided = skip_cold(chain, LOCAL, warmth, budget_s=3.0)
    assert decided.chain == expected
    assert bool(decided.skipped) is moved
    assert decided.warm == (("llama3.1:8b",) if moved else ())


def test_the_reason_says_how_long_and_whether_it_was_measured() -> None:
    decided = skip_cold(("llama3.1:8b", "haiku"), LOCAL, {"llama3.1:8b": GUESS}, budget_s=3.0)
    assert decided.skipped == (
        (
            "llama3.1:8b",
            "not loaded; loading takes about 3.3 s (estimated from its size), more than the"
            " 3 s first-token budget: haiku answers while it loads",
        ),
    )


# --- Ollama: loaded from /api/ps, load time from load_duration -------------------------------


@pytest.fixture
def ollama_fake() -> Iterator[FakeOllama]:
    with FakeOllama(models=["llama3.1:8b", "nomic-embed-text"]) as fake:
        yield fake


@pytest.fixture
async def ollama(ollama_fake: FakeOllama) -> AsyncIterator[OllamaProvider]:
    provider = OllamaProvider(ollama_fake.base_url, timeout=5.0)
    yield provider
    await provider.aclose()


@pytest.mark.anyio
async def test_ollama_estimates_until_a_load_is_measured(
    ollama: OllamaProvider, ollama_fake: FakeOllama
) -> None:
    cold = await ollama.warmth("llama3.1:8b")
    assert cold == Warmth(loaded=False, load_seconds=4_920_753_328 / 1.5e9, measured=False)
    ollama_fake.load_ns = 4_200_000_000
    await ollama.warm("llama3.1:8b")
    loads = [r.json for r in ollama_fake.requests if r.path == "/api/chat"]
    assert [(b["model"], b["messages"]) for b in loads] == [("llama3.1:8b", [])]
    assert await ollama.warmth("llama3.1:8b") == Warmth(True, 4.2, measured=True)


@pytest.mark.anyio
async def test_an_answer_from_a_model_in_memory_is_not_a_load_time(
    ollama: OllamaProvider, ollama_fake: FakeOllama
) -> None:
    from cortexd.routing.providers import ChatMessage, ChatRequest

    ollama_fake.loaded.append("llama3.1:8b")
    await ollama.complete(ChatRequest("llama3.1:8b", (ChatMessage.of("user", "hi"),)))
    warmth = await ollama.warmth("llama3.1:8b")  # the fake's 2 ms load_duration: no sample
    assert warmth is not None and warmth.loaded and not warmth.measured


@pytest.mark.anyio
async def test_an_unreachable_ollama_cannot_say() -> None:
    from support.addresses import refused_url

    provider = OllamaProvider(refused_url(), timeout=2.0)
    try:
        assert await provider.warmth("llama3.1:8b") is None
    finally:
        await provider.aclose()


# --- through the daemon -----------------------------------------------------------------------


def test_a_cold_ollama_model_lets_haiku_answer_while_it_loads_then_answers_itself() -> None:
    gpu = [{"name": "NVIDIA GeForce RTX 4090", "total": 24 * GIB, "free": 20 * GIB}]
    home = short_home()
    # No embedding model: the similarity step would take the fake's scripted turns.
    with FakeOllama(models=["llama3.1:8b"]) as ollama, FakeAnthropic() as claude:
        ollama.load_ns = 4_000_000_000
        env = {
            **fake_nvml_env(gpu),
            "OLLAMA_HOST": ollama.base_url,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": claude.base_url,
        }
        daemon = start_daemon(home, env)
        try:
            client = daemon.client()
            rows = client.get("/v1/hardware").json()["local_rows"]
            assert any(r["model"] == "llama3.1:8b" and r["active"] for r in rows)
            body = {
                "model": "auto",
                "messages": [{"role": "user", "content": "save this: call the dentist tuesday"}],
            }
            ollama.enqueue(Turn(text="filed"))
            first = client.post("/v1/chat/completions", json=body).json()["cortex"]
            assert first["model"] == "haiku"
            assert [s["model"] for s in first["skipped"]] == ["llama3.1:8b"]
            assert "loading takes about 3.3 s (estimated" in first["skipped"][0]["reason"]
            wait_for(lambda: "llama3.1:8b" in ollama.loaded, "the load in the background", 30)
            second = client.post("/v1/chat/completions", json=body).json()
            assert second["cortex"]["model"] == "llama3.1:8b"
            assert "skipped" not in second["cortex"]
            assert second["choices"][0]["message"]["content"] == "filed"
            assert len(claude.requests) == 1
        finally:
            daemon.stop()
            remove_home(home)

"""Second opinions: a model from another provider answers too; a judge compares."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn

from cortexd.routing import parse_routing_text
from cortexd.routing.catalog import build_catalog
from cortexd.routing.dispatch import (
    Attempt,
    ChainExhaustedError,
    Dispatcher,
    DispatchSettings,
    VerdictError,
    cross_validate,
    judge_chain,
    parse_verdict,
    second_model_for,
)
from cortexd.routing.providers import ChatMessage, ChatRequest
from cortexd.routing.providers.registry import ProviderRegistry

pytestmark = pytest.mark.anyio
KEY = "sk-test-canary-0123456789abcdefghijklmnopqrstuv"
AGREE = '{"agree": true, "differences": [], "summary": "Both say 4."}'
DISAGREE = '{"agree": false, "differences": ["A says 4, B says 5"], "summary": "They differ."}'
CROSS = """
## Cross-Validation
| Task Type | Second Opinion |
|---|---|
| Security audit | gpt-4o |
"""


@pytest.fixture
async def dispatcher(
    anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI, attempts: list[Attempt]
) -> AsyncIterator[Dispatcher]:
    env = {"ANTHROPIC_BASE_URL": anthropic_fake.base_url, "OPENAI_BASE_URL": openai_fake.base_url}
    registry = ProviderRegistry(keys={"anthropic": KEY, "openai": KEY}, env=env)
    registry.preload()  # as the daemon does at start: SDK imports are not a slow first token
    settings = DispatchSettings(deadline_s=10.0, ttft_s=2.0, stall_s=2.0)

    async def no_wait(_: float) -> None:
        return None

    yield Dispatcher(build_catalog(), registry, attempts.append, settings=settings, sleep=no_wait)
    await registry.aclose()


@pytest.fixture
def attempts() -> list[Attempt]:
    return []


def ask() -> ChatRequest:
    return ChatRequest("auto", (ChatMessage.of("user", "What is 2 + 2?"),))


async def check(dispatcher: Dispatcher, second: str | None = "gpt-4o"):  # type: ignore[no-untyped-def]
    return await cross_validate(
        dispatcher,
        ("sonnet",),
        ask(),
        task="Security audit",
        request_id="r1",
        second_model=second,
        judges=("haiku",),
    )


async def test_two_answers_that_agree(
    dispatcher: Dispatcher,
    anthropic_fake: FakeAnthropic,
    openai_fake: FakeOpenAI,
    attempts: list[Attempt],
) -> None:
    anthropic_fake.enqueue(Turn(text="4"), Turn(text=AGREE))  # the main answer, then the judge
    openai_fake.enqueue(Turn(text="It is 4."))
    result = await check(dispatcher)
    assert result.status == "agree" and result.main.response.text == "4"
    assert result.second is not None and result.second.text == "It is 4."
    assert result.verdict is not None and result.verdict.summary == "Both say 4."
    assert result.verdict.judge == "haiku"
    judged = anthropic_fake.requests[-1].json
    assert judged["model"] == "claude-haiku-5-5"
    assert "Answer A\n4" in judged["messages"][0]["content"][0]["text"]
    assert judged["output_config"]["format"]["type"] == "json_schema"
    marks = {(a.model, a.second_opinion) for a in attempts}
    assert marks == {("sonnet", False), ("gpt-4o", True), ("haiku", True)}


async def test_two_answers_that_disagree(
    dispatcher: Dispatcher, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    anthropic_fake.enqueue(Turn(text="4"), Turn(text=DISAGREE))
    openai_fake.enqueue(Turn(text="5"))
    result = await check(dispatcher)
    assert result.status == "disagree"
    assert result.verdict is not None and result.verdict.differences == ("A says 4, B says 5",)


async def test_a_judge_that_fails_still_returns_both_answers(
    dispatcher: Dispatcher, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    anthropic_fake.enqueue(Turn(text="4"), Fault.status(500), Fault.status(500))
    openai_fake.enqueue(Turn(text="4"))
    result = await check(dispatcher)
    assert result.status == "judge-failed" and result.verdict is None
    assert result.main.response.text == "4" and result.second is not None
    assert "haiku" in result.detail


async def test_a_judge_that_answers_nonsense_is_a_failed_judge(
    dispatcher: Dispatcher, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    anthropic_fake.enqueue(Turn(text="4"), Turn(text="They look the same to me."))
    openai_fake.enqueue(Turn(text="4"))
    result = await check(dispatcher)
    assert result.status == "judge-failed" and "JSON" in result.detail


async def test_a_second_model_that_fails_leaves_the_main_answer(
    dispatcher: Dispatcher, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    anthropic_fake.enqueue(Turn(text="4"))
    openai_fake.enqueue(Fault.status(503), Fault.status(503))
    result = await check(dispatcher)
    assert result.status == "second-failed" and result.main.response.text == "4"
    assert "gpt-4o" in result.detail
    assert len(anthropic_fake.requests) == 1  # no judge without a second answer


async def test_the_main_answers_failure_is_the_requests(
    dispatcher: Dispatcher, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    anthropic_fake.enqueue(Fault.status(500), Fault.status(500))
    openai_fake.enqueue(Turn(text="4", delay=0.5))
    with pytest.raises(ChainExhaustedError, match="sonnet"):
        await check(dispatcher)


async def test_without_a_second_model_the_main_answer_comes_alone(
    dispatcher: Dispatcher, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    result = await check(dispatcher, second=None)
    assert result.status == "no-second-model" and openai_fake.requests == []


def test_the_second_model_comes_from_the_file_or_another_provider(seed_text: str) -> None:
    table = parse_routing_text(seed_text + CROSS)
    catalog = build_catalog()
    assert second_model_for("Security audit", ("opus",), table, catalog) == "gpt-4o"
    assert second_model_for("Code generation", ("codex", "sonnet"), table, catalog) == "sonnet"
    assert second_model_for("Meeting summary", ("sonnet", "opus"), table, catalog) == "gpt-4o"
    assert second_model_for("Vibe coding", ("codex",), table, catalog) == "sonnet"
    assert second_model_for("Anything", ("mystery-model",), table, catalog) is None
    assert judge_chain(table) == ("haiku", "sonnet")


def test_parse_verdict_refuses_what_is_not_a_verdict() -> None:
    assert parse_verdict("```json\n" + AGREE + "\n```", "h").agree is True
    for bad in ("yes", "[]", '{"agree": "yes", "differences": [], "summary": ""}',
                '{"agree": true, "differences": "none", "summary": ""}',
                '{"agree": true, "differences": [], "summary": 3}'):  # fmt: skip
        with pytest.raises(VerdictError):
            parse_verdict(bad, "h")


async def test_a_hanging_second_model_costs_at_most_the_deadline(
    dispatcher: Dispatcher,
    anthropic_fake: FakeAnthropic,
    openai_fake: FakeOpenAI,
    attempts: list[Attempt],
) -> None:
    import time

    anthropic_fake.enqueue(Turn(text="4"))
    openai_fake.enqueue(Fault.hang(), Fault.hang())
    started = time.monotonic()
    result = await cross_validate(
        dispatcher, ("sonnet",), ask(), task="t", request_id="r9",
        second_model="gpt-4o", judges=("haiku",), deadline_s=1.5,
    )  # fmt: skip
    assert time.monotonic() - started < 6.0  # the second model hangs forever; the deadline is 1.5 s
    assert result.status == "second-failed" and result.main.response.text == "4"
    assert {a.request_id for a in attempts} <= {"r9", "r9:second", "r9:judge"}
    assert any(a.request_id == "r9:second" for a in attempts)

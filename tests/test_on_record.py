"""Every request that reaches routing is on the record (issue 20, section 2): a call refused
before dispatch (an unknown model or task, local-only with no local model, every circuit
open, a budget) has a ledger row under the call id its error answer names; a request
refused by body validation has an id and no row; a circuit-open refusal says when to retry;
an answer from the fallback of a primary whose circuit is open says so, and why."""

from __future__ import annotations

import doctest
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from support.app import App
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn
from support.waiting import wait_for

from cortexd.context.paths import default_routing_text
from cortexd.pipeline import plan
from cortexd.routing.dispatch import ModelHealth
from cortexd.routing.providers import OverloadedError

Fakes = tuple[FakeAnthropic, FakeOpenAI]
HI = [{"role": "user", "content": "hi"}]
#: One request per front-end, with the model to put in it.
FRONT_ENDS: dict[str, Callable[[str], tuple[str, dict[str, Any]]]] = {
    "chat": lambda model: ("/v1/chat/completions", {"model": model, "messages": HI}),
    "messages": lambda model: (
        "/v1/messages",
        {"model": model, "max_tokens": 5, "messages": HI},
    ),
    "responses": lambda model: ("/v1/responses", {"model": model, "input": "hi"}),
}


class Clock:
    """The circuit breakers' time, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _healthy(app: App) -> Iterator[None]:
    """Each test starts and ends with every circuit closed."""
    dispatcher = app.services.dispatcher
    dispatcher.health = ModelHealth(dispatcher.clock)
    yield
    dispatcher.health = ModelHealth(dispatcher.clock)


def _open(app: App, *names: str) -> None:
    """Open the named models' circuits (they keep failing until dispatch would skip them)."""
    health = app.services.dispatcher.health
    for name in names:
        spec = app.services.routing.catalog.resolve(name)
        assert spec is not None, name
        while health.skip_reason(spec) is None:
            health.failed(spec, OverloadedError("Overloaded", provider="x", model=name))


def _post(app: App, path: str, body: dict[str, Any]) -> httpx2.Response:
    return app.client().post(path, json=body)


def _call_id(answer: httpx2.Response) -> str:
    """The id an error answer names, in its header and its body (each API's own shape)."""
    call_id = answer.headers["x-cortex-call-id"]
    assert answer.json()["error"]["call_id"] == call_id
    return call_id


def _row(app: App, call_id: str) -> dict[str, Any]:
    answer = app.client().get(f"/v1/calls/{call_id}")
    assert answer.status_code == 200, f"no row for call {call_id}: {answer.text}"
    row: dict[str, Any] = answer.json()
    return row


def _rows_after(app: App, seq: int) -> list[dict[str, Any]]:
    rows = app.client().get("/v1/calls", params={"limit": 1000}).json()["data"]
    return [r for r in rows if r["seq"] > seq]


def _last_seq(app: App) -> int:
    rows = app.client().get("/v1/calls", params={"limit": 1}).json()["data"]
    return int(rows[-1]["seq"]) if rows else 0


def test_the_plan_steps_examples_hold() -> None:
    assert doctest.testmod(plan).failed == 0


@pytest.mark.parametrize("front", FRONT_ENDS)
def test_an_unknown_model_is_refused_on_the_record(app: App, front: str) -> None:
    path, body = FRONT_ENDS[front]("nonesuch-model")
    answer = _post(app, path, body)
    assert answer.status_code == 400
    row = _row(app, _call_id(answer))
    assert row["outcome"] == "error" and row["decided_by"] == "explicit-model"
    assert row["error"].startswith("UnknownModelError: unknown model 'nonesuch-model'")
    assert row["override"] == "nonesuch-model"  # what the client asked for
    assert row["attempts"] == []  # nothing was sent


def test_the_openai_sdk_keeps_the_call_id_of_a_refusal(sdk: openai.OpenAI, app: App) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(model="nonesuch-model", messages=HI)
    body = raised.value.body
    assert isinstance(body, dict) and body["code"] == "model_not_found"
    assert body["call_id"] == raised.value.response.headers["x-cortex-call-id"]
    assert _row(app, body["call_id"])["outcome"] == "error"


def test_an_unknown_task_is_refused_on_the_record(app: App) -> None:
    answer = _post(app, "/v1/chat/completions", {"model": "task:Astrology", "messages": HI})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "unknown_task"
    row = _row(app, _call_id(answer))
    assert row["task"] == "Astrology" and row["decided_by"] == "task-given"
    assert row["error"].startswith("UnknownTaskError: unknown task type 'Astrology'")


def test_a_local_only_request_without_a_local_model_is_refused_on_the_record(app: App) -> None:
    body = {"messages": HI, "cortex": {"local_only": True}}
    answer = _post(app, "/v1/chat/completions", body)
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "no_route"
    row = _row(app, _call_id(answer))
    assert row["outcome"] == "error" and row["local_only"] is True
    assert row["error"].startswith("NoRouteError:") and "local-only" in row["error"]


@pytest.mark.parametrize("front", FRONT_ENDS)
def test_every_circuit_open_is_refused_on_the_record_until_the_first_half_opens(
    app: App, fresh: Fakes, front: str
) -> None:
    clock = Clock()
    app.services.dispatcher.health = ModelHealth(clock)
    _open(app, *app.services.routing.catalog.models)  # each for the first cooldown, 10 s
    clock.now += 3.2
    path, body = FRONT_ENDS[front]("auto")
    answer = _post(app, path, body)
    # Anthropic's shape says overloaded (529): Claude Code waits and retries on it.
    assert answer.status_code == (529 if front == "messages" else 503)
    assert answer.headers["retry-after"] == "7"  # 6.8 s left of the cooldown, not a flat 60
    row = _row(app, _call_id(answer))
    assert row["outcome"] == "error" and row["error"].startswith("NoRouteError:")
    assert row["task"] != plan.UNROUTED  # the plan was made: its task is known
    assert any("circuit open" in r for r in row["reasons"])
    assert not [r for f in fresh for r in f.requests if r.method == "POST"]  # nothing sent


def test_the_retry_after_is_the_first_circuit_of_the_route_to_half_open(app: App) -> None:
    clock = Clock()
    app.services.dispatcher.health = ModelHealth(clock)
    _open(app, "sonnet")  # Code review: sonnet → codex
    clock.now += 4
    _open(app, "codex")
    clock.now += 2  # sonnet half-opens in 4 s, codex in 8 s
    body = {"model": "task:Code review", "messages": HI}
    answer = _post(app, "/v1/chat/completions", body)
    assert answer.status_code == 503 and answer.headers["retry-after"] == "4"
    row = _row(app, _call_id(answer))
    assert row["task"] == "Code review" and row["chain"] == []
    clock.now += 4  # sonnet is half-open: the next call is its probe
    assert _post(app, "/v1/chat/completions", body).status_code == 200


@pytest.fixture
def refusing_budget(app: App) -> Iterator[None]:
    """A tenth of a cent a month for anthropic, refused past it (every call would pass it)."""
    path = app.services.routing_path
    saved = path.read_text(encoding="utf-8")
    budget = "\n## Budgets\n\n| Provider | Monthly limit | Alerts | At 100% |\n|---|---|---|---|\n"
    _reload(app, path, default_routing_text() + budget + "| anthropic | $0.001 | 80% | refuse |\n")
    yield
    _reload(app, path, saved)


def _reload(app: App, path: Path, text: str) -> None:
    generation = app.services.routing.generation
    path.write_text(text, encoding="utf-8")
    app.reload()
    wait_for(lambda: app.services.routing.generation > generation, "the reload")


def test_a_budget_refusal_names_its_recorded_call(
    app: App, fresh: Fakes, refusing_budget: None
) -> None:
    answer = _post(app, "/v1/chat/completions", {"model": "task:Meeting summary", "messages": HI})
    assert answer.status_code == 429 and answer.json()["error"]["code"] == "budget_exceeded"
    row = _row(app, _call_id(answer))
    assert row["error"].startswith("BudgetExceededError:") and row["task"] == "Meeting summary"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"model": "sonnet", "messages": []}),
        ("/v1/messages", {"model": "sonnet", "messages": HI}),  # no max_tokens
        ("/v1/responses", {"model": "codex", "input": "x", "max_output_tokens": "5"}),
    ],
)
def test_a_body_refused_before_routing_gets_an_id_and_no_row(
    app: App, path: str, body: dict[str, Any]
) -> None:
    answer = _post(app, path, body)
    assert answer.status_code == 400
    call_id = _call_id(answer)
    assert app.client().get(f"/v1/calls/{call_id}").status_code == 404


def test_a_chat_answer_from_the_fallback_of_an_open_circuit_says_so(
    app: App, sdk: openai.OpenAI, fresh: Fakes
) -> None:
    _, openai_fake = fresh
    _open(app, "opus")  # Complex reasoning: opus → gpt-4o
    openai_fake.enqueue(Turn(text="from gpt-4o"))
    completion = sdk.chat.completions.create(model="task:Complex reasoning", messages=HI)
    cortex = (completion.model_extra or {})["cortex"]
    assert cortex["model"] == "gpt-4o" and cortex["fallback"] is True
    assert cortex["fallback_reason"].startswith("opus: circuit open after")
    assert cortex["attempts"][0]["outcome"] == "skipped"
    row = _row(app, cortex["id"])
    assert row["fallback"] is True and row["outcome"] == "ok"
    assert [a["outcome"] for a in row["attempts"]] == ["skipped", "ok"]


def test_a_streamed_answer_from_the_fallback_of_an_open_circuit_is_recorded_as_one(
    app: App, sdk: openai.OpenAI, fresh: Fakes
) -> None:
    _, openai_fake = fresh
    _open(app, "opus")
    openai_fake.enqueue(Turn(text="from gpt-4o"))
    chunks = list(
        sdk.chat.completions.create(model="task:Complex reasoning", messages=HI, stream=True)
    )
    cortex = (chunks[-1].model_extra or {})["cortex"]
    assert cortex["fallback"] is True and "circuit open" in cortex["fallback_reason"]
    assert _row(app, cortex["id"])["fallback"] is True


@pytest.mark.parametrize("stream", [False, True])
def test_a_passed_through_answer_from_the_fallback_of_an_open_circuit_says_so(
    app: App, fresh: Fakes, stream: bool
) -> None:
    anthropic_fake, _ = fresh
    _open(app, "claude-opus-4-1")
    anthropic_fake.enqueue(Turn(text="from sonnet"))
    body = {"model": "claude-opus-4-1", "max_tokens": 5, "messages": HI, "stream": stream}
    answer = _post(app, "/v1/messages", body)
    assert answer.status_code == 200
    assert answer.headers["x-cortex-fallback"] == "true"
    assert json.loads(anthropic_fake.requests[-1].body)["model"] != "claude-opus-4-1"
    row = _row(app, answer.headers["x-cortex-call-id"])
    assert row["fallback"] is True and row["attempts"][0]["outcome"] == "skipped"


def test_the_primary_answering_is_no_fallback(app: App, sdk: openai.OpenAI, fresh: Fakes) -> None:
    _open(app, "gpt-4o")  # the fallback's circuit is open; the primary's is not
    completion = sdk.chat.completions.create(model="task:Complex reasoning", messages=HI)
    cortex = (completion.model_extra or {})["cortex"]
    assert cortex["model"] == "opus" and cortex["fallback"] is False
    assert cortex["fallback_reason"] is None
    assert _row(app, cortex["id"])["fallback"] is False


#: Mixed requests to a failing upstream: each front-end, streamed or not, and refusals.
MIXED: list[tuple[str, dict[str, Any]]] = [
    ("/v1/chat/completions", {"messages": HI}),
    ("/v1/chat/completions", {"model": "gpt-4o", "messages": HI, "stream": True}),
    ("/v1/chat/completions", {"model": "task:Code review", "messages": HI}),
    ("/v1/messages", {"model": "sonnet", "max_tokens": 5, "messages": HI}),
    ("/v1/messages", {"model": "claude-opus-4-1", "max_tokens": 5, "messages": HI, "stream": True}),
    ("/v1/responses", {"model": "codex", "input": "hi"}),
    ("/v1/responses", {"model": "gpt-4o", "input": "hi", "stream": True}),
    ("/v1/chat/completions", {"model": "nonesuch-model", "messages": HI}),
    ("/v1/chat/completions", {"model": "task:Astrology", "messages": HI}),
    ("/v1/chat/completions", {"messages": []}),  # refused by validation: no row
]


def test_calls_against_a_failing_provider_leave_exactly_one_row_each(
    app: App, fresh: Fakes
) -> None:
    for fake in fresh:
        fake.enqueue(*[Fault.status(500)] * 400)
    before = _last_seq(app)
    routed: list[str] = []
    unrouted: list[str] = []
    try:
        for path, body in itertools.islice(itertools.cycle(MIXED), 50):
            answer = _post(app, path, body)
            assert answer.status_code >= 400, answer.text  # the upstream fails every time
            (routed if body["messages" if "messages" in body else "input"] else unrouted).append(
                _call_id(answer)
            )
    finally:
        for fake in fresh:
            fake.clear()
    rows = _rows_after(app, before)
    assert len(rows) == len(routed) == 45
    assert sorted(r["id"] for r in rows) == sorted(routed)
    assert all(r["outcome"] == "error" for r in rows)
    assert not set(unrouted) & {r["id"] for r in rows}

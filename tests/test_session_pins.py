"""Sessions pinned to a provider (`cortexd/pipeline/pins.py`): the rules table-tested, then a
real application through the anthropic SDK and the fakes: a turn's tool loop finishes where
it began, routed mode moves a new turn where the routing table says, every move is on the
ledger with its reason and cost, a hedge never crosses providers, and a restarted daemon
keeps every session where it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import anthropic
import openai
import pytest
from support.app import App, start_app
from support.daemon import cloud_env, remove_home, short_home
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn
from support.fakes.script import ToolCall

from cortexd.cli.calls_cmd import moved_lines
from cortexd.context.paths import default_routing_text
from cortexd.pipeline.hedging import hedge_policy
from cortexd.pipeline.pins import (
    Pin,
    SessionPins,
    pin_key,
    planned_move,
    stay_pinned,
)
from cortexd.pipeline.plan import Planned
from cortexd.routing import Catalog, RoutePlan, catalog_for, parse_routing_text
from cortexd.routing.dispatch import ModelHealth
from cortexd.routing.overrides.detector import Override
from cortexd.routing.providers import ChatMessage, ChatRequest, OverloadedError

# --- the rules ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return catalog_for(parse_routing_text(default_routing_text()))


def _plan(*chain: str, **fields: Any) -> RoutePlan:
    return RoutePlan(fields.pop("task", "General agent work"), chain, "classified", (), **fields)


def _pin(provider: str = "openai", model: str = "gpt-4o", turn: str = "s:1") -> Pin:
    return Pin(provider, model, turn, at=0.0, cached_tokens=30_000, first_token_s=0.8)


def test_pins_are_forgotten_after_their_time_and_bounded_in_number() -> None:
    now = [1000.0]
    pins = SessionPins(ttl_s=60, kept=2, clock=lambda: now[0])
    for n in (1, 2, 3):
        pins.set(("claude-cli", f"s{n}", "opus"), replace(_pin(), at=now[0]))
    assert pins.get(("claude-cli", "s1", "opus")) is None  # the least recently answered went
    assert len(pins) == 2 and pins.get(("claude-cli", "s3", "opus")) is not None
    now[0] += 61
    assert pins.get(("claude-cli", "s3", "opus")) is None
    assert pin_key("claude-cli", None, "opus") is None  # no session, no pin


def test_a_restarted_daemon_starts_from_each_sessions_newest_answer() -> None:
    pins = SessionPins(ttl_s=100, clock=lambda: 1000.0)
    rows = [  # as the ledger gives them: newest first, one per session, within the TTL read
        ("claude-cli", "a", "opus", "openai", "gpt-4o", "a:3", 990.0, 9000, 0.5),
        ("codex_exec", "b", "auto", "anthropic", "sonnet", "b:1", 950.0, 0, None),
        ("claude-cli", "c", "opus", "anthropic", "opus", "c:9", 800.0, 0, None),  # too old
    ]
    pins.seed(rows)
    a = pins.get(("claude-cli", "a", "opus"))
    assert a is not None and (a.provider, a.model, a.turn, a.cached_tokens) == (
        "openai",
        "gpt-4o",
        "a:3",
        9000,
    )
    assert pins.get(("codex_exec", "b", "auto")) is not None
    assert pins.get(("claude-cli", "c", "opus")) is None


@pytest.mark.parametrize(
    ("chain", "pin", "turn", "decided_by", "expected"),
    [
        # A turn's later call stays where its last one was answered: pinned model first.
        (("sonnet", "opus", "gpt-4o"), _pin(), "s:1", "classified", ("gpt-4o", "sonnet", "opus")),
        # A new turn plans as usual.
        (("sonnet", "opus", "gpt-4o"), _pin(), "s:2", "classified", ("sonnet", "opus", "gpt-4o")),
        # Already on the pinned provider: nothing to do.
        (("gpt-4o", "sonnet"), _pin(), "s:1", "classified", ("gpt-4o", "sonnet")),
        # The person's override wins even mid-turn (it is the turn's own words).
        (("opus",), _pin(), "s:1", "override", ("opus",)),
        # No pin yet.
        (("sonnet", "gpt-4o"), None, "s:1", "classified", ("sonnet", "gpt-4o")),
    ],
)
def test_a_turns_tool_loop_stays_where_it_began(
    catalog: Catalog,
    chain: tuple[str, ...],
    pin: Pin | None,
    turn: str,
    decided_by: str,
    expected: tuple[str, ...],
) -> None:
    override = Override("opus", "use opus", "x") if decided_by == "override" else None
    plan = replace(_plan(*chain), decided_by=decided_by, override=override)
    assert stay_pinned(plan, pin, turn, catalog).chain == expected


@pytest.mark.parametrize(
    ("plan", "routed", "why"),
    [
        (_plan("gpt-4o", "sonnet"), False, None),  # stays on the pinned provider
        (
            replace(
                _plan("opus"), decided_by="override", override=Override("opus", "use opus", "")
            ),
            False,
            "the person said so ('use opus')",
        ),
        (
            _plan("sonnet", skipped=(("gpt-4o", "circuit open for 30 s"),)),
            False,
            "openai is held back (gpt-4o: circuit open for 30 s)",
        ),
        (
            _plan("sonnet", "codex", task="Code review"),
            True,
            "the routing table sends 'Code review' to sonnet",
        ),
        (
            _plan("claude-opus-4-8", "sonnet"),
            False,
            "back to the agent's own provider (claude-opus-4-8)",
        ),
    ],
)
def test_each_move_has_its_reason(
    catalog: Catalog, plan: RoutePlan, routed: bool, why: str | None
) -> None:
    moved, said = planned_move(plan, _pin(), routed=routed, catalog=catalog)
    assert said == why
    if why is not None:
        assert moved.reasons[-1].startswith("the session moves from openai to anthropic: ")
    assert planned_move(plan, None, routed=routed, catalog=catalog) == (plan, None)


# --- through the application ----------------------------------------------------------------


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeAnthropic, FakeOpenAI]]:
    with FakeAnthropic() as anthropic_fake, FakeOpenAI() as openai_fake:
        yield anthropic_fake, openai_fake


@pytest.fixture
def home() -> Iterator[Any]:
    path = short_home()
    yield path
    remove_home(path)


Running = tuple[App, FakeAnthropic, FakeOpenAI]


@pytest.fixture
def running(fakes: tuple[FakeAnthropic, FakeOpenAI], home: Any) -> Iterator[Running]:
    """A cortexd of its own on `home`, the fakes cleared."""
    anthropic_fake, openai_fake = fakes
    anthropic_fake.clear()
    openai_fake.clear()
    app = start_app(home, cloud_env(anthropic_fake, openai_fake))
    yield app, anthropic_fake, openai_fake
    app.stop()


def _claude(app: App, session: str, model: str) -> Any:
    return anthropic.Anthropic(
        base_url="http://cortexd", api_key="unused", http_client=app.client(), max_retries=0,
        default_headers={"x-claude-code-session-id": session,
                         "user-agent": "claude-cli/2.1.197 (external, cli)"},
    ).messages.with_raw_response.create  # fmt: skip


def _why(app: App, raw: Any) -> dict[str, Any]:
    found: dict[str, Any] = app.client().get(f"/v1/calls/{raw.headers['x-cortex-call-id']}").json()
    return found


TOOLS = [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}]


def _kept(answer: Any) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": [b.model_dump(exclude_none=True) for b in answer.content],
    }


def _result(answer: Any, output: str) -> dict[str, Any]:
    use = next(b for b in answer.content if b.type == "tool_use")
    return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                         "content": output}]}  # fmt: skip


def test_a_pinned_session_survives_a_restart_and_its_moves_are_on_the_ledger(
    fakes: tuple[FakeAnthropic, FakeOpenAI], home: Any
) -> None:
    anthropic_fake, openai_fake = fakes
    anthropic_fake.clear()
    openai_fake.clear()
    env = cloud_env(anthropic_fake, openai_fake)
    ask = {"model": "claude-sonnet-4-5", "max_tokens": 500, "tools": TOOLS}
    app = start_app(home, env)
    try:
        create = _claude(app, "sess-restart", "claude-sonnet-4-5")
        # Turn 1 on Claude, with 30,000 tokens of prompt in its cache.
        anthropic_fake.enqueue(Turn(text="Noted.", input_tokens=31_000, cache_read_tokens=30_000))
        history: list[Any] = [{"role": "user", "content": "look at the repo"}]
        first = create(messages=history, **ask).parse()
        history += [_kept(first), {"role": "user", "content": "now tidy the folder"}]
        # Turn 2: Anthropic is down; gpt-4o answers with a tool call, and the session moves.
        anthropic_fake.enqueue(*[Fault.status(529)] * 12)
        openai_fake.enqueue(Turn(text="", tool_calls=(ToolCall("c1", "Bash", {"command": "ls"}),),
                                 input_tokens=31_500))  # fmt: skip
        raw = create(messages=history, **ask)
        second = raw.parse()
        why = _why(app, raw)
        moved = why["moved"]
        assert (moved["from_provider"], moved["to_provider"]) == ("anthropic", "openai")
        assert moved["from_model"] == "claude-sonnet-4-5" and moved["to_model"] == why["model"]
        assert moved["cache_lost_tokens"] == 30_000  # OpenAI read nothing from a cache
        assert moved["cache_lost_usd"] > 0  # the full input price, not the cached one
        assert moved["before_ttft_s"] is not None
        said = "\n".join(moved_lines(_why(app, raw)))
        assert f"moved from anthropic (claude-sonnet-4-5) to openai ({why['model']})" in said
        assert "cache lost: 30,000 prompt tokens anthropic had cached" in said
        assert "the turn on openai: 1 calls" in said
        history += [_kept(second), _result(second, "a.txt")]
    finally:
        app.stop()
    # The daemon restarts; Anthropic is back. The turn's tool loop still finishes on gpt-4o.
    anthropic_fake.clear()
    openai_fake.clear()
    app = start_app(home, env)
    try:
        create = _claude(app, "sess-restart", "claude-sonnet-4-5")
        openai_fake.enqueue(Turn(text="Tidied."))
        raw = create(messages=history, **ask)
        assert raw.parse().content[-1].text == "Tidied."
        assert not anthropic_fake.requests
        why = _why(app, raw)
        assert why["moved"] is None and why["provider"] == "openai"
        # The person's next turn goes back to Claude, and says why.
        history += [_kept(raw.parse()), {"role": "user", "content": "thanks, commit it"}]
        anthropic_fake.enqueue(Turn(text="Committed."))
        raw = create(messages=history, **ask)
        assert raw.parse().content[-1].text == "Committed."
        assert _why(app, raw)["moved"]["reason"] == (
            "back to the agent's own provider (claude-sonnet-4-5)"
        )
    finally:
        app.stop()


def test_routed_mode_moves_a_new_turn_where_the_routing_table_sends_it(running: Running) -> None:
    app, anthropic_fake, openai_fake = running
    codex = openai.OpenAI(
        base_url="http://cortexd/v1", api_key="unused", http_client=app.client(),
        max_retries=0, default_headers={"originator": "codex_exec", "session-id": "routed"},
    ).responses.with_raw_response.create  # fmt: skip
    tools: Any = [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}}]
    # Vibe coding goes to codex (the routing table), with a tool call.
    openai_fake.enqueue(Turn(text="", tool_calls=(ToolCall("c1", "exec_command", {"cmd": "ls"}),)))
    items: list[Any] = [{"role": "user", "content": "let's vibe code a little snake game together"}]
    raw = codex(model="auto", input=items, tools=tools)
    why = _why(app, raw)
    assert why["model"] == "codex" and why["task"] == "Vibe coding (interactive)"
    assert why["moved"] is None  # a session's first call has nowhere to move from
    call = next(o for o in raw.parse().output if o.type == "function_call")
    items += [o.model_dump(exclude_none=True) for o in raw.parse().output]
    items.append({"type": "function_call_output", "call_id": call.call_id, "output": "ok"})
    openai_fake.enqueue(Turn(text="Snake is ready."))
    raw = codex(model="auto", input=items, tools=tools)
    assert _why(app, raw)["model"] == "codex"
    # The person's next turn is a note: the routing table sends it to haiku, across.
    items += [o.model_dump(exclude_none=True) for o in raw.parse().output]
    items.append({"role": "user", "content": "save this note: call the dentist tuesday"})
    anthropic_fake.enqueue(Turn(text="Filed."))
    raw = codex(model="auto", input=items, tools=tools)
    assert raw.parse().output_text == "Filed."
    why = _why(app, raw)
    assert why["model"] == "haiku" and why["task"] == "Quick capture / filing"
    assert why["moved"]["from_provider"] == "openai"
    assert why["moved"]["reason"] == "the routing table sends 'Quick capture / filing' to haiku"
    assert any(r.startswith("the session moves from openai to anthropic") for r in why["reasons"])


def test_a_hedge_never_moves_a_session_to_another_provider(
    fakes: tuple[FakeAnthropic, FakeOpenAI], home: Any
) -> None:
    app = start_app(home, cloud_env(*fakes))
    try:
        chat = ChatRequest("sonnet", (ChatMessage.of("user", "hi"),))
        plan = _plan("sonnet", "haiku", "gpt-4o")
        planned = Planned(plan, chat, chat)
        services = app.services
        catalog = services.routing.catalog
        parts = (services.routing, services.spend, services.ttfts)
        policy = hedge_policy(*parts, planned, "call-1", session="s")
        assert policy is not None
        gpt, haiku = catalog.resolve("gpt-4o"), catalog.resolve("haiku")
        assert gpt is not None and haiku is not None
        assert policy.refusal(haiku) is None  # inside the provider: may race
        planned = Planned(_plan("sonnet", "gpt-4o"), chat, chat)
        policy = hedge_policy(*parts, planned, "call-1", session="s")
        assert policy is not None
        assert policy.refusal(gpt) == "a hedge never moves a session to another provider"
        # Plain traffic (no session) may race across providers, as before.
        policy = hedge_policy(*parts, planned, "call-1")
        assert policy is not None and policy.refusal(gpt) is None
    finally:
        app.stop()


def test_a_session_whose_provider_is_down_moves_and_says_so_before_sending(
    running: Running,
) -> None:
    app, anthropic_fake, openai_fake = running
    create = _claude(app, "sess-down", "claude-sonnet-4-5")
    ask = {"model": "claude-sonnet-4-5", "max_tokens": 500}
    anthropic_fake.enqueue(Turn(text="One."))
    history: list[Any] = [{"role": "user", "content": "first"}]
    raw = create(messages=history, **ask)
    # Every Anthropic circuit opens: the next turn is planned on OpenAI from the start.
    health: ModelHealth = app.services.dispatcher.health
    catalog = app.services.routing.catalog
    for spec in [*catalog, catalog.resolve("claude-sonnet-4-5")]:
        if spec is not None and spec.provider.value == "anthropic":
            for _ in range(10):
                health.failed(spec, OverloadedError("overloaded", provider="anthropic", status=529))
    history += [_kept(raw.parse()), {"role": "user", "content": "second"}]
    openai_fake.enqueue(Turn(text="Two."))
    raw = create(messages=history, **ask)
    why = _why(app, raw)
    assert why["provider"] == "openai"
    assert why["moved"]["reason"].startswith("anthropic is held back (claude-sonnet-4-5: ")
    assert not [r for r in anthropic_fake.requests if json.loads(r.body)["messages"][-1]
                ["content"] == "second"]  # fmt: skip

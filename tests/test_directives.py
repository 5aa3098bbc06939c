"""Directives over a conversation: a turn's, a session's, a re-answer, a revocation, and a
model the catalog does not have — planned by the real router on the seed routing file."""

from __future__ import annotations

import time

import pytest

from cortexd.routing.request import Message, RouteRequest
from cortexd.routing.router import RoutePlan, Router
from cortexd.routing.routing_file.parse import parse_routing_text


@pytest.fixture(scope="module")
def router(seed_text: str) -> Router:
    return Router(parse_routing_text(seed_text, source="model-routing.md"))


def _chat(*turns: str) -> tuple[Message, ...]:
    """User turns with an assistant answer between each."""
    messages: list[Message] = []
    for i, text in enumerate(turns):
        if i:
            messages.append(Message("assistant", f"answer {i}"))
        messages.append(Message("user", text))
    return tuple(messages)


def _plan(router: Router, *turns: str) -> RoutePlan:
    return router.plan(RouteRequest(messages=_chat(*turns)))


def test_a_session_directive_holds_for_the_later_turns(router: Router) -> None:
    p = _plan(router, "from now on use codex", "explain this regex: ^a+$", "and this one: b*")
    assert (p.chain, p.decided_by, p.directive_turn) == (("codex",), "override", 1)
    assert any("session override" in r and "turn 1 of 3" in r for r in p.reasons)
    assert p.messages[-1].content == "and this one: b*"


@pytest.mark.parametrize(
    "switch",
    [
        "Switch to sonnet for the rest of this session",
        "stick with opus for this chat",
        "ab jetzt bitte nur noch Codex",
        "désormais, utilise Opus",
        "de ahora en adelante usa Sonnet",
    ],
)
def test_session_switches_in_four_languages(router: Router, switch: str) -> None:
    p = _plan(router, switch, "ok", "what's the capital of Peru?")
    assert p.decided_by == "override" and p.directive_turn == 1, p.reasons


def test_a_one_turn_directive_applies_to_its_own_turn_only(router: Router) -> None:
    first = _plan(router, "use opus for this: prove that sqrt 2 is irrational")
    assert first.chain == ("opus",)
    later = _plan(router, "use opus for this: prove that sqrt 2 is irrational", "thanks! 2+2?")
    assert later.decided_by != "override" and later.directive_turn is None


def test_a_revocation_ends_the_session_directive(router: Router) -> None:
    p = _plan(router, "from now on use codex", "hi", "back to normal routing please", "2+2?")
    assert p.decided_by != "override"
    assert any("revoked (turn 3)" in r for r in p.reasons)


@pytest.mark.parametrize(
    "revocation",
    [
        "Anula lo de Codex para el resto de la charla. Ahora quiero hablar de precios.",
        "hör auf mit Codex für den Rest des Chats",
    ],
)
def test_a_revocation_that_names_the_model_in_force_ends_it(
    router: Router, revocation: str
) -> None:
    """It may read as a session directive to that model too; restating the model in force
    would change nothing, so the revocation is what it says."""
    p = _plan(router, "from now on use codex", "hi", revocation)
    assert p.decided_by != "override" and p.directive_turn is None, p.reasons
    assert any("revoked (turn 3)" in r for r in p.reasons)


@pytest.mark.parametrize(
    "revocation",
    [
        "Hör bitte auf, für den Rest des Chats Codex zu nehmen, ich hab jetzt normale Fragen.",
        "stop using codex for the rest of this chat",
    ],
)
def test_a_revocation_naming_one_model_never_pins_it(router: Router, revocation: str) -> None:
    """With no session in force it may read as a session directive to the model it names;
    it is the revocation it says, and the next turns are routed."""
    p = _plan(router, "hi", revocation, "write a haiku about autumn")
    assert p.decided_by != "override" and "codex" not in p.chain[:1], p.reasons


def test_a_switch_away_from_the_model_in_force_is_a_new_session_directive(
    router: Router,
) -> None:
    p = _plan(
        router, "from now on use sonnet", "hi", "Stop using sonnet, switch to opus from now on"
    )
    assert (p.chain, p.directive_turn) == (("opus",), 3)
    # Saying the model in force again, with no revocation in it, keeps it.
    p = _plan(router, "from now on use codex", "hi", "from now on use codex", "2+2?")
    assert (p.chain, p.directive_turn) == (("codex",), 3)


def test_a_later_session_directive_replaces_an_earlier_one(router: Router) -> None:
    p = _plan(router, "from now on use codex", "hi", "from now on use opus", "2+2?")
    assert (p.chain, p.directive_turn) == (("opus",), 3)


def test_a_turns_own_directive_wins_over_the_sessions(router: Router) -> None:
    p = _plan(router, "from now on use codex", "use haiku for this: 2+2?")
    assert (p.chain, p.directive_turn) == (("haiku",), 2)


def test_redo_re_answers_the_previous_request_with_that_model(router: Router) -> None:
    p = _plan(router, "write a limerick about a cat", "try that again with opus")
    assert p.chain == ("opus",) and p.override is not None and p.override.scope == "redo"
    assert p.messages == (Message("user", "write a limerick about a cat"),)
    assert any(r.startswith("re-answer with opus") for r in p.reasons)


def test_redo_with_nothing_before_is_answered_as_written(router: Router) -> None:
    p = _plan(router, "redo that with gpt-4o")
    assert p.chain == ("gpt-4o",)
    assert p.messages[-1].content == "redo that with gpt-4o"


def test_a_model_the_catalog_lacks_is_warned_of_and_stays_in_the_prompt(router: Router) -> None:
    p = _plan(router, "use gemini for this: summarise the French revolution")
    assert p.decided_by != "override"
    assert p.warnings and "'gemini'" in p.warnings[0] and "routing file" in p.warnings[0]
    assert p.messages[-1].content == "use gemini for this: summarise the French revolution"


def test_a_session_directive_in_an_agents_earlier_turns_counts(router: Router) -> None:
    request = RouteRequest(
        messages=(Message("user", "now fix the failing test"),),
        earlier=("from now on use opus", "look at utils.py"),
    )
    p = router.plan(request)
    assert (p.chain, p.directive_turn) == (("opus",), 1)
    assert p.messages == (Message("user", "now fix the failing test"),)


def test_a_mention_in_an_earlier_turn_is_not_a_session_directive(router: Router) -> None:
    p = _plan(router, "is opus better than sonnet for proofs?", "ok, explain monads")
    assert p.decided_by != "override"


def test_only_the_last_turns_are_read(router: Router) -> None:
    turns = ["from now on use codex", *(f"question {i}" for i in range(60))]
    assert _plan(router, *turns).decided_by != "override"
    assert _plan(router, *turns[-40:]).decided_by != "override"  # turn 1 is gone
    assert _plan(router, "from now on use codex", *turns[1:40]).directive_turn == 1


def test_a_long_conversation_is_read_in_bounded_time(router: Router) -> None:
    """Not a benchmark: a guard against reading every turn whole (benchmarks.classify times it)."""
    paste = "log line mentioning opus and codex\n" * 2_000
    turns = [f"{paste}question {i}" for i in range(200)]
    start = time.perf_counter()
    router.plan(RouteRequest(messages=_chat(*turns)))
    assert time.perf_counter() - start < 2.0


def test_a_re_answer_with_new_words_keeps_them(router: Router) -> None:
    p = _plan(router, "write a parser in go", "redo that with opus but in Python")
    assert p.chain == ("opus",)
    assert "in Python" in p.messages[-1].content


def test_a_re_answer_of_a_re_answer_asks_the_original_request(router: Router) -> None:
    p = _plan(
        router, "write a limerick about a cat", "redo that with opus", "redo that with sonnet"
    )
    assert p.chain == ("sonnet",)
    assert p.messages == (Message("user", "write a limerick about a cat"),)


def test_a_re_answer_asks_the_earlier_request_without_its_directive(router: Router) -> None:
    p = _plan(router, "use codex for this: write a parser in go", "try that again with opus")
    assert p.chain == ("opus",)
    assert p.messages[-1].content == "write a parser in go"


def test_a_later_switch_to_an_unknown_model_replaces_the_earlier_one(router: Router) -> None:
    p = _plan(router, "from now on use codex", "hi", "from now on use gemini", "write a parser")
    assert p.decided_by != "override"
    assert p.warnings and "'gemini'" in p.warnings[0]


def test_a_one_line_paste_naming_models_many_times_is_read_quickly(router: Router) -> None:
    """A guard against reading the whole line per name (it took seconds); not a benchmark."""
    paste = "x " * 500_000 + " ".join(["opus sonnet codex haiku"] * 20)
    start = time.perf_counter()
    router.detector.read(paste)
    assert time.perf_counter() - start < 0.5


def test_a_name_running_past_the_window_is_not_a_name(router: Router) -> None:
    assert router.detector.read("a" * 315 + " opusfoo: write a poem") is None

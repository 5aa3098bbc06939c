"""The router: precedence, overrides, local models, availability and Coding Workflow rules."""

from __future__ import annotations

from typing import Any

import pytest

from cortexd.routing.errors import NoRouteError, UnknownModelError, UnknownTaskError
from cortexd.routing.request import Message, RouteRequest
from cortexd.routing.router import Availability, RoutePlan, Router
from cortexd.routing.routing_file.parse import parse_routing_text

NEUTRAL = "What's the capital of France?"
STANDUP = "Summarize today's standup: Alice shipped the parser, Bob is blocked on review."


@pytest.fixture(scope="module")
def router(seed_text: str) -> Router:
    return Router(parse_routing_text(seed_text, source="model-routing.md"))


def plan(
    router: Router, prompt: str = NEUTRAL, available: Availability | None = None, **kw: Any
) -> RoutePlan:
    request = RouteRequest(messages=(Message("user", prompt),), **kw)
    return router.plan(request, available)


def local(*names: str) -> Availability:
    return Availability(local_models=frozenset(names))


def seed_with_local_toggles(seed_text: str, toggles: dict[str, str]) -> str:
    """The seed with an "Enabled" column in its Local Models table."""
    text = seed_text.replace(
        "| Task Type | Local Model | Cloud Fallback |\n|---|---|---|",
        "| Task Type | Local Model | Cloud Fallback | Enabled |\n|---|---|---|---|",
    )
    lines = []
    for line in text.splitlines():
        for task, value in toggles.items():
            if line.startswith(f"| {task} | ") and (":" in line or "nomic" in line):
                line = f"{line} {value} |"
        lines.append(line)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# precedence: explicit model > override phrase > task given > classified > default


def test_default_route_is_general_agent_work_on_sonnet(router: Router) -> None:
    p = plan(router, NEUTRAL)
    assert (p.task, p.chain, p.decided_by) == ("General agent work", ("sonnet",), "default")


def test_classified_task_when_nothing_else_decides(router: Router) -> None:
    p = plan(router, STANDUP)
    assert (p.task, p.chain, p.decided_by) == ("Meeting summary", ("sonnet", "opus"), "classified")
    assert p.classification is not None
    assert p.classification.task == "Meeting summary"


def test_task_given_beats_classification(router: Router) -> None:
    p = plan(router, STANDUP, task="Security audit")
    assert (p.task, p.chain, p.decided_by) == ("Security audit", ("opus",), "task-given")
    assert p.classification is None


def test_task_given_through_the_model_field(router: Router) -> None:
    p = plan(router, STANDUP, model="task:Security audit")
    assert (p.task, p.chain, p.decided_by) == ("Security audit", ("opus",), "task-given")


@pytest.mark.parametrize(
    "given", ["security audit", "SECURITY AUDIT", "security-audit", "  Security   audit "]
)
def test_task_given_is_matched_loosely(router: Router, given: str) -> None:
    assert plan(router, task=given).task == "Security audit"


def test_vibe_coding_given_without_punctuation(router: Router) -> None:
    assert plan(router, task="vibe coding interactive").task == "Vibe coding (interactive)"


def test_override_phrase_beats_task_given(router: Router) -> None:
    p = plan(router, "use codex for this: check the login flow", task="Security audit")
    assert (p.task, p.chain, p.decided_by) == ("Security audit", ("codex",), "override")
    assert p.override is not None and p.override.model == "codex"


def test_override_phrase_beats_classification(router: Router) -> None:
    p = plan(router, f"send this to haiku: {STANDUP}")
    assert (p.chain, p.decided_by) == (("haiku",), "override")


def test_explicit_model_beats_override_phrase(router: Router) -> None:
    prompt = "use opus for this: write me a haiku about autumn"
    p = plan(router, prompt, model="codex")
    assert (p.chain, p.decided_by, p.override) == (("codex",), "explicit-model", None)
    assert p.messages == (Message("user", prompt),)


def test_explicit_model_beats_task_given(router: Router) -> None:
    p = plan(router, model="haiku", task="Security audit")
    assert (p.task, p.chain, p.decided_by) == ("Security audit", ("haiku",), "explicit-model")


@pytest.mark.parametrize(("model", "name"), [("Claude Opus", "opus"), ("GPT4O", "gpt-4o")])
def test_explicit_model_by_synonym(router: Router, model: str, name: str) -> None:
    assert plan(router, model=model).chain == (name,)


def test_explicit_concrete_model_id(router: Router) -> None:
    assert plan(router, model="claude-sonnet-4-5").chain == ("claude-sonnet-4-5",)


@pytest.mark.parametrize("model", ["auto", "AUTO", "", "cortex-auto", None])
def test_auto_model_means_route_it(router: Router, model: str | None) -> None:
    p = plan(router, STANDUP, model=model)
    assert (p.decided_by, p.task) == ("classified", "Meeting summary")


def test_explicit_model_has_no_fallback(router: Router) -> None:
    assert plan(router, model="sonnet").fallbacks == ()


# ---------------------------------------------------------------------------------------------
# overrides


def test_override_removes_the_directive_and_keeps_the_rest(router: Router) -> None:
    p = plan(router, "use opus for this: write me a haiku about autumn")
    assert p.chain == ("opus",)
    assert p.messages[-1].content == "write me a haiku about autumn"


def test_override_at_the_end(router: Router) -> None:
    p = plan(router, "Explain monads simply. Use opus for this.")
    assert (p.chain, p.decided_by) == (("opus",), "override")
    assert p.messages[-1].content == "Explain monads simply."


def test_override_edits_only_the_last_user_message(router: Router) -> None:
    rest = "fix the bug in\n    parse()  \n\tand keep  spacing  "
    messages = (
        Message("system", "You are terse. use opus for this: nothing"),
        Message("user", "use codex for this: first question"),
        Message("assistant", "an answer"),
        Message("user", f"send this to codex: {rest}"),
    )
    p = router.plan(RouteRequest(messages=messages))
    assert p.chain == ("codex",)
    assert p.messages[:3] == messages[:3]
    assert p.messages[3] == Message("user", rest)


@pytest.mark.parametrize(
    "prompt",
    [
        "compare opus and sonnet pricing",
        "I mostly use sonnet for this kind of thing",
        "tell me about the haiku form",
    ],
)
def test_a_mere_mention_of_a_model_is_not_an_override(router: Router, prompt: str) -> None:
    p = plan(router, prompt)
    assert p.override is None
    assert p.decided_by != "override"
    assert p.messages[-1].content == prompt


def test_static_rules_mode_ignores_override_phrases(seed_text: str) -> None:
    text = seed_text.replace("**Mode**: Static rules + user override", "**Mode**: Static rules")
    static = Router(parse_routing_text(text))
    prompt = "use opus for this: write me a haiku about autumn"
    p = plan(static, prompt)
    assert p.override is None
    assert p.chain != ("opus",)
    assert p.messages[-1].content == prompt


def test_static_rules_mode_still_honours_an_explicit_model(seed_text: str) -> None:
    text = seed_text.replace("**Mode**: Static rules + user override", "**Mode**: Static rules")
    static = Router(parse_routing_text(text))
    p = plan(static, "use opus for this: hi", model="haiku")
    assert (p.chain, p.decided_by) == (("haiku",), "explicit-model")


# ---------------------------------------------------------------------------------------------
# names the client got wrong


def test_unknown_explicit_model_suggests_the_nearest(router: Router) -> None:
    with pytest.raises(UnknownModelError) as info:
        plan(router, model="sonet")
    assert (info.value.name, info.value.suggestion) == ("sonet", "sonnet")
    assert "did you mean 'sonnet'" in str(info.value)


def test_unknown_explicit_model_far_from_any_name(router: Router) -> None:
    with pytest.raises(UnknownModelError) as info:
        plan(router, model="xyzzy")
    assert info.value.suggestion is None


def test_unknown_task_suggests_the_nearest(router: Router) -> None:
    with pytest.raises(UnknownTaskError) as info:
        plan(router, task="Securty audit")
    assert info.value.suggestion == "Security audit"
    assert "did you mean 'Security audit'" in str(info.value)


def test_unknown_task_through_the_model_field(router: Router) -> None:
    with pytest.raises(UnknownTaskError) as info:
        plan(router, model="task:Debuging / tracing")
    assert info.value.suggestion == "Debugging / tracing"


# ---------------------------------------------------------------------------------------------
# local models and local-only requests


def test_local_only_without_local_models_has_no_route(router: Router) -> None:
    with pytest.raises(NoRouteError) as info:
        plan(router, task="Quick capture / filing", local_only=True)
    message = str(info.value)
    assert "local-only" in message
    assert "no local model" in message
    assert "Quick capture / filing" in message


def test_local_only_with_the_local_model_present(router: Router) -> None:
    p = plan(router, task="Quick capture / filing", local_only=True, available=local("llama3.1:8b"))
    assert p.chain == ("llama3.1:8b",)
    assert p.local_only


def test_local_only_explicit_cloud_model_has_no_route(router: Router) -> None:
    with pytest.raises(NoRouteError, match="cloud model"):
        plan(router, model="opus", local_only=True)


def test_local_only_override_to_a_cloud_model_has_no_route(router: Router) -> None:
    with pytest.raises(NoRouteError):
        plan(router, "send this to codex: fix it", local_only=True)


def test_local_only_routing_table_row(seed_text: str) -> None:
    text = seed_text.replace(
        "| Task Type | Primary | Fallback | Notes |\n|---|---|---|---|",
        "| Task Type | Primary | Fallback | Notes | Local only |\n|---|---|---|---|---|",
    ).replace("| Fast, cheap |", "| Fast, cheap | yes |")
    private = Router(parse_routing_text(text))
    with pytest.raises(NoRouteError, match="local-only"):
        plan(private, task="Quick capture / filing")
    p = plan(private, task="Quick capture / filing", available=local("llama3.1:8b"))
    assert (p.chain, p.local_only) == (("llama3.1:8b",), True)


def test_active_local_row_puts_its_model_first_then_its_cloud_fallback(router: Router) -> None:
    p = plan(router, task="Code generation", available=local("qwen2.5-coder:14b"))
    assert p.chain == ("qwen2.5-coder:14b", "codex", "sonnet")


def test_local_row_is_inactive_without_the_model(router: Router) -> None:
    p = plan(router, task="Code generation", available=local("llama3.1:8b"))
    assert p.chain == ("sonnet", "codex")


def test_default_route_uses_the_general_agent_local_row(router: Router) -> None:
    p = plan(router, NEUTRAL, available=local("qwen2.5:14b"))
    assert (p.task, p.chain) == ("General agent work", ("qwen2.5:14b", "sonnet"))


def test_embeddings_with_the_local_model_present(router: Router) -> None:
    p = plan(router, task="Embeddings", available=local("nomic-embed-text"))
    assert p.chain == ("nomic-embed-text",)


def test_embeddings_without_a_local_model_has_no_route(router: Router) -> None:
    with pytest.raises(NoRouteError):
        plan(router, task="Embeddings")


def test_local_row_forced_on_works_without_availability(seed_text: str) -> None:
    forced = Router(
        parse_routing_text(seed_with_local_toggles(seed_text, {"Code generation": "on"}))
    )
    p = plan(forced, task="Code generation")
    assert p.chain == ("qwen2.5-coder:14b", "codex", "sonnet")


def test_local_row_forced_off_is_never_used(seed_text: str) -> None:
    off = Router(parse_routing_text(seed_with_local_toggles(seed_text, {"Code generation": "off"})))
    p = plan(off, task="Code generation", available=local("qwen2.5-coder:14b"))
    assert p.chain == ("sonnet", "codex")


def test_local_row_forced_on_serves_local_only(seed_text: str) -> None:
    forced = Router(
        parse_routing_text(seed_with_local_toggles(seed_text, {"Quick capture / filing": "on"}))
    )
    p = plan(forced, task="Quick capture / filing", local_only=True)
    assert p.chain == ("llama3.1:8b",)


def test_explicit_local_model_is_kept_without_availability(router: Router) -> None:
    assert plan(router, model="llama3.1:8b").chain == ("llama3.1:8b",)


# ---------------------------------------------------------------------------------------------
# availability


def test_unavailable_model_is_skipped_with_its_reason(router: Router) -> None:
    p = plan(
        router, task="Meeting summary", available=Availability(unavailable={"sonnet": "no key"})
    )
    assert p.chain == ("opus",)
    assert p.skipped == (("sonnet", "no key"),)
    assert any("sonnet" in r and "no key" in r for r in p.reasons)


def test_unavailable_local_model_is_skipped(router: Router) -> None:
    available = Availability(
        local_models=frozenset({"qwen2.5-coder:14b"}),
        unavailable={"qwen2.5-coder:14b": "circuit open"},
    )
    p = plan(router, task="Code generation", available=available)
    assert p.chain == ("codex", "sonnet")
    assert p.skipped == (("qwen2.5-coder:14b", "circuit open"),)


def test_every_model_unavailable_has_no_route(router: Router) -> None:
    available = Availability(unavailable={"opus": "no key"})
    with pytest.raises(NoRouteError, match="no key"):
        plan(router, task="Security audit", available=available)


def test_unavailable_explicit_model_has_no_route(router: Router) -> None:
    with pytest.raises(NoRouteError):
        plan(router, model="sonnet", available=Availability(unavailable={"sonnet": "no key"}))


# ---------------------------------------------------------------------------------------------
# Coding Workflow rules


def test_review_of_claude_code_goes_to_codex_first(router: Router) -> None:
    p = plan(router, "review this diff", task="Code review", author="claude")
    assert p.chain == ("codex", "sonnet")


def test_review_of_codex_code_goes_to_sonnet_first(router: Router) -> None:
    p = plan(router, "review this diff", task="Code review", author="codex")
    assert p.chain == ("sonnet", "codex")


@pytest.mark.parametrize(("author", "first"), [("Claude Code", "codex"), ("gpt-4o", "sonnet")])
def test_review_author_by_product_or_model_name(router: Router, author: str, first: str) -> None:
    assert plan(router, task="Code review", author=author).primary == first


def test_review_without_an_author_keeps_the_table_order(router: Router) -> None:
    assert plan(router, task="Code review").chain == ("sonnet", "codex")


def test_claude_code_client_keeps_only_claude_models(router: Router) -> None:
    p = plan(router, task="Vibe coding (interactive)", client="claude-code")
    assert "codex" not in p.chain
    assert p.primary == "sonnet"
    assert set(p.chain) <= {"sonnet", "opus"}


def test_claude_code_client_swaps_an_openai_fallback_for_the_workflow_claude_models(
    router: Router,
) -> None:
    # Complex reasoning is opus → gpt-4o; the workflow row "Claude (Sonnet/Opus)" refills it.
    assert plan(router, task="Complex reasoning", client="Claude Code/1.2").chain == (
        "opus",
        "sonnet",
    )


def test_claude_code_client_with_explicit_codex_gets_codex(router: Router) -> None:
    assert plan(router, model="codex", client="claude-code").chain == ("codex",)


@pytest.mark.parametrize("client", ["task-queue", "Queue worker", "jobqueue/1.0"])
def test_queue_client_on_code_generation_puts_codex_first(router: Router, client: str) -> None:
    p = plan(router, task="Code generation", client=client)
    assert p.chain == ("codex", "sonnet")


def test_batch_client_on_code_generation_puts_codex_first(router: Router) -> None:
    assert plan(router, task="Code generation", client="batch-runner").chain == ("codex", "sonnet")


def test_queue_client_on_a_non_coding_task_is_unchanged(router: Router) -> None:
    assert plan(router, task="Meeting summary", client="task-queue").chain == ("sonnet", "opus")


@pytest.mark.parametrize("client", ["batch-runner", "task-queue"])
def test_batch_or_queue_client_on_bulk_operations_keeps_haiku(router: Router, client: str) -> None:
    assert plan(router, "label these 500 rows", task="Bulk operations", client=client).chain == (
        "haiku",
    )


def test_debugging_given_as_task_goes_to_opus(router: Router) -> None:
    p = plan(router, task="Debugging / tracing")
    assert (p.task, p.chain) == ("Debugging / tracing", ("opus",))


def test_general_agent_work_given_as_task_goes_to_sonnet(router: Router) -> None:
    assert plan(router, task="General agent work").chain == ("sonnet",)


# ---------------------------------------------------------------------------------------------
# reasons


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"prompt": STANDUP},
        {"prompt": "use opus for this: write me a haiku about autumn"},
        {"model": "codex"},
        {"task": "Code review", "author": "claude"},
        {"task": "Code generation", "available": local("qwen2.5-coder:14b")},
        {"task": "Debugging / tracing"},
    ],
)
def test_every_plan_has_reasons(router: Router, kw: dict[str, Any]) -> None:
    p = plan(router, **kw)
    assert p.reasons
    assert all(isinstance(r, str) and r for r in p.reasons)


def test_reasons_name_the_routing_table_row_and_its_line(router: Router, seed_text: str) -> None:
    line = next(
        n for n, text in enumerate(seed_text.splitlines(), 1) if text.startswith("| Security audit")
    )
    p = plan(router, task="Security audit")
    assert any("Security audit" in r and f"line {line}" in r for r in p.reasons)


def test_reasons_say_the_local_row_is_active(router: Router) -> None:
    p = plan(router, task="Code generation", available=local("qwen2.5-coder:14b"))
    assert any("qwen2.5-coder:14b" in r and "local" in r for r in p.reasons)


def test_minimal_file_default_route_is_sonnet() -> None:
    table = parse_routing_text(
        "## Routing Table\n\n| Task Type | Primary |\n|---|---|\n| Security audit | opus |\n"
    )
    p = plan(Router(table), NEUTRAL)
    assert (p.task, p.chain) == ("General agent work", ("sonnet",))


def test_local_only_error_names_the_missing_local_model(router: Router) -> None:
    with pytest.raises(NoRouteError, match=r"llama3\.1:8b: local model not present"):
        plan(router, task="Quick capture / filing", local_only=True)


def test_an_inactive_local_model_is_listed_as_skipped(router: Router) -> None:
    p = plan(router, task="Code generation")
    assert p.chain == ("sonnet", "codex")
    assert [m for m, _ in p.skipped] == ["qwen2.5-coder:14b"]


def test_a_typo_in_the_first_word_of_a_task_still_gets_a_hint(router: Router) -> None:
    with pytest.raises(UnknownTaskError) as info:
        plan(router, task="Debuging")
    assert info.value.suggestion == "Debugging / tracing"


def test_task_types_spelled_differently_in_the_file_still_route(seed_text: str) -> None:
    text = seed_text.replace("| Security audit |", "| Security Audit |").replace(
        "| Code generation | sonnet |", "| Code Generation | sonnet |"
    )
    from cortexd.routing.classifier.model import TaskModel

    custom = Router(parse_routing_text(text), TaskModel.shipped())
    audit = plan(custom, "Do a security audit of this login handler for SQL injection")
    assert (audit.task, audit.chain) == ("Security Audit", ("opus",))
    code = plan(custom, "write a python function that parses ISO 8601 durations")
    assert (code.task, code.chain) == ("Code Generation", ("sonnet", "codex"))


def test_a_claude_code_client_keeps_local_models_and_empty_routes(router: Router) -> None:
    with pytest.raises(NoRouteError):
        plan(router, task="Embeddings", client="claude-code")
    p = plan(
        router,
        task="Quick capture / filing",
        client="claude-code",
        local_only=True,
        available=local("llama3.1:8b"),
    )
    assert p.chain == ("llama3.1:8b",)

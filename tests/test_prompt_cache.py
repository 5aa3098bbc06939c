"""Prompt caching survives translation to Anthropic (issue 21): where cortexd puts the
breakpoints, the fake's cache that counts what they earn (as the real API does), and a
ten-call Codex session answered by sonnet, measured from the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from support.app import App, start_app
from support.daemon import cloud_env, remove_home
from support.fakes import FakeAnthropic, FakeOpenAI, Turn
from support.fakes.prompt_cache import MIN_CACHEABLE_TOKENS, PromptCache, problem
from support.sessions import play_codex_session

from cortexd.routing.providers import ChatMessage, ChatRequest, TextPart, ToolSpec
from cortexd.routing.providers.anthropic_wire import to_anthropic

LONG = "x" * (MIN_CACHEABLE_TOKENS * 4 + 400)  # a system prompt long enough to cache


def _body(*messages: str, system: str = LONG, auto: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-sonnet-5-5",
        "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user" if i % 2 == 0 else "assistant", "content": m}
            for i, m in enumerate(messages)
        ],
    }
    if auto:
        body["cache_control"] = {"type": "ephemeral"}
    return body


# --- the fake's cache, as the API counts ----------------------------------------------------


def test_the_fake_reads_what_an_earlier_request_wrote_at_its_breakpoints() -> None:
    cache = PromptCache(clock=lambda: 0.0)
    first = cache.use(_body("hello"))
    assert first.read == 0 and first.written == first.total  # everything up to the last block
    second = cache.use(_body("hello", "hi!", "and now?"))
    # The last breakpoint (automatic) moved forward; the previous one is within 20 blocks.
    assert second.read == first.total and second.written == second.total - first.total
    # Another model has a cache of its own.
    assert cache.use({**_body("hello"), "model": "claude-opus-5-5"}).read == 0


def test_a_changed_history_still_reads_the_stable_system_prompt() -> None:
    cache = PromptCache(clock=lambda: 0.0)
    cache.use(_body("hello", "hi!", "more"))
    changed = cache.use(_body("HELLO", "hi!", "more"))
    system_only = cache.use(_body(auto=False)).total
    assert changed.read == system_only  # the breakpoint at the system prompt's end


def test_short_prefixes_and_expired_entries_are_not_read() -> None:
    now = [0.0]
    cache = PromptCache(clock=lambda: now[0])
    short = _body("hi", system="short")
    assert cache.use(short).written == 0 and cache.use(short).read == 0
    cache.use(_body("hello"))
    now[0] += 301  # five minutes and a second
    assert cache.use(_body("hello")).read == 0


def test_a_fifth_breakpoint_is_the_apis_400() -> None:
    body = _body("a", "b", "c", "d")
    for m in body["messages"]:
        m["content"] = [
            {"type": "text", "text": m["content"], "cache_control": {"type": "ephemeral"}}
        ]
    assert problem(body) == "A maximum of 4 blocks with cache_control may be provided. Found 5."
    with (
        FakeAnthropic(prompt_cache=True) as fake,
        anthropic.Anthropic(base_url=fake.base_url, api_key="k", max_retries=0) as client,
    ):
        with pytest.raises(anthropic.BadRequestError, match="maximum of 4 blocks"):
            client.messages.create(max_tokens=10, **body)
        assert fake.pending == 0  # refused before the script is read


# --- where cortexd puts the breakpoints -----------------------------------------------------


def _request(*marked: bool) -> ChatRequest:
    messages = [ChatMessage("system", (TextPart("be terse"),))]
    messages += [ChatMessage("user", (TextPart(f"m{i}", cache=c),)) for i, c in enumerate(marked)]
    tool = ToolSpec("Bash", "run", {"type": "object"})
    return ChatRequest("sonnet", tuple(messages), tools=(tool,), cache_prompt=True)


@pytest.mark.parametrize(
    ("marked", "system_marked", "auto"),
    [
        ((), True, True),  # the system prompt's end, and automatic caching for the rest
        ((True, True), True, True),  # the client's own two, then ours: four in all
        ((True, True, True), False, True),  # no room for both: automatic caching only
        ((True, True, True, True), False, False),  # the client's four: nothing added
    ],
)
def test_cortexd_adds_breakpoints_only_where_the_api_has_room(
    marked: tuple[bool, ...], system_marked: bool, auto: bool
) -> None:
    body, _ = to_anthropic(_request(*marked))
    assert ("cache_control" in body["system"][-1]) is system_marked
    assert ("cache_control" in body) is auto
    assert problem(body) is None


# --- a translated session, measured ---------------------------------------------------------


@pytest.fixture(scope="module")
def cached_app() -> Iterator[tuple[App, FakeAnthropic]]:
    with FakeAnthropic(prompt_cache=True) as anthropic_fake, FakeOpenAI() as openai_fake:
        app = start_app(env=cloud_env(anthropic_fake, openai_fake))
        yield app, anthropic_fake
        app.stop()
        remove_home(app.home)


def test_a_ten_call_codex_session_answered_by_sonnet_reads_most_of_its_prompt_from_cache(
    cached_app: tuple[App, FakeAnthropic],
) -> None:
    app, fake = cached_app
    fake.clear()
    cost = play_codex_session(app, fake, model="sonnet", turns=10, session="ten-calls")
    assert cost.calls == 10
    # The first call writes the cache; each later one reads all but what the last added.
    assert cost.cache_read_share >= 0.85, cost
    assert cost.cost_usd * 3 < cost.uncached_usd, cost  # well under a third of the price
    sent = [r.json for r in fake.requests]
    assert all(isinstance(b, dict) and "cache_control" in b["system"][-1] for b in sent)


def test_without_breakpoints_the_same_session_reads_nothing_from_the_cache(
    cached_app: tuple[App, FakeAnthropic],
) -> None:
    app, fake = cached_app
    fake.clear()
    # The same fake, told to drop what cortexd asks for: the cost translation would have.
    fake.strip_cache_control = True
    try:
        cost = play_codex_session(app, fake, model="sonnet", turns=4, session="no-cache")
    finally:
        fake.strip_cache_control = False
    assert cost.cache_read_tokens == 0 and cost.cost_usd == cost.uncached_usd, cost


def test_a_request_with_no_prompt_cache_breakpoints_earns_no_read() -> None:
    with (
        FakeAnthropic(prompt_cache=True) as fake,
        anthropic.Anthropic(base_url=fake.base_url, api_key="k", max_retries=0) as client,
    ):
        fake.enqueue(Turn(text="a"), Turn(text="b"))
        body = _body("hello", auto=False)
        body["system"][0].pop("cache_control")
        for _ in range(2):
            answer = client.messages.create(max_tokens=10, **body)
        assert answer.usage.cache_read_input_tokens == 0


def test_an_override_phrase_is_removed_on_every_turn_so_the_cached_prefix_still_matches(
    cached_app: tuple[App, FakeAnthropic],
) -> None:
    app, fake = cached_app
    fake.clear()
    model = app.services.routing.catalog.resolve("sonnet")
    assert model is not None
    with anthropic.Anthropic(
        base_url="http://cortexd", api_key="unused", http_client=app.client(), max_retries=0,
        default_headers={"x-claude-code-session-id": "override-cache",
                         "user-agent": "claude-cli/2.1.197 (external, cli)"},
    ) as claude:  # fmt: skip
        system = [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]
        first = {"role": "user", "content": [
            {"type": "text", "text": "use sonnet for this: look at the repo",
             "cache_control": {"type": "ephemeral"}}]}  # fmt: skip
        fake.enqueue(Turn(text="It is a small repo."), Turn(text="Fixed."))
        one = claude.messages.create(
            model=model.model_id, max_tokens=100, system=system, messages=[first]
        )  # type: ignore[arg-type]
        later = [
            {"role": "user", "content": [
                {"type": "text", "text": "use sonnet for this: look at the repo"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "It is a small repo."}]},
            {"role": "user", "content": [
                {"type": "text", "text": "now fix it", "cache_control": {"type": "ephemeral"}}]},
        ]  # fmt: skip
        two = claude.messages.create(
            model=model.model_id, max_tokens=100, system=system, messages=later
        )  # type: ignore[arg-type]
    sent = [r.json for r in fake.requests]
    assert isinstance(sent[1], dict)
    assert sent[1]["messages"][0]["content"][0]["text"] == "look at the repo"  # as on turn 1
    # Turn 2 reads all of turn 1's prompt from the cache: the history sent is the same.
    turn_one = one.usage.input_tokens + one.usage.cache_creation_input_tokens
    assert two.usage.cache_read_input_tokens >= turn_one > MIN_CACHEABLE_TOKENS

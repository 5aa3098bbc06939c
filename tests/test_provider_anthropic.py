"""The Anthropic adapter through the official SDK against a fake that speaks the Messages API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
from support.addresses import refused_url
from support.fakes import FakeAnthropic, Fault, ToolCall, Turn

from cortexd.routing.providers import (
    AuthenticationError,
    ChatMessage,
    ChatRequest,
    ContextLengthError,
    EmbedRequest,
    InvalidRequestError,
    ModelNotFoundError,
    NotConfiguredError,
    OverloadedError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    ReasoningConfig,
    ReasoningDelta,
    ServerError,
    StreamEnd,
    StreamInterruptedError,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolSpec,
)
from cortexd.routing.providers import ToolCall as OurToolCall
from cortexd.routing.providers.anthropic import AnthropicProvider, endpoint_from_env

pytestmark = pytest.mark.anyio
KEY = "sk-ant-test-canary-0123456789abcdefghij"
MODEL = "claude-sonnet-5-5"
WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
async def claude(fake: FakeAnthropic) -> AsyncIterator[AnthropicProvider]:
    provider = AnthropicProvider(endpoint_from_env(KEY, fake.base_url, env={}))
    yield provider
    await provider.aclose()


def ask(text: str = "Hello", **kwargs: object) -> ChatRequest:
    messages = (ChatMessage.of("system", "Be brief."), ChatMessage.of("user", text))
    return ChatRequest(MODEL, messages, **kwargs)  # type: ignore[arg-type]


async def test_a_completion_round_trip(claude: AnthropicProvider, fake: FakeAnthropic) -> None:
    fake.enqueue(Turn(text="Hi there", input_tokens=30, output_tokens=4, cache_read_tokens=20))
    response = await claude.complete(ask(max_tokens=100, stop=("END",)))
    assert response.text == "Hi there" and response.finish_reason == "stop"
    assert response.provider_finish == "end_turn" and response.model == MODEL
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (30, 4, 20)
    assert response.timing.total_s > 0 and response.timing.first_token_s == response.timing.total_s
    sent = fake.requests[-1]
    # The SDK sends the key as a bearer token (2.x); older ones used x-api-key.
    auth = f"{sent.header('x-api-key')} {sent.header('authorization')}"
    assert sent.path == "/v1/messages" and KEY in auth
    assert sent.header("anthropic-version")
    assert sent.json["system"] == [{"type": "text", "text": "Be brief."}]
    assert sent.json["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hello"}]}
    ]
    assert sent.json["max_tokens"] == 100 and sent.json["stop_sequences"] == ["END"]


async def test_a_stream_yields_text_then_the_whole_answer(
    claude: AnthropicProvider, fake: FakeAnthropic
) -> None:
    fake.enqueue(Turn(text="one two three four", input_tokens=9, output_tokens=4))
    events = [e async for e in claude.stream(ask())]
    assert fake.requests[-1].json["stream"] is True
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "one two three four" and sum(isinstance(e, TextDelta) for e in events) > 1
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.response.text == text and end.response.usage.output_tokens == 4
    assert end.response.usage.input_tokens == 9
    assert end.response.timing.first_token_s is not None


async def test_thinking_streams_as_reasoning_with_its_signature(
    claude: AnthropicProvider, fake: FakeAnthropic
) -> None:
    fake.enqueue(Turn(text="42", thinking="Let me think about it."))
    events = [e async for e in claude.stream(ask(reasoning=ReasoningConfig(budget_tokens=2000)))]
    sent = fake.requests[-1].json
    assert sent["thinking"]["type"] == "enabled" and sent["thinking"]["budget_tokens"] == 2000
    assert sent["max_tokens"] > 2000
    assert any(isinstance(e, ReasoningDelta) and e.text for e in events)
    end = events[-1]
    assert isinstance(end, StreamEnd)
    (thought,) = end.response.reasoning
    assert thought.text == "Let me think about it." and thought.signature


async def test_a_tool_call_round_trip(claude: AnthropicProvider, fake: FakeAnthropic) -> None:
    fake.enqueue(Turn(text="", tool_calls=(ToolCall("toolu_1", "get_weather", {"city": "Oslo"}),)))
    first = await claude.complete(ask("Weather in Oslo?", tools=(WEATHER,)))
    assert first.finish_reason == "tool_calls"
    (call,) = first.tool_calls
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Oslo"}
    tools = fake.requests[-1].json["tools"]
    assert tools == [
        {
            "name": "get_weather",
            "description": "The weather in a city",
            "input_schema": dict(WEATHER.parameters),
        }
    ]
    fake.enqueue(Turn(text="It is sunny in Oslo."))
    follow_up = ChatRequest(
        MODEL,
        (
            ChatMessage.of("user", "Weather in Oslo?"),
            ChatMessage("assistant", tool_calls=(OurToolCall(call.id, call.name, call.arguments),)),
            ChatMessage("tool", (TextPart("sunny, 21 C"),), tool_call_id=call.id),
        ),
        tools=(WEATHER,),
    )
    second = await claude.complete(follow_up)
    assert second.text == "It is sunny in Oslo."
    messages = fake.requests[-1].json["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == [
        {"type": "tool_use", "id": call.id, "name": "get_weather", "input": {"city": "Oslo"}}
    ]
    assert messages[2]["content"][0]["type"] == "tool_result"
    assert messages[2]["content"][0]["tool_use_id"] == call.id


async def test_a_tool_call_streams_as_pieces_of_json(
    claude: AnthropicProvider, fake: FakeAnthropic
) -> None:
    args = {"city": "Oslo", "unit": "celsius", "days": 3}
    fake.enqueue(Turn(text="Checking.", tool_calls=(ToolCall("toolu_9", "get_weather", args),)))
    events = [e async for e in claude.stream(ask(tools=(WEATHER,)))]
    pieces = [e for e in events if isinstance(e, ToolCallDelta)]
    assert pieces[0].id == "toolu_9" and pieces[0].name == "get_weather" and len(pieces) > 2
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert json.loads(end.response.tool_calls[0].arguments) == args
    assert end.response.finish_reason == "tool_calls" and end.response.text == "Checking."


@pytest.mark.parametrize(
    ("fault", "error", "retry_after"),
    [
        (Fault.status(429, headers={"retry-after": "2"}), RateLimitError, 2.0),
        (Fault.status(529), OverloadedError, None),
        (Fault.status(503), OverloadedError, None),
        (Fault.status(500), ServerError, None),
        (Fault.status(401), AuthenticationError, None),
        (Fault.status(403), AuthenticationError, None),
        (Fault.status(404), ModelNotFoundError, None),
        (Fault.status(413), InvalidRequestError, None),
        (Fault.status(400, message="messages: roles must alternate"), InvalidRequestError, None),
        (
            Fault.status(400, message="prompt is too long: 210000 tokens > 200000 maximum"),
            ContextLengthError,
            None,
        ),
        (
            Fault.status(400, message="Your credit balance is too low to access the API."),
            QuotaExceededError,
            None,
        ),
        (Fault.reset(), ProviderConnectionError, None),
        (Fault.malformed_json(), StreamInterruptedError, None),
        (Fault.status(200, body=["not", "a", "message"]), StreamInterruptedError, None),
    ],
)
async def test_every_failure_maps_to_our_error(
    claude: AnthropicProvider,
    fake: FakeAnthropic,
    fault: Fault,
    error: type[ProviderError],
    retry_after: float | None,
) -> None:
    fake.enqueue(fault)
    with pytest.raises(error) as caught:
        await claude.complete(ask())
    assert type(caught.value) is error
    assert caught.value.retry_after == retry_after
    assert caught.value.provider == "anthropic" and caught.value.model == MODEL
    assert len(fake.requests) == 1  # SDK retries are off: dispatch owns them


async def test_a_hang_times_out_within_the_requests_budget(
    claude: AnthropicProvider, fake: FakeAnthropic
) -> None:
    fake.enqueue(Fault.hang())
    with pytest.raises(ProviderTimeoutError):
        await claude.complete(ask(timeout=0.3))


async def test_a_refused_connection_is_a_connection_error() -> None:
    claude = AnthropicProvider(endpoint_from_env(KEY, refused_url(), env={}))
    with pytest.raises(ProviderConnectionError, match="cannot reach Anthropic"):
        await claude.complete(ask())
    status = await claude.status()
    assert status.configured and status.reachable is False
    await claude.aclose()


async def test_an_overloaded_error_inside_a_200_stream(
    claude: AnthropicProvider, fake: FakeAnthropic
) -> None:
    fake.enqueue(Fault.stream_error(after=2))
    received: list[object] = []
    with pytest.raises(OverloadedError) as caught:
        async for event in claude.stream(ask()):
            received.append(event)
    assert any(isinstance(e, TextDelta) for e in received)  # it failed after content began
    assert caught.value.code == "overloaded_error" and caught.value.status is None


@pytest.mark.parametrize("after", [0, 2])
async def test_a_stream_that_breaks_off_is_interrupted(
    claude: AnthropicProvider, fake: FakeAnthropic, after: int
) -> None:
    fake.enqueue(Fault.break_stream(after=after))
    with pytest.raises(StreamInterruptedError):
        async for _ in claude.stream(ask()):
            pass


async def test_errors_never_carry_the_key(claude: AnthropicProvider, fake: FakeAnthropic) -> None:
    fake.enqueue(Fault.status(401, message=f"invalid x-api-key: {KEY}"))
    with pytest.raises(AuthenticationError) as caught:
        await claude.complete(ask())
    assert KEY not in str(caught.value) and "invalid x-api-key" in str(caught.value)
    assert KEY not in repr(claude.endpoint)


async def test_without_a_key_it_is_not_configured(fake: FakeAnthropic) -> None:
    claude = AnthropicProvider(endpoint_from_env(None, fake.base_url, env={}))
    with pytest.raises(NotConfiguredError, match="ANTHROPIC_API_KEY"):
        await claude.complete(ask())
    status = await claude.status()
    assert (status.configured, status.key_present, status.reachable) == (False, False, None)
    assert fake.requests == []


async def test_the_sdks_variables_are_honoured_and_an_alias_url_wins(fake: FakeAnthropic) -> None:
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": fake.base_url}
    from_env = AnthropicProvider(endpoint_from_env(env=env))
    assert (await from_env.complete(ask())).text
    assert fake.requests[-1].header("authorization") == f"Bearer {KEY}"
    alias = endpoint_from_env(base_url=refused_url(), env=env)
    assert alias.base_url != fake.base_url and alias.api_key == KEY
    await from_env.aclose()


async def test_status_capabilities_and_no_embeddings(claude: AnthropicProvider) -> None:
    status = await claude.status()
    assert status.configured and status.reachable and status.detail == "ok"
    caps = await claude.capabilities(MODEL)
    assert caps.tools and caps.images and caps.reasoning and caps.prompt_caching
    assert caps.context_window and caps.context_window >= 200_000
    with pytest.raises(NotConfiguredError, match="no embeddings"):
        await claude.embed(EmbedRequest(MODEL, ("x",)))

"""The OpenAI adapter through the official SDK: Chat Completions, Responses (Codex), Embeddings."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Iterator

import pytest
from support.addresses import refused_url
from support.fakes import FakeOpenAI, Fault, ToolCall, Turn

from cortexd.routing.providers import (
    AuthenticationError,
    ChatMessage,
    ChatRequest,
    ContextLengthError,
    EmbedRequest,
    ImagePart,
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
    ResponseFormat,
    ServerError,
    StreamEnd,
    StreamInterruptedError,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolSpec,
)
from cortexd.routing.providers import ToolCall as OurToolCall
from cortexd.routing.providers.openai import OpenAIProvider, endpoint_from_env

pytestmark = pytest.mark.anyio
KEY = "sk-test-canary-0123456789abcdefghijklmnopqrstuv"
GPT = "gpt-4o"
CODEX = "gpt-5.3-codex"
WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def gpt(fake: FakeOpenAI) -> AsyncIterator[OpenAIProvider]:
    provider = OpenAIProvider(endpoint_from_env(KEY, fake.base_url, env={}))
    yield provider
    await provider.aclose()


def ask(model: str = GPT, text: str = "Hello", **kwargs: object) -> ChatRequest:
    messages = (ChatMessage.of("system", "Be brief."), ChatMessage.of("user", text))
    return ChatRequest(model, messages, **kwargs)  # type: ignore[arg-type]


def tool_turn(call_id: str, args: dict[str, object]) -> Turn:
    return Turn(text="", tool_calls=(ToolCall(call_id, "get_weather", args),))


def follow_up(model: str, call: OurToolCall) -> ChatRequest:
    return ChatRequest(
        model,
        (
            ChatMessage.of("system", "Be brief."),
            ChatMessage.of("user", "Weather in Oslo?"),
            ChatMessage("assistant", tool_calls=(call,)),
            ChatMessage("tool", (TextPart("sunny, 21 C"),), tool_call_id=call.id),
        ),
        tools=(WEATHER,),
    )


async def test_chat_completion_round_trip(gpt: OpenAIProvider, fake: FakeOpenAI) -> None:
    fake.enqueue(Turn(text="Hi!", input_tokens=40, output_tokens=3, cache_read_tokens=32))
    request = ask(max_tokens=50, temperature=0.2, top_p=0.9, stop=("END",), user="me")
    response = await gpt.complete(request)
    assert response.text == "Hi!" and response.finish_reason == "stop" and response.model == GPT
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (40, 3, 32)
    sent = fake.requests[-1]
    assert sent.path == "/v1/chat/completions" and sent.header("authorization") == f"Bearer {KEY}"
    body = sent.json
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["max_completion_tokens"] == 50 and "max_tokens" not in body
    assert (body["temperature"], body["top_p"], body["stop"]) == (0.2, 0.9, ["END"])


async def test_chat_stream_asks_for_usage_and_ends_with_it(
    gpt: OpenAIProvider, fake: FakeOpenAI
) -> None:
    fake.enqueue(Turn(text="one two three", input_tokens=11, output_tokens=3))
    events = [e async for e in gpt.stream(ask())]
    assert fake.requests[-1].json["stream_options"] == {"include_usage": True}
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "one two three"
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.response.usage.input_tokens == 11 and end.response.usage.output_tokens == 3


async def test_chat_tool_call_round_trip(gpt: OpenAIProvider, fake: FakeOpenAI) -> None:
    fake.enqueue(tool_turn("call_1", {"city": "Oslo"}))
    first = await gpt.complete(ask(text="Weather in Oslo?", tools=(WEATHER,)))
    (call,) = first.tool_calls
    assert first.finish_reason == "tool_calls" and json.loads(call.arguments) == {"city": "Oslo"}
    assert fake.requests[-1].json["tools"][0]["function"]["name"] == "get_weather"
    fake.enqueue(Turn(text="Sunny."))
    second = await gpt.complete(follow_up(GPT, call))
    assert second.text == "Sunny."
    messages = fake.requests[-1].json["messages"]
    assert messages[2]["tool_calls"][0]["id"] == "call_1" and messages[2]["content"] is None
    assert messages[3] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"}


async def test_chat_tool_call_streams_in_pieces(gpt: OpenAIProvider, fake: FakeOpenAI) -> None:
    args = {"city": "Oslo", "unit": "celsius", "days": 3}
    fake.enqueue(tool_turn("call_7", args))
    events = [e async for e in gpt.stream(ask(tools=(WEATHER,)))]
    assert sum(isinstance(e, ToolCallDelta) for e in events) > 1
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.response.tool_calls[0].id == "call_7"
    assert json.loads(end.response.tool_calls[0].arguments) == args


async def test_images_and_json_output_are_sent_as_documented(
    gpt: OpenAIProvider, fake: FakeOpenAI
) -> None:
    image = ImagePart("data:image/png;base64,iVBORw0KGgo=", detail="low")
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    request = ChatRequest(
        GPT,
        (ChatMessage("user", (TextPart("What is this?"), image)),),
        response_format=ResponseFormat("json_schema", schema, name="answer", strict=True),
    )
    await gpt.complete(request)
    body = fake.requests[-1].json
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": image.url, "detail": "low"}},
    ]
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True},
    }


async def test_codex_goes_through_the_responses_api(gpt: OpenAIProvider, fake: FakeOpenAI) -> None:
    fake.enqueue(
        Turn(text="def f(): pass", thinking="Plan it.", reasoning_tokens=7, output_tokens=20)
    )
    response = await gpt.complete(
        ask(CODEX, reasoning=ReasoningConfig(effort="high"), max_tokens=99)
    )
    sent = fake.requests[-1]
    assert sent.path == "/v1/responses"
    assert sent.json["instructions"] == "Be brief." and sent.json["store"] is False
    assert sent.json["input"] == [{"role": "user", "content": "Hello"}]
    assert sent.json["reasoning"] == {"effort": "high", "summary": "auto"}
    assert sent.json["max_output_tokens"] == 99
    assert response.text == "def f(): pass" and response.reasoning[0].text == "Plan it."
    assert response.usage.reasoning_tokens == 7 and response.usage.output_tokens == 20


async def test_codex_drops_what_the_responses_api_refuses_and_says_so(
    gpt: OpenAIProvider, fake: FakeOpenAI
) -> None:
    response = await gpt.complete(ask(CODEX, temperature=0.3, stop=("x",)))
    body = fake.requests[-1].json
    assert "temperature" not in body and "stop" not in body
    assert any("temperature" in w for w in response.warnings)
    assert any("stop" in w for w in response.warnings)


async def test_codex_stream_and_tool_round_trip(gpt: OpenAIProvider, fake: FakeOpenAI) -> None:
    fake.enqueue(tool_turn("call_c", {"city": "Oslo"}))
    events = [e async for e in gpt.stream(ask(CODEX, tools=(WEATHER,)))]
    assert fake.requests[-1].json["tools"][0] == {
        "type": "function",
        "name": "get_weather",
        "parameters": dict(WEATHER.parameters),
        "strict": False,
        "description": "The weather in a city",
    }
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.response.finish_reason == "tool_calls"
    (call,) = end.response.tool_calls
    assert call.id == "call_c" and json.loads(call.arguments) == {"city": "Oslo"}
    fake.enqueue(Turn(text="Sunny in Oslo."))
    streamed = [e async for e in gpt.stream(follow_up(CODEX, call))]
    assert "".join(e.text for e in streamed if isinstance(e, TextDelta)) == "Sunny in Oslo."
    items = fake.requests[-1].json["input"]
    assert items[1] == {
        "type": "function_call",
        "call_id": "call_c",
        "name": "get_weather",
        "arguments": call.arguments,
    }
    assert items[2] == {
        "type": "function_call_output",
        "call_id": "call_c",
        "output": "sunny, 21 C",
    }


async def test_embeddings(gpt: OpenAIProvider, fake: FakeOpenAI) -> None:
    fake.enqueue(Turn(embedding_dims=16, input_tokens=6))
    result = await gpt.embed(EmbedRequest("text-embedding-3-small", ("alpha", "beta")))
    assert len(result.vectors) == 2 and all(len(v) == 16 for v in result.vectors)
    assert result.vectors[0] != result.vectors[1]
    assert all(math.isfinite(x) for v in result.vectors for x in v)
    assert fake.requests[-1].path == "/v1/embeddings"
    assert result.usage.input_tokens > 0


@pytest.mark.parametrize("model", [GPT, CODEX])
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.status(429, headers={"retry-after": "3"}), RateLimitError),
        (Fault.status(500), ServerError),
        (Fault.status(503), OverloadedError),
        (Fault.status(401), AuthenticationError),
        (Fault.status(404), ModelNotFoundError),
        (Fault.status(422), InvalidRequestError),
        (
            Fault.status(
                400,
                message="This model's maximum context length is 128000 tokens.",
                error_code="context_length_exceeded",
            ),
            ContextLengthError,
        ),
        (
            Fault.status(
                429, message="You exceeded your current quota.", error_code="insufficient_quota"
            ),
            QuotaExceededError,
        ),
        (Fault.reset(), ProviderConnectionError),
        (Fault.malformed_json(), StreamInterruptedError),
        (Fault.status(200, body=["not", "a", "completion"]), StreamInterruptedError),
    ],
)
async def test_every_failure_maps_to_our_error(
    gpt: OpenAIProvider, fake: FakeOpenAI, model: str, fault: Fault, error: type[ProviderError]
) -> None:
    fake.enqueue(fault)
    with pytest.raises(error) as caught:
        await gpt.complete(ask(model))
    assert type(caught.value) is error and caught.value.provider == "openai"
    if isinstance(caught.value, RateLimitError):
        assert caught.value.retry_after == 3.0
    assert len(fake.requests) == 1


@pytest.mark.parametrize("model", [GPT, CODEX])
async def test_an_error_inside_a_200_stream(
    gpt: OpenAIProvider, fake: FakeOpenAI, model: str
) -> None:
    fake.enqueue(Fault.stream_error(after=2, error_type="server_error", message="boom"))
    seen: list[object] = []
    with pytest.raises(ServerError, match="boom"):
        async for event in gpt.stream(ask(model)):
            seen.append(event)
    assert any(isinstance(e, TextDelta) for e in seen)


@pytest.mark.parametrize("model", [GPT, CODEX])
@pytest.mark.parametrize("after", [0, 2])
async def test_a_stream_that_breaks_off(
    gpt: OpenAIProvider, fake: FakeOpenAI, model: str, after: int
) -> None:
    fake.enqueue(Fault.break_stream(after=after))
    with pytest.raises(StreamInterruptedError):
        async for _ in gpt.stream(ask(model)):
            pass


async def test_a_hang_times_out(gpt: OpenAIProvider, fake: FakeOpenAI) -> None:
    fake.enqueue(Fault.hang())
    with pytest.raises(ProviderTimeoutError):
        await gpt.complete(ask(timeout=0.3))


async def test_refused_no_key_and_status(fake: FakeOpenAI) -> None:
    refused = OpenAIProvider(endpoint_from_env(KEY, refused_url("/v1"), env={}))
    with pytest.raises(ProviderConnectionError):
        await refused.complete(ask())
    assert (await refused.status()).reachable is False
    await refused.aclose()
    keyless = OpenAIProvider(endpoint_from_env(env={"OPENAI_BASE_URL": fake.base_url}))
    with pytest.raises(NotConfiguredError, match="OPENAI_API_KEY"):
        await keyless.complete(ask())
    assert (await keyless.status()).configured is False
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.base_url}
    ok = OpenAIProvider(endpoint_from_env(env=env))
    status = await ok.status()
    assert status.reachable and status.detail == "ok" and KEY not in repr(status)
    await ok.aclose()


async def test_capabilities_by_family(gpt: OpenAIProvider) -> None:
    four_o = await gpt.capabilities(GPT)
    assert four_o.tools and four_o.images and four_o.json_schema and not four_o.reasoning
    assert four_o.context_window == 128_000
    codex = await gpt.capabilities(CODEX)
    assert codex.reasoning and codex.tools
    embedding = await gpt.capabilities("text-embedding-3-small")
    assert embedding.embeddings and not embedding.chat

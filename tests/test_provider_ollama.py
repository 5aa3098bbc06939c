"""The Ollama adapter through the official client against a fake speaking Ollama's API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
from support.addresses import refused_url
from support.fakes import FakeOllama, Fault, OllamaModel, ToolCall, Turn

from cortexd.routing.providers import (
    ChatMessage,
    ChatRequest,
    ContextLengthError,
    EmbedRequest,
    ImagePart,
    ModelLoadError,
    ModelNotFoundError,
    OverloadedError,
    ProviderConnectionError,
    ProviderTimeoutError,
    ReasoningConfig,
    ReasoningDelta,
    ResponseFormat,
    StreamEnd,
    StreamInterruptedError,
    TextDelta,
    TextPart,
    ToolSpec,
    UnsupportedRequestError,
)
from cortexd.routing.providers.ollama import OllamaProvider

pytestmark = pytest.mark.anyio
MODEL = "llama3.1:8b"
WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    models = [
        OllamaModel(MODEL, context_length=131072, capabilities=("completion", "tools")),
        OllamaModel("small:1b", context_length=2048),
        OllamaModel("nomic-embed-text:latest"),
    ]
    with FakeOllama(models=models, loaded=[MODEL]) as server:
        yield server


@pytest.fixture
async def local(fake: FakeOllama) -> AsyncIterator[OllamaProvider]:
    provider = OllamaProvider(fake.url, timeout=5.0)
    yield provider
    await provider.aclose()


def ask(text: str = "Hello", model: str = MODEL, **kwargs: object) -> ChatRequest:
    messages = (ChatMessage.of("system", "Be brief."), ChatMessage.of("user", text))
    return ChatRequest(model, messages, **kwargs)  # type: ignore[arg-type]


def chat_requests(fake: FakeOllama) -> list[dict[str, object]]:
    return [r.json for r in fake.requests if r.path == "/api/chat"]


async def test_a_completion_sets_num_ctx_and_reports_usage(
    local: OllamaProvider, fake: FakeOllama
) -> None:
    fake.enqueue(Turn(text="Hi!", input_tokens=21, output_tokens=3))
    response = await local.complete(ask(max_tokens=64, temperature=0.1, stop=("END",)))
    assert response.text == "Hi!" and response.finish_reason == "stop"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (21, 3)
    assert response.warnings == () and response.timing.total_s > 0
    (body,) = chat_requests(fake)
    assert body["stream"] is False
    assert body["options"] == {
        "num_ctx": 4096,
        "num_predict": 64,
        "temperature": 0.1,
        "stop": ["END"],
    }
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello"},
    ]


async def test_num_ctx_grows_with_the_prompt_and_never_shrinks(
    local: OllamaProvider, fake: FakeOllama
) -> None:
    await local.complete(ask("word " * 6000))  # ~30k characters: more than 8k tokens at 3/token
    await local.complete(ask("short again"))
    first, second = (b["options"]["num_ctx"] for b in chat_requests(fake))  # type: ignore[index]
    assert first == 16384 and second == 16384  # a smaller size would reload the model


async def test_a_prompt_beyond_the_models_window_is_refused_before_sending(
    local: OllamaProvider, fake: FakeOllama
) -> None:
    with pytest.raises(ContextLengthError, match="window of 2048"):
        await local.complete(ask("word " * 5000, model="small:1b"))
    assert chat_requests(fake) == []


async def test_a_truncated_prompt_is_reported(local: OllamaProvider, fake: FakeOllama) -> None:
    # Ollama cuts a prompt to num_ctx silently; all it shows is a full context.
    fake.enqueue(Turn(input_tokens=4090, output_tokens=6))
    response = await local.complete(ask())
    assert any("truncated" in w and "num_ctx 4096" in w for w in response.warnings)


async def test_a_stream_of_ndjson(local: OllamaProvider, fake: FakeOllama) -> None:
    fake.enqueue(Turn(text="one two three", thinking="Hmm.", input_tokens=9, output_tokens=3))
    events = [e async for e in local.stream(ask(reasoning=ReasoningConfig(effort="high")))]
    assert chat_requests(fake)[-1]["think"] == "high"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "one two three"
    assert any(isinstance(e, ReasoningDelta) for e in events)
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.response.usage.output_tokens == 3 and end.response.reasoning[0].text == "Hmm."


async def test_a_tool_call_round_trip(local: OllamaProvider, fake: FakeOllama) -> None:
    fake.enqueue(Turn(text="", tool_calls=(ToolCall("x", "get_weather", {"city": "Oslo"}),)))
    first = await local.complete(ask("Weather in Oslo?", tools=(WEATHER,)))
    (call,) = first.tool_calls
    assert first.finish_reason == "tool_calls" and call.id  # Ollama gives no ids: we make them
    assert json.loads(call.arguments) == {"city": "Oslo"}
    follow_up = ChatRequest(
        MODEL,
        (
            ChatMessage.of("user", "Weather in Oslo?"),
            ChatMessage("assistant", tool_calls=(call,)),
            ChatMessage("tool", (TextPart("sunny"),), tool_call_id=call.id),
        ),
        tools=(WEATHER,),
    )
    fake.enqueue(Turn(text="Sunny."))
    assert (await local.complete(follow_up)).text == "Sunny."
    messages = chat_requests(fake)[-1]["messages"]
    assert messages[1]["tool_calls"] == [  # type: ignore[index]
        {"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}
    ]
    assert messages[2] == {"role": "tool", "content": "sunny", "tool_name": "get_weather"}  # type: ignore[index]


async def test_images_json_and_web_urls(local: OllamaProvider, fake: FakeOllama) -> None:
    image = ImagePart("data:image/png;base64,iVBORw0KGgo=")
    request = ChatRequest(
        MODEL,
        (ChatMessage("user", (TextPart("What is it?"), image)),),
        response_format=ResponseFormat("json_object"),
    )
    await local.complete(request)
    body = chat_requests(fake)[-1]
    assert body["messages"][0]["images"] == ["iVBORw0KGgo="]  # type: ignore[index]
    assert body["format"] == "json"
    web = ChatRequest(MODEL, (ChatMessage("user", (ImagePart("https://example.com/a.png"),)),))
    with pytest.raises(UnsupportedRequestError, match="data: URL"):
        await local.complete(web)


async def test_embeddings(local: OllamaProvider, fake: FakeOllama) -> None:
    fake.enqueue(Turn(embedding_dims=12, input_tokens=4))
    result = await local.embed(EmbedRequest("nomic-embed-text", ("alpha", "beta")))
    assert len(result.vectors) == 2 and all(len(v) == 12 for v in result.vectors)
    assert result.usage.input_tokens == 4


async def test_pulled_loaded_capabilities_and_status(local: OllamaProvider) -> None:
    pulled = {m.name for m in await local.pulled()}
    assert {"llama3.1:8b", "small:1b", "nomic-embed-text:latest"} <= pulled
    (loaded,) = await local.loaded()
    assert loaded.name == MODEL and loaded.size_vram is not None and loaded.context_length == 4096
    caps = await local.capabilities(MODEL)
    assert caps.context_window == 131072 and caps.tools and caps.chat and not caps.embeddings
    embed_caps = await local.capabilities("nomic-embed-text:latest")
    assert embed_caps.embeddings
    status = await local.status()
    assert status.reachable and "3 models" in status.detail


async def test_a_model_that_is_not_pulled(local: OllamaProvider) -> None:
    with pytest.raises(ModelNotFoundError, match="ollama pull mistral:7b"):
        await local.complete(ask(model="mistral:7b"))


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.status(503), OverloadedError),
        (Fault.status(404), ModelNotFoundError),
        (Fault.reset(), StreamInterruptedError),
        (Fault.malformed_json(), StreamInterruptedError),
    ],
)
async def test_failures_map_to_our_errors(
    local: OllamaProvider, fake: FakeOllama, fault: Fault, error: type[Exception]
) -> None:
    await local.capabilities(MODEL)  # cached, so the fault meets the chat call
    fake.enqueue(fault)
    with pytest.raises(error):
        await local.complete(ask())


async def test_an_error_line_inside_the_stream(local: OllamaProvider, fake: FakeOllama) -> None:
    await local.capabilities(MODEL)
    fake.enqueue(Fault.stream_error(after=2, error_type="server_error", message="runner crashed"))
    with pytest.raises(StreamInterruptedError, match="runner crashed"):
        async for _ in local.stream(ask()):
            pass


async def test_a_load_failure_is_a_model_load_error(
    local: OllamaProvider, fake: FakeOllama
) -> None:
    await local.capabilities(MODEL)
    fake.enqueue(
        Fault.status(500, message="model requires more system memory (9.5 GiB) than is available")
    )
    with pytest.raises(ModelLoadError, match="more system memory"):
        await local.complete(ask())


@pytest.mark.parametrize("after", [0, 2])
async def test_a_stream_that_breaks_off(
    local: OllamaProvider, fake: FakeOllama, after: int
) -> None:
    await local.capabilities(MODEL)
    fake.enqueue(Fault.break_stream(after=after))
    with pytest.raises(StreamInterruptedError):
        async for _ in local.stream(ask()):
            pass


async def test_a_hang_times_out(local: OllamaProvider, fake: FakeOllama) -> None:
    await local.capabilities(MODEL)
    fake.enqueue(Fault.hang())
    with pytest.raises(ProviderTimeoutError):
        await local.complete(ask(timeout=0.3))


async def test_nothing_listening_and_ollama_host() -> None:
    down = OllamaProvider(refused_url())
    assert down.host.startswith("http://127.0.0.1:")
    with pytest.raises(ProviderConnectionError, match="is it running"):
        await down.complete(ask())
    status = await down.status()
    assert status.reachable is False and "is it running" in status.detail
    await down.aclose()

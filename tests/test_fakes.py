"""The provider fakes, driven through the official SDKs: every answer parses, every fault surfaces.

These tests pin down both sides: that the fakes speak each documented wire format well enough
for the SDKs, and which exception each SDK raises for each fault (cortexd's error mapping
relies on that).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import datetime
from typing import Any

import anthropic
import httpx
import httpx2
import ollama
import openai
import pytest
from anthropic import AsyncAnthropic
from anthropic.types import MessageParam
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from support.fakes import (
    FakeAnthropic,
    FakeOllama,
    FakeOpenAI,
    Fault,
    OllamaModel,
    ProviderFake,
    Script,
    ToolCall,
    Turn,
    embed_text,
)

pytestmark = pytest.mark.anyio

TIMEOUT = 5.0
HANG_TIMEOUT = 0.25  # the client timeout where a test expects one
#: Impatient for the answer only: a loaded machine may take longer than that to connect.
IMPATIENT = httpx.Timeout(HANG_TIMEOUT, connect=TIMEOUT)
USER = [{"role": "user", "content": "Hello there"}]
CLAUDE_USER: list[MessageParam] = [{"role": "user", "content": "Hello there"}]
GPT_USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello there"}]
WEATHER = ToolCall("toolu_01A", "get_weather", {"city": "Paris", "units": "celsius"})
OPENAI_WEATHER = ToolCall("call_01A", "get_weather", {"city": "Paris", "units": "celsius"})
ANTHROPIC_HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
SIGNATURE_ERROR = "messages.1.content.0: Invalid `signature` in `thinking` block"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


# -- fixtures ---------------------------------------------------------------------------------
# One fake and one SDK client per provider for the whole module (an SDK client costs ~50 ms to
# build); each test gets them cleared, and must consume everything it queued.


@contextlib.contextmanager
def _fresh(fake: ProviderFake) -> Iterator[None]:
    fake.clear()
    yield
    leftover = fake.pending
    fake.clear()
    assert leftover == 0, f"{leftover} queued item(s) were never requested"
    assert not fake.errors, fake.errors[-1]


@pytest.fixture(scope="module")
def anthropic_server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture(scope="module")
def openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(scope="module")
def ollama_server() -> Iterator[FakeOllama]:
    with FakeOllama(loaded=["llama3.1:8b"]) as fake:
        yield fake


@pytest.fixture
def fake_anthropic(anthropic_server: FakeAnthropic) -> Iterator[FakeAnthropic]:
    with _fresh(anthropic_server):
        yield anthropic_server


@pytest.fixture
def fake_openai(openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    with _fresh(openai_server):
        yield openai_server


@pytest.fixture
def fake_ollama(ollama_server: FakeOllama) -> Iterator[FakeOllama]:
    with _fresh(ollama_server):
        yield ollama_server


@pytest.fixture(scope="module")
async def claude(anthropic_server: FakeAnthropic) -> AsyncIterator[AsyncAnthropic]:
    async with AsyncAnthropic(
        api_key="test-key", base_url=anthropic_server.base_url, max_retries=0, timeout=TIMEOUT
    ) as client:
        yield client


@pytest.fixture(scope="module")
async def gpt(openai_server: FakeOpenAI) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(
        api_key="test-key", base_url=openai_server.base_url, max_retries=0, timeout=TIMEOUT
    ) as client:
        yield client


@pytest.fixture(scope="module")
async def llama(ollama_server: FakeOllama) -> AsyncIterator[ollama.AsyncClient]:
    async with ollama.AsyncClient(host=ollama_server.base_url, timeout=TIMEOUT) as client:
        yield client


async def _claude_message(client: AsyncAnthropic, **extra: Any) -> anthropic.types.Message:
    message: anthropic.types.Message = await client.messages.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=CLAUDE_USER, **extra
    )
    return message


async def _claude_stream(client: AsyncAnthropic) -> list[anthropic.types.RawMessageStreamEvent]:
    stream = await client.messages.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=CLAUDE_USER, stream=True
    )
    return [event async for event in stream]


# -- the server and the script ---------------------------------------------------------------


async def test_server_records_requests_and_reuses_connections(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    await _claude_message(claude)
    await _claude_message(claude, system="Be brief.")
    first, second = fake_anthropic.requests
    assert (first.method, first.path) == ("POST", "/v1/messages")
    # anthropic 2.x sends the API key as a bearer token, not x-api-key.
    assert first.headers["authorization"] == "Bearer test-key"
    assert first.headers["anthropic-version"]
    assert first.json["messages"] == USER and first.json["max_tokens"] == 64
    assert second.json["system"] == "Be brief."
    assert first.connection == second.connection  # keep-alive


async def test_server_reads_chunked_request_bodies(fake_ollama: FakeOllama) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b'{"model": "llama3.1:8b", '
        yield b'"messages": [{"role": "user", "content": "hi"}], "stream": false}'

    async with httpx2.AsyncClient() as client:
        response = await client.post(f"{fake_ollama.url}/api/chat", content=body())
    assert response.json()["message"]["content"] == "Hello from the fake."
    assert fake_ollama.requests[-1].json == {
        "model": "llama3.1:8b",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
    }


async def test_server_records_the_exact_bytes_received(fake_anthropic: FakeAnthropic) -> None:
    # Odd spacing and key order that a re-serialization would not keep.
    sent = (
        b'{"stream":false,  "model": "m","max_tokens":5,\n"messages":%b}'
        % json.dumps(USER, separators=(",", ":")).encode()
    )
    async with httpx2.AsyncClient() as client:
        response = await client.post(
            f"{fake_anthropic.url}/v1/messages", headers=ANTHROPIC_HEADERS, content=sent
        )
    assert response.status_code == 200
    recorded = fake_anthropic.requests[-1]
    assert recorded.body == sent and recorded.json == json.loads(sent)


def test_server_stops_cleanly_and_leaves_no_thread() -> None:
    fake = FakeOpenAI()
    with pytest.raises(RuntimeError):
        _ = fake.base_url
    with fake:
        assert fake.base_url == f"http://127.0.0.1:{fake.port}/v1"
        names = {thread.name for thread in threading.enumerate()}
        assert "FakeOpenAI-server" in names
    fake.stop()  # a second stop is harmless
    assert "FakeOpenAI-server" not in {thread.name for thread in threading.enumerate()}


async def test_a_stopped_fake_refuses_connections() -> None:
    with FakeAnthropic() as claude_down, FakeOpenAI() as gpt_down, FakeOllama() as llama_down:
        pass
    async with AsyncAnthropic(
        api_key="test-key", base_url=claude_down.base_url, max_retries=0
    ) as claude_client:
        with pytest.raises(anthropic.APIConnectionError):
            await _claude_message(claude_client)
    async with AsyncOpenAI(api_key="test-key", base_url=gpt_down.base_url, max_retries=0) as client:
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(model="gpt-4o", messages=GPT_USER)
    # The ollama SDK turns a refused connection into the builtin ConnectionError.
    async with ollama.AsyncClient(host=llama_down.base_url) as llama_client:
        with pytest.raises(ConnectionError):
            await llama_client.chat(model="llama3.1:8b", messages=USER)


def test_script_answers_in_order_then_with_default_turns() -> None:
    script = Script()
    fault = Fault.status(500)
    script.enqueue(Turn(text="one"), fault)
    assert len(script) == 2
    assert script.next() == Turn(text="one")
    assert script.next() is fault
    assert script.next() == Turn()
    with pytest.raises(TypeError):
        script.enqueue("not a turn")  # type: ignore[arg-type]


def test_turn_derives_its_finish_reason() -> None:
    assert Turn().finish_reason == "stop"
    assert Turn(tool_calls=(WEATHER,)).finish_reason == "tool_calls"
    assert Turn(tool_calls=(WEATHER,), finish="length").finish_reason == "length"
    with pytest.raises(ValueError):
        Turn(finish="end_turn")  # type: ignore[arg-type]


def test_embeddings_are_deterministic_unit_vectors() -> None:
    vector = embed_text("hello", 16)
    assert vector == embed_text("hello", 16) != embed_text("hullo", 16)
    assert abs(sum(v * v for v in vector) - 1.0) < 1e-5


# -- Anthropic -------------------------------------------------------------------------------


async def test_anthropic_message(fake_anthropic: FakeAnthropic, claude: AsyncAnthropic) -> None:
    fake_anthropic.enqueue(
        Turn(
            text="Hi!",
            input_tokens=100,
            output_tokens=7,
            cache_read_tokens=60,
            cache_write_tokens=20,
        )
    )
    message = await _claude_message(claude)
    assert message.id.startswith("msg_") and message.type == "message"
    assert message.role == "assistant" and message.model == "claude-sonnet-4-5"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].type == "text" and message.content[0].text == "Hi!"
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    # Anthropic counts cache reads and writes apart from input_tokens.
    assert message.usage.input_tokens == 20
    assert message.usage.cache_read_input_tokens == 60
    assert message.usage.cache_creation_input_tokens == 20
    assert message.usage.output_tokens == 7


async def test_anthropic_thinking_and_tool_use(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    fake_anthropic.enqueue(Turn(text="", thinking="The user wants weather.", tool_calls=(WEATHER,)))
    message = await _claude_message(claude)
    thinking, tool_use = message.content
    assert thinking.type == "thinking" and thinking.thinking == "The user wants weather."
    assert thinking.signature
    assert tool_use.type == "tool_use"
    assert (tool_use.id, tool_use.name, tool_use.input) == (
        WEATHER.id,
        WEATHER.name,
        WEATHER.arguments,
    )
    assert message.stop_reason == "tool_use"


@pytest.mark.parametrize(
    ("turn", "stop_reason", "stop_sequence"),
    [
        (Turn(finish="length"), "max_tokens", None),
        (Turn(stop_sequence="###"), "stop_sequence", "###"),
    ],
)
async def test_anthropic_stop_reasons(
    fake_anthropic: FakeAnthropic,
    claude: AsyncAnthropic,
    turn: Turn,
    stop_reason: str,
    stop_sequence: str | None,
) -> None:
    fake_anthropic.enqueue(turn)
    message = await _claude_message(claude)
    assert (message.stop_reason, message.stop_sequence) == (stop_reason, stop_sequence)


async def test_anthropic_stream_follows_the_documented_event_sequence(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    fake_anthropic.enqueue(Turn(text="One two three four", input_tokens=30, cache_read_tokens=10))
    events = await _claude_stream(claude)
    types = [event.type for event in events]  # the SDK drops `ping`
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    first, closing = events[0], events[-2]
    assert first.type == "message_start" and closing.type == "message_delta"
    assert first.message.content == [] and first.message.usage.output_tokens == 1
    usage = first.message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens) == (20, 10)
    deltas = [
        e.delta.text
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "text_delta"
    ]
    assert len(deltas) == 4 and "".join(deltas) == "One two three four"
    assert closing.delta.stop_reason == "end_turn" and closing.usage.output_tokens == 5
    raw = fake_anthropic.requests[-1]
    assert raw.json["stream"] is True


async def test_anthropic_stream_sends_ping_after_the_first_block_start(
    fake_anthropic: FakeAnthropic,
) -> None:
    async with httpx2.AsyncClient() as client:
        response = await client.post(
            f"{fake_anthropic.url}/v1/messages",
            headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
            json={"model": "m", "max_tokens": 5, "messages": USER, "stream": True},
        )
    assert response.headers["content-type"].startswith("text/event-stream")
    names = [line[7:] for line in response.text.splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-1] == "message_stop"


async def test_anthropic_stream_helper_accumulates_thinking_and_tool_input(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    fake_anthropic.enqueue(
        Turn(text="Checking.", thinking="Need the weather tool.", tool_calls=(WEATHER,))
    )
    async with claude.messages.stream(
        model="claude-sonnet-4-5", max_tokens=64, messages=CLAUDE_USER
    ) as stream:
        kinds = [event.delta.type async for event in stream if event.type == "content_block_delta"]
        message = await stream.get_final_message()
    assert {"thinking_delta", "signature_delta", "text_delta", "input_json_delta"} <= set(kinds)
    assert kinds.count("input_json_delta") > 1
    thinking, text, tool_use = message.content
    assert thinking.type == "thinking" and thinking.thinking == "Need the weather tool."
    assert thinking.signature
    assert text.type == "text" and text.text == "Checking."
    assert tool_use.type == "tool_use" and tool_use.input == WEATHER.arguments
    assert message.stop_reason == "tool_use" and message.usage.output_tokens == 5


async def test_anthropic_count_tokens_and_models(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    counted = await claude.messages.count_tokens(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "x" * 40}], system="y" * 8
    )
    assert counted.input_tokens == 12
    assert fake_anthropic.pending == 0  # count_tokens never consumes the script
    models = [model async for model in claude.models.list()]
    assert [model.id for model in models] == fake_anthropic.models
    assert models[0].display_name == "Claude Sonnet 4.5"
    assert (await claude.models.retrieve(fake_anthropic.models[1])).id == fake_anthropic.models[1]


async def test_anthropic_refuses_requests_without_an_api_key(fake_anthropic: FakeAnthropic) -> None:
    async with httpx2.AsyncClient() as client:
        response = await client.post(f"{fake_anthropic.url}/v1/messages", json={})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    ("status", "error", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (403, anthropic.PermissionDeniedError, "permission_error"),
        (404, anthropic.NotFoundError, "not_found_error"),
        (413, anthropic.ContentTooLargeError, "request_too_large"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
async def test_anthropic_status_faults(
    fake_anthropic: FakeAnthropic,
    claude: AsyncAnthropic,
    status: int,
    error: type[anthropic.APIStatusError],
    error_type: str,
) -> None:
    fake_anthropic.enqueue(Fault.status(status))
    with pytest.raises(error) as caught:
        await _claude_message(claude)
    assert caught.value.status_code == status
    assert caught.value.type == error_type
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req_")
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["request_id"] == caught.value.request_id


async def test_anthropic_overloaded_is_an_internal_server_error(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    fake_anthropic.enqueue(Fault.status(529))
    with pytest.raises(anthropic.InternalServerError) as caught:
        await _claude_message(claude)
    assert caught.value.api_message == "Overloaded"


async def test_anthropic_rate_limit_exposes_retry_after(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    fake_anthropic.enqueue(Fault.status(429, headers={"retry-after": "2"}, message="Slow down"))
    with pytest.raises(anthropic.RateLimitError) as caught:
        await _claude_message(claude)
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.api_message == "Slow down"


async def test_anthropic_error_code_selects_a_specific_class(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    fake_anthropic.enqueue(Fault.status(400, error_code="tool_name_conflict"))
    with pytest.raises(anthropic.BadRequestError) as caught:
        await _claude_message(claude)
    assert caught.value.error_code == "tool_name_conflict"
    assert type(caught.value).__name__ == "ToolNameConflictError"


async def test_anthropic_status_fault_with_a_raw_body(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    fake_anthropic.enqueue(Fault.status(502, body="<html>Bad gateway</html>"))
    with pytest.raises(anthropic.InternalServerError) as caught:
        await _claude_message(claude)
    assert caught.value.status_code == 502 and caught.value.body == "<html>Bad gateway</html>"


async def test_anthropic_transport_faults(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    fake_anthropic.enqueue(Fault.hang(), Fault.reset(), Fault.malformed_json())
    with pytest.raises(anthropic.APITimeoutError):
        await _claude_message(claude, timeout=HANG_TIMEOUT)
    with pytest.raises(anthropic.APIConnectionError) as caught:
        await _claude_message(claude)
    assert not isinstance(caught.value, anthropic.APITimeoutError)
    # The SDK lets the JSON error through unwrapped.
    with pytest.raises(json.JSONDecodeError):
        await _claude_message(claude)


async def test_anthropic_in_stream_error(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    fake_anthropic.enqueue(Fault.stream_error(2))
    stream = await claude.messages.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=CLAUDE_USER, stream=True
    )
    deltas = 0
    with pytest.raises(anthropic.APIStatusError) as caught:
        async for event in stream:
            deltas += event.type == "content_block_delta"
    assert deltas == 2
    # Raised from the 200 response: the plain class, status 200, the type from the event.
    assert type(caught.value) is anthropic.APIStatusError
    assert caught.value.status_code == 200
    assert (caught.value.type, caught.value.api_message) == ("overloaded_error", "Overloaded")


async def test_anthropic_broken_stream(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    fake_anthropic.enqueue(Fault.break_stream(3))
    stream = await claude.messages.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=CLAUDE_USER, stream=True
    )
    deltas = 0
    # Mid-stream transport errors escape the anthropic SDK as raw httpx2 exceptions.
    with pytest.raises(httpx2.RemoteProtocolError):
        async for event in stream:
            deltas += event.type == "content_block_delta"
    assert deltas == 3


async def test_anthropic_stream_faults_on_a_plain_request(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    fake_anthropic.enqueue(Fault.stream_error(0), Fault.break_stream(0))
    with pytest.raises(anthropic.OverloadedError):
        await _claude_message(claude)
    with pytest.raises(anthropic.APIConnectionError):
        await _claude_message(claude)


# -- Anthropic: thinking signatures ----------------------------------------------------------


def _alter(text: str) -> str:
    """The text with its first character changed."""
    return ("B" if text[0] == "A" else "A") + text[1:]


def _history(*blocks: dict[str, Any]) -> list[MessageParam]:
    """A conversation whose assistant turn (messages.1) holds ``blocks``, then a new question."""
    content: list[Any] = [*blocks, {"type": "text", "text": "It is 4."}]
    return [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": content},
        {"role": "user", "content": "And 3+3?"},
    ]


async def _thinking_turn(
    fake: FakeAnthropic, client: AsyncAnthropic, *, stream: bool
) -> anthropic.types.ThinkingBlock:
    """Ask once (JSON or SSE) and return the answer's thinking block."""
    fake.enqueue(Turn(text="It is 4.", thinking="Two plus two is four."))
    if stream:
        async with client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=64, messages=CLAUDE_USER
        ) as events:
            message = await events.get_final_message()
    else:
        message = await _claude_message(client)
    block = message.content[0]
    assert block.type == "thinking"
    return block


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_accepts_its_own_thinking_block_sent_back_unchanged(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic, stream: bool
) -> None:
    block = await _thinking_turn(fake_anthropic, claude, stream=stream)
    assert block.signature == fake_anthropic.signature_for("Two plus two is four.")
    fake_anthropic.enqueue(Turn(text="It is 6."))
    second = await claude.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=64,
        messages=_history(block.model_dump()),
    )
    assert second.content[0].type == "text" and second.content[0].text == "It is 6."
    sent = fake_anthropic.requests[-1].json["messages"][1]["content"][0]
    assert (sent["thinking"], sent["signature"]) == (block.thinking, block.signature)


@pytest.mark.parametrize("altered", ["signature", "thinking"])
async def test_anthropic_refuses_a_thinking_block_changed_by_one_character(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic, altered: str
) -> None:
    block = (await _thinking_turn(fake_anthropic, claude, stream=False)).model_dump()
    tampered = dict(block, **{altered: _alter(block[altered])})
    fake_anthropic.enqueue(Turn(text="It is 6."))
    with pytest.raises(anthropic.BadRequestError) as caught:
        await claude.messages.create(
            model="claude-sonnet-4-5", max_tokens=64, messages=_history(tampered)
        )
    assert caught.value.status_code == 400 and caught.value.type == "invalid_request_error"
    assert caught.value.api_message == SIGNATURE_ERROR
    assert fake_anthropic.pending == 1  # refused before the script was read
    with pytest.raises(anthropic.BadRequestError) as counted:
        await claude.messages.count_tokens(model="claude-sonnet-4-5", messages=_history(tampered))
    assert counted.value.api_message == SIGNATURE_ERROR
    # The unchanged block still passes, and gets the turn the refusals left queued.
    second = await claude.messages.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=_history(block)
    )
    assert second.content[0].type == "text" and second.content[0].text == "It is 6."


async def test_anthropic_refuses_a_thinking_block_without_a_signature(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    unsigned = {"type": "thinking", "thinking": "Two plus two is four."}
    with pytest.raises(anthropic.BadRequestError) as caught:
        await claude.messages.create(
            model="claude-sonnet-4-5", max_tokens=64, messages=_history(unsigned)
        )
    assert caught.value.api_message == "messages.1.content.0.thinking.signature: Field required"


async def test_anthropic_signatures_are_per_fake(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    text = "Two plus two is four."
    other = FakeAnthropic()  # never started: only its secret is needed
    assert other.signature_for(text) != fake_anthropic.signature_for(text)
    foreign = {"type": "thinking", "thinking": text, "signature": other.signature_for(text)}
    with pytest.raises(anthropic.BadRequestError) as caught:
        await claude.messages.create(
            model="claude-sonnet-4-5", max_tokens=64, messages=_history(foreign)
        )
    assert caught.value.api_message == SIGNATURE_ERROR


async def test_anthropic_checks_redacted_thinking_data(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    issued = fake_anthropic.redacted_thinking_data()
    fake_anthropic.enqueue(Turn(text="It is 6."))
    redacted = {"type": "redacted_thinking", "data": issued}
    second = await claude.messages.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=_history(redacted)
    )
    assert second.content[0].type == "text" and second.content[0].text == "It is 6."
    for data in ("opaque", _alter(issued), FakeAnthropic().redacted_thinking_data()):
        with pytest.raises(anthropic.BadRequestError) as caught:
            await claude.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=64,
                messages=_history({"type": "redacted_thinking", "data": data}),
            )
        assert caught.value.api_message == (
            "messages.1.content.0: Invalid `data` in `redacted_thinking` block"
        )


async def test_anthropic_signature_check_can_be_turned_off() -> None:
    forged = {"type": "thinking", "thinking": "Two plus two is four.", "signature": "forged"}
    body = {"model": "m", "max_tokens": 5, "messages": _history(forged)}
    with FakeAnthropic(verify_signatures=False) as lenient, FakeAnthropic() as strict:
        async with httpx2.AsyncClient() as client:
            accepted = await client.post(
                f"{lenient.url}/v1/messages", headers=ANTHROPIC_HEADERS, json=body
            )
            refused = await client.post(
                f"{strict.url}/v1/messages", headers=ANTHROPIC_HEADERS, json=body
            )
    assert accepted.status_code == 200
    assert refused.status_code == 400
    assert refused.json()["error"] == {"type": "invalid_request_error", "message": SIGNATURE_ERROR}


# -- Anthropic: cache usage and headers ------------------------------------------------------


async def test_anthropic_usage_splits_cache_writes_by_ttl(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    fake_anthropic.enqueue(
        Turn(input_tokens=100, cache_write_tokens=30),
        Turn(input_tokens=100, cache_write_tokens=30, cache_write_1h_tokens=10),
    )
    default = (await _claude_message(claude)).usage
    assert default.cache_creation is not None and default.cache_creation_input_tokens == 30
    assert default.cache_creation.ephemeral_5m_input_tokens == 30
    assert default.cache_creation.ephemeral_1h_input_tokens == 0
    events = await _claude_stream(claude)
    assert events[0].type == "message_start"
    usage = events[0].message.usage
    assert (usage.input_tokens, usage.cache_creation_input_tokens) == (70, 30)
    assert usage.cache_read_input_tokens == 0 and usage.cache_creation is not None
    assert usage.cache_creation.ephemeral_5m_input_tokens == 20
    assert usage.cache_creation.ephemeral_1h_input_tokens == 10
    with pytest.raises(ValueError):
        Turn(cache_write_tokens=5, cache_write_1h_tokens=6)


def _assert_anthropic_headers(headers: Mapping[str, str], fake: FakeAnthropic) -> None:
    assert headers["request-id"].startswith("req_")
    assert {name: headers[name] for name in fake.rate_limit_headers} == fake.rate_limit_headers
    assert headers["anthropic-ratelimit-requests-limit"] == "4000"
    assert headers["anthropic-ratelimit-requests-remaining"] == "3999"
    assert headers["anthropic-ratelimit-tokens-limit"] == "400000"
    assert headers["anthropic-ratelimit-tokens-remaining"] == "399000"
    for name in ("anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-reset"):
        assert datetime.fromisoformat(headers[name]).tzinfo is not None  # RFC 3339, with zone


async def test_anthropic_sends_request_id_and_rate_limits_on_every_answer(
    fake_anthropic: FakeAnthropic, claude: AsyncAnthropic
) -> None:
    raw = await claude.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=CLAUDE_USER
    )
    _assert_anthropic_headers(raw.headers, fake_anthropic)
    assert raw.request_id == raw.headers["request-id"]
    fake_anthropic.enqueue(Fault.status(529), Fault.stream_error(1))
    with pytest.raises(anthropic.InternalServerError) as caught:
        await _claude_message(claude)
    _assert_anthropic_headers(caught.value.response.headers, fake_anthropic)
    async with httpx2.AsyncClient() as client:
        body = {"model": "m", "max_tokens": 5, "messages": USER, "stream": True}
        streamed = await client.post(
            f"{fake_anthropic.url}/v1/messages", headers=ANTHROPIC_HEADERS, json=body
        )
        unsigned = await client.post(
            f"{fake_anthropic.url}/v1/messages",
            headers=ANTHROPIC_HEADERS,
            json={"model": "m", "max_tokens": 5, "messages": _history({"type": "thinking"})},
        )
        unauthenticated = await client.post(f"{fake_anthropic.url}/v1/messages", json={})
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert "event: error" in streamed.text
    assert unsigned.status_code == 400 and unauthenticated.status_code == 401
    for response in (streamed, unsigned, unauthenticated):
        _assert_anthropic_headers(response.headers, fake_anthropic)
    assert unsigned.json()["request_id"] == unsigned.headers["request-id"]


# -- OpenAI: Chat Completions ----------------------------------------------------------------


async def test_openai_chat_completion(fake_openai: FakeOpenAI, gpt: AsyncOpenAI) -> None:
    fake_openai.enqueue(
        Turn(
            text="Hi!",
            input_tokens=100,
            output_tokens=40,
            cache_read_tokens=60,
            reasoning_tokens=30,
        )
    )
    completion = await gpt.chat.completions.create(model="gpt-4o", messages=GPT_USER)
    assert completion.id.startswith("chatcmpl-") and completion.object == "chat.completion"
    assert completion.model == "gpt-4o"
    choice = completion.choices[0]
    assert choice.message.content == "Hi!" and choice.finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (100, 40, 140)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 60
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 30
    request = fake_openai.requests[-1]
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.json["model"] == "gpt-4o"


async def test_openai_chat_tool_calls_and_length(fake_openai: FakeOpenAI, gpt: AsyncOpenAI) -> None:
    fake_openai.enqueue(Turn(text="", tool_calls=(OPENAI_WEATHER,)), Turn(finish="length"))
    completion = await gpt.chat.completions.create(model="gpt-4o", messages=GPT_USER)
    message = completion.choices[0].message
    assert message.content is None and completion.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.type == "function" and call.id == OPENAI_WEATHER.id
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == OPENAI_WEATHER.arguments
    completion = await gpt.chat.completions.create(model="gpt-4o", messages=GPT_USER)
    assert completion.choices[0].finish_reason == "length"


async def test_openai_chat_stream_with_usage(fake_openai: FakeOpenAI, gpt: AsyncOpenAI) -> None:
    fake_openai.enqueue(
        Turn(text="One two three", tool_calls=(OPENAI_WEATHER,), cache_read_tokens=4)
    )
    stream = await gpt.chat.completions.create(
        model="gpt-4o",
        messages=GPT_USER,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "One two three"
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert calls[0].id == OPENAI_WEATHER.id and calls[0].function is not None
    assert calls[0].function.name == "get_weather"
    assert len(calls) > 2  # the arguments arrive in pieces
    arguments = "".join(tc.function.arguments or "" for tc in calls if tc.function)
    assert json.loads(arguments) == OPENAI_WEATHER.arguments
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 17
    assert chunks[-1].usage.prompt_tokens_details is not None
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 4
    assert all(chunk.usage is None for chunk in chunks[:-1])


async def test_openai_chat_stream_without_usage_ends_with_done(fake_openai: FakeOpenAI) -> None:
    async with httpx2.AsyncClient() as client:
        response = await client.post(
            f"{fake_openai.base_url}/chat/completions",
            headers={"authorization": "Bearer k"},
            json={"model": "gpt-4o", "messages": USER, "stream": True},
        )
    lines = [line for line in response.text.split("\n\n") if line]
    assert lines[-1] == "data: [DONE]"
    last = json.loads(lines[-2].removeprefix("data: "))
    assert last["choices"][0]["finish_reason"] == "stop" and "usage" not in last


async def test_openai_chat_faults(fake_openai: FakeOpenAI, gpt: AsyncOpenAI) -> None:
    fake_openai.enqueue(
        Fault.status(429, headers={"retry-after": "2"}),
        Fault.status(529),
        Fault.status(400, message="Bad tools", error_code="invalid_value"),
        Fault.hang(),
        Fault.reset(),
        Fault.malformed_json(),
    )

    async def ask(timeout: float = TIMEOUT) -> object:
        return await gpt.chat.completions.create(
            model="gpt-4o",
            messages=GPT_USER,
            timeout=timeout,
        )

    with pytest.raises(openai.RateLimitError) as limited:
        await ask()
    assert limited.value.response.headers["retry-after"] == "2"
    assert limited.value.code == "rate_limit_exceeded"
    assert limited.value.request_id is not None
    with pytest.raises(openai.InternalServerError) as overloaded:
        await ask()
    assert overloaded.value.status_code == 529
    with pytest.raises(openai.BadRequestError) as bad:
        await ask()
    assert (bad.value.message.endswith("Bad tools"), bad.value.code) == (True, "invalid_value")
    assert bad.value.type == "invalid_request_error"
    with pytest.raises(openai.APITimeoutError):
        await ask(HANG_TIMEOUT)
    with pytest.raises(openai.APIConnectionError) as reset:
        await ask()
    assert not isinstance(reset.value, openai.APITimeoutError)
    with pytest.raises(json.JSONDecodeError):
        await ask()


async def test_openai_chat_in_stream_error(fake_openai: FakeOpenAI, gpt: AsyncOpenAI) -> None:
    fake_openai.enqueue(Fault.stream_error(2, error_type="server_error", message="Boom"))
    stream = await gpt.chat.completions.create(model="gpt-4o", messages=GPT_USER, stream=True)
    pieces = []
    # The SDK raises the base APIError (no status: the response said 200).
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            pieces.append(chunk.choices[0].delta.content)
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.message == "Boom" and caught.value.type == "server_error"
    assert pieces == ["", "Hello", " from"]


async def test_openai_chat_broken_stream(fake_openai: FakeOpenAI, gpt: AsyncOpenAI) -> None:
    fake_openai.enqueue(Fault.break_stream(1))
    stream = await gpt.chat.completions.create(model="gpt-4o", messages=GPT_USER, stream=True)
    chunks = 0
    with pytest.raises(openai.APIConnectionError) as caught:
        async for _chunk in stream:
            chunks += 1
    assert chunks == 2
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)


# -- OpenAI: Responses -----------------------------------------------------------------------


async def test_openai_response(fake_openai: FakeOpenAI, gpt: AsyncOpenAI) -> None:
    fake_openai.enqueue(
        Turn(
            text="Let me check.",
            thinking="Weather needs the tool.",
            tool_calls=(OPENAI_WEATHER,),
            input_tokens=50,
            output_tokens=20,
            cache_read_tokens=10,
            reasoning_tokens=8,
        )
    )
    response = await gpt.responses.create(model="o4-mini", input="Weather in Paris?")
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.model == "o4-mini"
    reasoning, message, call = response.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "Weather needs the tool."
    assert message.type == "message" and message.content[0].type == "output_text"
    assert message.content[0].annotations == []
    assert response.output_text == "Let me check."
    assert call.type == "function_call" and call.call_id == OPENAI_WEATHER.id
    assert json.loads(call.arguments) == OPENAI_WEATHER.arguments
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (50, 20, 70)
    assert usage.input_tokens_details.cached_tokens == 10
    assert usage.output_tokens_details.reasoning_tokens == 8


async def test_openai_response_incomplete(fake_openai: FakeOpenAI, gpt: AsyncOpenAI) -> None:
    fake_openai.enqueue(Turn(finish="length"), Turn(finish="length"))
    response = await gpt.responses.create(model="gpt-4o", input="Hi", max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    stream = await gpt.responses.create(model="gpt-4o", input="Hi", stream=True)
    events = [event async for event in stream]
    assert events[-1].type == "response.incomplete"


async def test_openai_response_stream(fake_openai: FakeOpenAI, gpt: AsyncOpenAI) -> None:
    fake_openai.enqueue(Turn(text="Sure thing", thinking="Easy one.", tool_calls=(OPENAI_WEATHER,)))
    stream = await gpt.responses.create(model="o4-mini", input="Hi", stream=True)
    events = [event async for event in stream]
    types = [event.type for event in events]
    assert types[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    for expected in (
        "response.reasoning_summary_text.delta",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ):
        assert expected in types
    assert types[-1] == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "Sure thing"
    final = events[-1]
    assert final.type == "response.completed" and final.response.usage is not None


async def test_openai_response_stream_helper(fake_openai: FakeOpenAI, gpt: AsyncOpenAI) -> None:
    fake_openai.enqueue(Turn(text="Sure thing", thinking="Easy one.", tool_calls=(OPENAI_WEATHER,)))
    async with gpt.responses.stream(model="o4-mini", input="Hi") as stream:
        deltas = [
            event.delta async for event in stream if event.type == "response.output_text.delta"
        ]
        response = await stream.get_final_response()
    assert "".join(deltas) == "Sure thing" and response.output_text == "Sure thing"
    assert [item.type for item in response.output] == ["reasoning", "message", "function_call"]


async def test_openai_response_stream_has_no_done_sentinel(fake_openai: FakeOpenAI) -> None:
    async with httpx2.AsyncClient() as client:
        response = await client.post(
            f"{fake_openai.base_url}/responses",
            headers={"authorization": "Bearer k"},
            json={"model": "gpt-4o", "input": "Hi", "stream": True},
        )
    blocks = [block for block in response.text.split("\n\n") if block]
    assert blocks[-1].startswith("event: response.completed\ndata: ")
    assert "[DONE]" not in response.text


async def test_openai_response_in_stream_error(fake_openai: FakeOpenAI, gpt: AsyncOpenAI) -> None:
    fake_openai.enqueue(Fault.stream_error(1, error_type="server_error", message="Boom"))
    stream = await gpt.responses.create(model="gpt-4o", input="Hi", stream=True)
    # The raw stream raises nothing: the error arrives as events for the caller to act on.
    events = [event async for event in stream]
    error, failed = events[-2:]
    assert error.type == "error" and (error.code, error.message) == ("server_error", "Boom")
    assert failed.type == "response.failed" and failed.response.status == "failed"
    assert failed.response.error is not None and failed.response.error.message == "Boom"
    assert [e.type for e in events].count("response.output_text.delta") == 1


async def test_openai_response_stream_helper_on_errors(
    fake_openai: FakeOpenAI, gpt: AsyncOpenAI
) -> None:
    fake_openai.enqueue(Fault.stream_error(1), Fault.break_stream(1))
    with pytest.raises(RuntimeError, match="response.completed"):
        async with gpt.responses.stream(model="gpt-4o", input="Hi") as stream:
            await stream.get_final_response()
    with pytest.raises(openai.APIConnectionError):
        async with gpt.responses.stream(model="gpt-4o", input="Hi") as stream:
            await stream.get_final_response()


# -- OpenAI: Embeddings and models -----------------------------------------------------------


async def test_openai_embeddings_float_and_base64(
    fake_openai: FakeOpenAI, gpt: AsyncOpenAI
) -> None:
    fake_openai.enqueue(Turn(embedding_dims=12, input_tokens=4), Turn(embedding_dims=12))
    floats = await gpt.embeddings.create(
        model="text-embedding-3-small", input=["alpha", "beta"], encoding_format="float"
    )
    decoded = await gpt.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
    assert fake_openai.requests[-2].json["encoding_format"] == "float"
    assert fake_openai.requests[-1].json["encoding_format"] == "base64"  # the SDK's default
    assert [d.embedding for d in floats.data] == [d.embedding for d in decoded.data]
    assert floats.data[0].embedding == embed_text("alpha", 12)
    assert [d.index for d in floats.data] == [0, 1] and floats.object == "list"
    assert (floats.usage.prompt_tokens, floats.usage.total_tokens) == (4, 4)
    sized = await gpt.embeddings.create(model="text-embedding-3-small", input="x", dimensions=3)
    assert len(sized.data[0].embedding) == 3


async def test_openai_faults_reach_embeddings(fake_openai: FakeOpenAI, gpt: AsyncOpenAI) -> None:
    fake_openai.enqueue(Fault.status(500))
    with pytest.raises(openai.InternalServerError):
        await gpt.embeddings.create(model="text-embedding-3-small", input="x")


async def test_openai_models(fake_openai: FakeOpenAI, gpt: AsyncOpenAI) -> None:
    models = [model.id async for model in gpt.models.list()]
    assert models == fake_openai.models
    assert (await gpt.models.retrieve("gpt-4o")).owned_by == "openai"
    with pytest.raises(openai.NotFoundError):
        await gpt.models.retrieve("gpt-0")


def _assert_openai_headers(headers: Mapping[str, str]) -> None:
    assert headers["x-request-id"].startswith("req_")
    assert {name: value for name, value in headers.items() if name.startswith("x-ratelimit-")} == {
        "x-ratelimit-limit-requests": "10000",
        "x-ratelimit-remaining-requests": "9999",
        "x-ratelimit-reset-requests": "6ms",
        "x-ratelimit-limit-tokens": "2000000",
        "x-ratelimit-remaining-tokens": "1999980",
        "x-ratelimit-reset-tokens": "1s",
    }


async def test_openai_sends_request_id_and_rate_limits_on_every_answer(
    fake_openai: FakeOpenAI, gpt: AsyncOpenAI
) -> None:
    raw = await gpt.chat.completions.with_raw_response.create(model="gpt-4o", messages=GPT_USER)
    _assert_openai_headers(raw.headers)
    assert raw.request_id == raw.headers["x-request-id"]
    fake_openai.enqueue(Fault.status(429, headers={"x-ratelimit-remaining-requests": "0"}))
    with pytest.raises(openai.RateLimitError) as caught:
        await gpt.chat.completions.create(model="gpt-4o", messages=GPT_USER)
    limited = caught.value.response.headers
    # A Fault's own headers win: a test can show a spent limit.
    assert limited["x-ratelimit-remaining-requests"] == "0"
    _assert_openai_headers({**limited, "x-ratelimit-remaining-requests": "9999"})
    async with httpx2.AsyncClient() as client:
        streamed = await client.post(
            f"{fake_openai.base_url}/responses",
            headers={"authorization": "Bearer k"},
            json={"model": "gpt-4o", "input": "Hi", "stream": True},
        )
        unauthenticated = await client.post(f"{fake_openai.base_url}/chat/completions", json={})
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert unauthenticated.status_code == 401
    for response in (streamed, unauthenticated):
        _assert_openai_headers(response.headers)


# -- Ollama ----------------------------------------------------------------------------------


async def test_ollama_chat(fake_ollama: FakeOllama, llama: ollama.AsyncClient) -> None:
    fake_ollama.enqueue(Turn(text="Hi!", input_tokens=30, output_tokens=9))
    response = await llama.chat(model="llama3.1:8b", messages=USER)
    assert response.message.role == "assistant" and response.message.content == "Hi!"
    assert response.done and response.done_reason == "stop" and response.model == "llama3.1:8b"
    assert (response.prompt_eval_count, response.eval_count) == (30, 9)
    for duration in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(getattr(response, duration), int)
    assert fake_ollama.requests[-1].json["stream"] is False


async def test_ollama_chat_streams_by_default_on_the_wire(fake_ollama: FakeOllama) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{fake_ollama.url}/api/chat", json={"model": "llama3.1:8b", "messages": USER}
        )
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["done"] for line in lines] == [False] * (len(lines) - 1) + [True]
    assert "".join(line["message"]["content"] for line in lines) == "Hello from the fake."


async def test_ollama_chat_stream_with_thinking(
    fake_ollama: FakeOllama, llama: ollama.AsyncClient
) -> None:
    fake_ollama.enqueue(Turn(text="Four.", thinking="Two plus two.", input_tokens=7))
    parts = [
        part
        async for part in await llama.chat(
            model="llama3.1:8b", messages=USER, stream=True, think=True
        )
    ]
    assert "".join(p.message.thinking or "" for p in parts) == "Two plus two."
    assert "".join(p.message.content or "" for p in parts) == "Four."
    assert [p.done for p in parts].count(True) == 1 and parts[-1].done
    assert parts[-1].prompt_eval_count == 7 and parts[-1].done_reason == "stop"


async def test_ollama_thinking_only_when_asked(
    fake_ollama: FakeOllama, llama: ollama.AsyncClient
) -> None:
    fake_ollama.enqueue(Turn(thinking="Hidden."), Turn(thinking="Shown."))
    assert (await llama.chat(model="llama3.1:8b", messages=USER)).message.thinking is None
    response = await llama.chat(model="llama3.1:8b", messages=USER, think=True)
    assert response.message.thinking == "Shown."


async def test_ollama_tool_calls_and_length(
    fake_ollama: FakeOllama, llama: ollama.AsyncClient
) -> None:
    fake_ollama.enqueue(
        Turn(text="", tool_calls=(WEATHER,)), Turn(tool_calls=(WEATHER,)), Turn(finish="length")
    )
    response = await llama.chat(model="llama3.1:8b", messages=USER)
    assert response.message.tool_calls is not None
    call = response.message.tool_calls[0]
    assert (call.function.name, dict(call.function.arguments)) == (WEATHER.name, WEATHER.arguments)
    parts = [p async for p in await llama.chat(model="llama3.1:8b", messages=USER, stream=True)]
    streamed = [c for p in parts for c in p.message.tool_calls or []]
    assert [c.function.name for c in streamed] == ["get_weather"]
    response = await llama.chat(model="llama3.1:8b", messages=USER)
    assert response.done_reason == "length"


async def test_ollama_embed(fake_ollama: FakeOllama, llama: ollama.AsyncClient) -> None:
    fake_ollama.enqueue(Turn(embedding_dims=6, input_tokens=3))
    response = await llama.embed(model="nomic-embed-text", input=["a", "b"])
    assert [len(vector) for vector in response.embeddings] == [6, 6]
    assert list(response.embeddings[0]) == embed_text("a", 6)
    assert response.prompt_eval_count == 3 and response.load_duration is not None


async def test_ollama_list_ps_show_and_version(
    fake_ollama: FakeOllama, llama: ollama.AsyncClient
) -> None:
    listed = await llama.list()
    assert [m.model for m in listed.models] == ["llama3.1:8b", "nomic-embed-text:latest"]
    first = listed.models[0]
    assert first.details is not None and first.details.family == "llama"
    assert first.details.parameter_size == "8.0B" and first.size and first.digest
    running = await llama.ps()
    assert [m.name for m in running.models] == ["llama3.1:8b"]
    assert running.models[0].context_length == 4096 and running.models[0].expires_at is not None
    assert running.models[0].size_vram == running.models[0].size
    shown = await llama.show("llama3.1:8b")
    assert shown.modelinfo is not None
    assert shown.modelinfo["general.architecture"] == "llama"
    assert shown.modelinfo["llama.context_length"] == 131072
    assert shown.capabilities == ["completion", "tools"] and shown.template and shown.parameters
    async with httpx.AsyncClient() as client:
        version = await client.get(f"{fake_ollama.url}/api/version")
    assert version.json() == {"version": fake_ollama.version}
    assert fake_ollama.pending == 0  # none of these consume the script


async def test_ollama_models_are_configurable() -> None:
    qwen = OllamaModel("qwen2.5:0.5b", context_length=32768, loaded_context_length=2048)
    with FakeOllama(models=[qwen], loaded=["qwen2.5:0.5b"]) as fake:
        async with ollama.AsyncClient(host=fake.base_url) as client:
            running = await client.ps()
            shown = await client.show("qwen2.5:0.5b")
    assert running.models[0].context_length == 2048
    assert shown.details is not None and shown.details.parameter_size == "0.5B"
    assert shown.modelinfo is not None and shown.modelinfo["qwen.context_length"] == 32768
    with pytest.raises(ValueError):
        FakeOllama(loaded=["absent:1b"])


async def test_ollama_unknown_model(fake_ollama: FakeOllama, llama: ollama.AsyncClient) -> None:
    fake_ollama.enqueue(Turn(text="kept"))
    with pytest.raises(ollama.ResponseError) as caught:
        await llama.chat(model="mistral", messages=USER)
    assert caught.value.status_code == 404
    assert caught.value.error == 'model "mistral" not found, try pulling it first'
    with pytest.raises(ollama.ResponseError):
        await llama.show("mistral")
    assert (await llama.chat(model="llama3.1:8b", messages=USER)).message.content == "kept"


async def test_ollama_faults(fake_ollama: FakeOllama, llama: ollama.AsyncClient) -> None:
    fake_ollama.enqueue(
        Fault.status(503, message="server busy"),
        Fault.hang(),
        Fault.reset(),
        Fault.malformed_json(),
        Fault.status(500),
    )
    with pytest.raises(ollama.ResponseError) as busy:
        await llama.chat(model="llama3.1:8b", messages=USER)
    assert (busy.value.status_code, busy.value.error) == (503, "server busy")
    # The ollama SDK only wraps connect errors; the rest are raw (legacy) httpx exceptions.
    async with ollama.AsyncClient(host=fake_ollama.base_url, timeout=IMPATIENT) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await impatient.chat(model="llama3.1:8b", messages=USER)
    with pytest.raises(httpx.TransportError):
        await llama.chat(model="llama3.1:8b", messages=USER)
    with pytest.raises(json.JSONDecodeError):
        await llama.chat(model="llama3.1:8b", messages=USER)
    with pytest.raises(ollama.ResponseError):
        await llama.embed(model="nomic-embed-text", input="x")


async def test_ollama_stream_faults(fake_ollama: FakeOllama, llama: ollama.AsyncClient) -> None:
    fake_ollama.enqueue(
        Fault.stream_error(2, message="model runner crashed"), Fault.break_stream(1)
    )
    seen = []
    with pytest.raises(ollama.ResponseError) as caught:
        async for part in await llama.chat(model="llama3.1:8b", messages=USER, stream=True):
            seen.append(part.message.content)
    assert seen == ["Hello", " from"]
    assert (caught.value.error, caught.value.status_code) == ("model runner crashed", -1)
    seen.clear()
    with pytest.raises(httpx.RemoteProtocolError):
        async for part in await llama.chat(model="llama3.1:8b", messages=USER, stream=True):
            seen.append(part.message.content)
    assert seen == ["Hello"]


async def test_ollama_delays(fake_ollama: FakeOllama, llama: ollama.AsyncClient) -> None:
    fake_ollama.enqueue(Turn(delay=1.0))
    async with ollama.AsyncClient(host=fake_ollama.base_url, timeout=IMPATIENT) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await impatient.chat(model="llama3.1:8b", messages=USER)
    fake_ollama.enqueue(Turn(chunk_delay=0.01))
    parts = [p async for p in await llama.chat(model="llama3.1:8b", messages=USER, stream=True)]
    assert parts[-1].done

"""The Anthropic Messages and OpenAI Responses front-ends, in-process, through the official
SDKs and the wire-format fakes: pass-through (the client's body with only `model` changed,
events relayed as sent), tools, thinking signatures, count_tokens, errors in each API's own
shape, fallback within the provider family, and the ledger's client, session and turn."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from support.app import App, start_app
from support.canary import ANTHROPIC_KEY
from support.daemon import remove_home
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn
from support.fakes.script import ToolCall

from cortexd.api.tcp_guard import TcpGuard
from cortexd.pipeline.pins import SessionPins
from cortexd.routing.dispatch import ModelHealth
from cortexd.routing.providers import OverloadedError

REFUSED = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused
DATA = Path(__file__).parent / "data" / "agent-clients"
CLAUDE_HEADERS = {
    "user-agent": "claude-cli/2.1.197 (external, sdk-cli)",
    "x-claude-code-session-id": "5f1c-session",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
}


@pytest.fixture
def claude(app: App) -> Iterator[anthropic.Anthropic]:
    """The anthropic SDK on the application, looking like Claude Code."""
    client = anthropic.Anthropic(
        base_url="http://cortexd",
        api_key="unused",
        http_client=app.client(),
        max_retries=0,
        default_headers=CLAUDE_HEADERS,
    )
    yield client
    client.close()


def _sent(fake: FakeAnthropic | FakeOpenAI, path: str) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in fake.requests if r.path == path]


def _last_call(app: App) -> dict[str, Any]:
    row: dict[str, Any] = app.client().get("/v1/calls", params={"limit": 1}).json()["data"][-1]
    return row


@pytest.fixture(autouse=True)
def _healthy(app: App) -> None:
    """Every test starts with no model paused and no session pinned: one test's 529s open
    circuits for the next, and its fallback would pin the session they share."""
    dispatcher = app.services.dispatcher
    dispatcher.health = ModelHealth(dispatcher.clock)
    app.services.pins = SessionPins()


# --- Messages -------------------------------------------------------------------------------


def test_a_messages_request_goes_through_as_written_with_only_the_model_changed(
    app: App, claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, _ = fresh
    fake.enqueue(Turn(text="Hi there.", input_tokens=30, output_tokens=4))
    sent = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64000,
        "system": [
            {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "say hi"}]},
            {"role": "system", "content": "a mid-conversation system message"},
        ],
        "metadata": {"user_id": '{"device": "x"}'},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "a_field_nobody_knows_yet": {"nested": [1, 2.5, "three"]},
    }
    known = ("model", "max_tokens", "system", "messages", "metadata")
    raw = claude.messages.with_raw_response.create(
        **{k: sent[k] for k in known},  # type: ignore[arg-type]
        extra_body={k: v for k, v in sent.items() if k not in known},
    )
    message = raw.parse()
    assert message.content[0].text == "Hi there."  # type: ignore[union-attr]
    received = fake.requests[-1]
    assert received.path == "/v1/messages"
    assert json.loads(received.body) == sent  # the same model id: nothing else differs
    assert received.header("anthropic-beta") == CLAUDE_HEADERS["anthropic-beta"]
    assert received.header("authorization") == f"Bearer {ANTHROPIC_KEY}"  # cortexd's own key
    # The provider's request id and rate limits pass through; cortexd's metadata beside them.
    assert raw.headers["request-id"].startswith("req_")
    assert raw.headers["anthropic-ratelimit-requests-limit"] == "4000"
    assert raw.headers["x-cortex-model"] == "claude-sonnet-4-5"
    row = _last_call(app)
    assert row["client"] == "claude-cli" and row["session"] == "5f1c-session"
    assert row["model"] == "claude-sonnet-4-5" and row["outcome"] == "ok"


def test_claude_codes_default_model_streams_with_its_events_relayed_byte_for_byte(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, _ = fresh
    fake.enqueue(Turn(text="one two three", thinking="Let me count.", output_tokens=9))
    body = json.loads((DATA / "claude-code-2.1.197.messages-request.json").read_text())["body"]
    headers = {**CLAUDE_HEADERS, "anthropic-version": "2023-06-01", "x-api-key": "unused"}
    with app.client().stream(
        "POST", "/v1/messages?beta=true", json=body, headers=headers
    ) as response:
        assert response.status_code == 200, response.read()
        streamed = b"".join(response.iter_bytes())
    received = fake.requests[-1]
    assert received.query == {"beta": "true"}
    forwarded = json.loads(received.body)
    assert forwarded["model"] == "claude-opus-4-8"  # pass-through: the agent's own model
    assert forwarded == body
    events = [b for b in streamed.split(b"\n\n") if b]
    names = [e.split(b"\n")[0] for e in events]
    assert names[0] == b"event: message_start" and names[-1] == b"event: message_stop"
    assert b"event: content_block_start" in names and b"event: message_delta" in names
    # Signatures come back exactly as the provider made them.
    assert fake.signature_for("Let me count.").encode() in streamed
    row = _last_call(app)
    assert row["task"] != "Classification / routing"  # "say hi" is not filed by its wrapper
    print(row)


def test_thinking_and_tools_round_trip_through_the_signing_fake(
    claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, _ = fresh
    fake.enqueue(
        Turn(
            thinking="I should run the command.",
            text="",
            tool_calls=(ToolCall("toolu_01", "Bash", {"command": "echo HELLO"}),),
        ),
        Turn(thinking="It printed HELLO.", text="It printed HELLO."),
    )
    tools = [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}]
    first = [{"role": "user", "content": "run echo HELLO"}]
    with claude.messages.stream(
        model="sonnet", max_tokens=2000, messages=first, tools=tools,  # type: ignore[arg-type]
        thinking={"type": "enabled", "budget_tokens": 1024},
    ) as stream:  # fmt: skip
        answer = stream.get_final_message()
    kinds = [b.type for b in answer.content]
    assert kinds == ["thinking", "tool_use"]
    assistant = [b.model_dump(exclude_none=True) for b in answer.content]
    tool_use = answer.content[1]
    second = [
        *first,
        {"role": "assistant", "content": assistant},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tool_use.id, "content": "HELLO"},  # type: ignore[union-attr]
        ]},
    ]  # fmt: skip
    final = claude.messages.create(
        model="sonnet", max_tokens=2000, messages=second, tools=tools,  # type: ignore[arg-type]
        thinking={"type": "enabled", "budget_tokens": 1024},
    )  # fmt: skip
    assert final.content[-1].text == "It printed HELLO."  # type: ignore[union-attr]
    # The fake checked the first answer's signature on the second turn: it was intact.
    sent_back = _sent(fake, "/v1/messages")[-1]["messages"][1]["content"][0]
    assert sent_back["signature"] == fake.signature_for("I should run the command.")


def test_an_altered_signature_gets_anthropics_400_in_anthropics_shape(
    claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, _ = fresh
    forged = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hm", "signature": "Zm9yZ2Vk"},
            {"type": "text", "text": "hello"},
        ]},
        {"role": "user", "content": "again"},
    ]  # fmt: skip
    with pytest.raises(anthropic.BadRequestError) as raised:
        claude.messages.create(model="sonnet", max_tokens=100, messages=forged)  # type: ignore[arg-type]
    assert "Invalid `signature` in `thinking` block" in str(raised.value)
    assert raised.value.body["type"] == "error"  # type: ignore[index]


def test_opus_falls_back_to_sonnet_before_the_first_content_event(
    app: App, claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, _ = fresh
    fake.enqueue(Fault.status(529), Fault.status(529), Turn(text="sonnet here"))
    with claude.messages.with_streaming_response.create(
        model="claude-opus-4-1", max_tokens=100, stream=True,
        messages=[{"role": "user", "content": "why is the sky blue"}],
    ) as response:  # fmt: skip
        text = b"".join(response.iter_bytes())
        assert response.headers["x-cortex-fallback"] == "true"
    assert b"sonnet here" in text or b"sonnet" in text
    models = [json.loads(r.body)["model"] for r in fake.requests if r.path == "/v1/messages"]
    assert models[0] == "claude-opus-4-1" and models[-1] != "claude-opus-4-1"
    assert text.count(b"event: message_start") == 1  # the failed attempt left no trace


def test_every_model_overloaded_is_a_529_overloaded_error_with_retry_after(
    claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, openai_fake = fresh
    fake.enqueue(*[Fault.status(529)] * 8)
    openai_fake.enqueue(*[Fault.status(503)] * 8)  # the crossing fallback is down too
    with pytest.raises(anthropic.APIStatusError) as raised:
        claude.messages.create(
            model="haiku", max_tokens=50, messages=[{"role": "user", "content": "hello"}]
        )
    assert raised.value.status_code == 529
    assert raised.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    assert "retry-after" in raised.value.response.headers


def test_a_break_after_content_ends_the_stream_with_an_error_event(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, _ = fresh
    fake.enqueue(Fault.break_stream(after=4))
    body = {"model": "sonnet", "max_tokens": 50, "stream": True,
            "messages": [{"role": "user", "content": "tell me a story"}]}  # fmt: skip
    with app.client().stream("POST", "/v1/messages", json=body) as response:
        streamed = b"".join(response.iter_bytes())
    assert streamed.rstrip().split(b"\n\n")[-1].startswith(b"event: error")
    assert b"message_stop" not in streamed
    assert _last_call(app)["outcome"] == "partial"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "sonnet", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"model": "sonnet", "max_tokens": 5, "messages": []}, "messages"),
        ({"model": "sonnet", "max_tokens": 5, "messages": [{"role": "bot", "content": "x"}]},
         "messages.0.role"),
        ({"model": "no-such-model", "max_tokens": 5,
          "messages": [{"role": "user", "content": "x"}]}, "unknown model"),
        ({"model": "sonnet", "max_tokens": 5, "api_key": "sk-x",
          "messages": [{"role": "user", "content": "x"}]}, "api_key"),
    ],
)  # fmt: skip
def test_bad_messages_requests_get_a_400_in_anthropics_shape(
    app: App, body: dict[str, Any], message: str
) -> None:
    answer = app.client().post("/v1/messages", json=body)
    assert answer.status_code == 400
    error = answer.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert message in error["error"]["message"]


def test_count_tokens_asks_anthropic_and_says_so(
    claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, _ = fresh
    raw = claude.messages.with_raw_response.count_tokens(
        model="sonnet", messages=[{"role": "user", "content": "count these words please"}]
    )
    counted = raw.parse()
    assert counted.input_tokens > 0
    assert raw.headers["x-cortex-token-count"] == "anthropic"
    assert fake.requests[-1].path == "/v1/messages/count_tokens"
    assert "stream" not in json.loads(fake.requests[-1].body)


def test_count_tokens_estimates_locally_and_labels_it_when_anthropic_cannot_count() -> None:
    # Anthropic unreachable (a refused connection): the count is estimated here, and says so.
    down = start_app(env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": REFUSED})
    try:
        client = anthropic.Anthropic(
            base_url="http://cortexd", api_key="unused", http_client=down.client(), max_retries=0
        )
        raw = client.messages.with_raw_response.count_tokens(
            model="sonnet", messages=[{"role": "user", "content": "word " * 400}]
        )
        assert raw.headers["x-cortex-token-count"] == "estimate"
        assert 300 < raw.parse().input_tokens < 1000  # never a fake 0
        with pytest.raises(anthropic.APIStatusError) as raised:
            client.messages.create(
                model="sonnet", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
        assert raised.value.status_code == 529  # the whole family is down: overloaded_error
        assert raised.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    finally:
        down.stop()
        remove_home(down.home)


def test_count_tokens_passes_anthropics_400_on(
    claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    forged = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "x", "signature": "AA"}],
        },
        {"role": "user", "content": "more"},
    ]
    with pytest.raises(anthropic.BadRequestError) as raised:
        claude.messages.count_tokens(model="sonnet", messages=forged)  # type: ignore[arg-type]
    assert "Invalid `signature`" in str(raised.value)


def test_an_override_inside_the_family_wins_over_the_agents_model(
    app: App, claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, _ = fresh
    fake.enqueue(Turn(text="deep thoughts"))
    claude.messages.create(
        model="claude-sonnet-4-5", max_tokens=100,
        messages=[{"role": "user", "content": "use opus for this: is P equal to NP?"}],
    )  # fmt: skip
    forwarded = json.loads(fake.requests[-1].body)
    assert forwarded["model"] != "claude-sonnet-4-5" and "opus" in forwarded["model"]
    assert forwarded["messages"][0]["content"] == "is P equal to NP?"


# --- Responses ------------------------------------------------------------------------------


@pytest.fixture
def codex(app: App) -> Iterator[openai.OpenAI]:
    """The openai SDK on the application, looking like Codex."""
    client = openai.OpenAI(
        base_url="http://cortexd/v1",
        api_key="unused",
        http_client=app.client(),
        max_retries=0,
        default_headers={"originator": "codex_exec", "session-id": "codex-session-7"},
    )
    yield client
    client.close()


def test_a_responses_request_passes_unknown_items_and_tools_through(
    app: App, codex: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _, fake = fresh
    fake.enqueue(Turn(text="done", input_tokens=50, cache_read_tokens=20))
    body = json.loads((DATA / "codex-0.171.0.responses-request.json").read_text())["body"]
    body = {**body, "model": "codex", "stream": False}
    headers = {"originator": "codex_exec", "session-id": "codex-session-7"}
    raw = app.client().post("/v1/responses", json=body, headers=headers)
    assert raw.status_code == 200, raw.text
    assert raw.json()["output"][0]["content"][0]["text"] == "done"
    forwarded = json.loads(fake.requests[-1].body)
    assert fake.requests[-1].path == "/v1/responses"
    assert forwarded == {**body, "model": forwarded["model"]}
    assert raw.headers["x-request-id"].startswith("req_")
    row = _last_call(app)
    assert row["client"] == "codex_exec" and row["session"] == "codex-session-7"


def test_the_openai_sdk_streams_a_response_with_a_tool_round_trip(
    codex: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _, fake = fresh
    fake.enqueue(
        Turn(text="", tool_calls=(ToolCall("call_1", "exec_command", {"cmd": "ls"}),)),
        Turn(text="There are two files."),
    )
    tools = [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}}]
    with codex.responses.stream(model="codex", input="list the files", tools=tools) as stream:  # type: ignore[arg-type]
        first = stream.get_final_response()
    call = next(item for item in first.output if item.type == "function_call")
    follow = [
        {"role": "user", "content": "list the files"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name,  # type: ignore[union-attr]
         "arguments": call.arguments},  # type: ignore[union-attr]
        {"type": "function_call_output", "call_id": call.call_id, "output": "a.py b.py"},  # type: ignore[union-attr]
    ]  # fmt: skip
    with codex.responses.stream(model="codex", input=follow, tools=tools) as stream:  # type: ignore[arg-type]
        second = stream.get_final_response()
    assert second.output_text == "There are two files."


def test_a_broken_responses_stream_ends_with_response_failed(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _, fake = fresh
    fake.enqueue(Fault.break_stream(after=5))
    body = {"model": "codex", "input": "write a haiku", "stream": True}
    with app.client().stream("POST", "/v1/responses", json=body) as response:
        streamed = b"".join(response.iter_bytes())
    assert streamed.rstrip().split(b"\n\n")[-1].startswith(b"event: response.failed")


def test_bad_responses_requests_get_openais_400(codex: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        codex.responses.create(model="codex", input=[])
    assert "input" in str(raised.value)


def test_every_openai_model_failing_is_a_503_in_openais_shape(
    codex: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, fake = fresh
    fake.enqueue(*[Fault.status(500)] * 8)
    anthropic_fake.enqueue(*[Fault.status(500)] * 8)  # the crossing fallback is down too
    with pytest.raises(openai.APIStatusError) as raised:
        codex.responses.create(model="codex", input="hello")
    assert raised.value.status_code == 503
    assert raised.value.body["code"] == "no_model_available"  # type: ignore[index]


# --- over the socket and the TCP listener's guard -------------------------------------------


def test_the_anthropic_sdk_streams_and_counts_over_the_unix_socket(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, _ = fresh
    fake.enqueue(Turn(text="over the socket"))
    transport = httpx2.HTTPTransport(uds=str(app.socket))
    with anthropic.Anthropic(
        base_url="http://cortexd", api_key="unused", max_retries=0,
        http_client=httpx2.Client(transport=transport),
    ) as client:  # fmt: skip
        with client.messages.stream(
            model="sonnet", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            assert "".join(stream.text_stream) == "over the socket"
        counted = client.messages.count_tokens(
            model="sonnet", messages=[{"role": "user", "content": "hi there"}]
        )
        assert counted.input_tokens > 0


def test_the_openai_sdks_responses_work_over_the_unix_socket(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _, fake = fresh
    fake.enqueue(Turn(text="socket response"), Turn(text="streamed socket response"))
    transport = httpx2.HTTPTransport(uds=str(app.socket))
    with openai.OpenAI(
        base_url="http://cortexd/v1", api_key="unused", max_retries=0,
        http_client=httpx2.Client(transport=transport),
    ) as client:  # fmt: skip
        assert client.responses.create(model="gpt-4o", input="hi").output_text == "socket response"
        with client.responses.stream(model="gpt-4o", input="hi") as stream:
            assert stream.get_final_response().output_text == "streamed socket response"


def test_both_sdks_pass_the_tcp_listeners_guard_with_its_token(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    anthropic_fake.enqueue(Turn(text="via tcp"))
    openai_fake.enqueue(Turn(text="via tcp too"))
    token = "t" * 43
    guard = TcpGuard(app.app, token, 8765)
    with anthropic.Anthropic(  # Claude Code's ANTHROPIC_API_KEY: sent as x-api-key
        base_url="http://127.0.0.1:8765", api_key=token, max_retries=0,
        http_client=app.client(front=guard),
    ) as client:  # fmt: skip
        answer = client.messages.create(
            model="sonnet", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.content[0].text == "via tcp"  # type: ignore[union-attr]
    with openai.OpenAI(
        base_url="http://127.0.0.1:8765/v1", api_key=token, max_retries=0,
        http_client=app.client(front=guard),
    ) as client:  # fmt: skip
        assert client.responses.create(model="codex", input="hi").output_text == "via tcp too"
    with anthropic.Anthropic(
        base_url="http://127.0.0.1:8765", api_key="wrong", max_retries=3,
        http_client=app.client(front=guard),
    ) as client, pytest.raises(anthropic.AuthenticationError):  # fmt: skip
        client.messages.create(
            model="sonnet", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )


# --- routing agent traffic ------------------------------------------------------------------


def test_codex_falls_back_to_gpt_4o_within_openai(
    app: App, codex: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, fake = fresh
    fake.enqueue(Fault.status(500), Fault.status(500), Turn(text="gpt-4o answered"))
    raw = codex.responses.with_raw_response.create(model="gpt-5.1-codex", input="refactor this")
    assert raw.parse().output_text == "gpt-4o answered"
    assert raw.headers["x-cortex-fallback"] == "true"
    models = [json.loads(r.body)["model"] for r in fake.requests]
    assert models[0] == "gpt-5.1-codex" and models[-1] != "gpt-5.1-codex"
    assert not anthropic_fake.requests  # a Codex session stays on OpenAI


def test_a_budget_reserves_what_a_clients_calls_really_use_not_their_cap(
    app: App, claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    from cortexd.pipeline.call import Call
    from cortexd.pipeline.plan import FIRST_CALLS_OUTPUT, _as_estimated
    from cortexd.routing import Message, RouteRequest
    from cortexd.routing.providers import ChatMessage, ChatRequest

    chat = ChatRequest("sonnet", (ChatMessage.of("user", "hi"),), max_tokens=64000)
    call = Call("messages", RouteRequest((Message("user", "hi"),)), chat, True, "sonnet",
                client="claude-cli-budget-test")  # fmt: skip
    # Nothing known yet: a typical agent answer, not the cap.
    assert _as_estimated(app.services.recent_outputs, call, chat).max_tokens == FIRST_CALLS_OUTPUT
    for used in (300, 420, 380, 510, 290, 350):
        app.services.recent_outputs.observe("claude-cli-budget-test", used)
    priced = _as_estimated(app.services.recent_outputs, call, chat).max_tokens
    assert priced is not None and 350 <= priced <= 510


# --- what a review found --------------------------------------------------------------------


def test_a_prompt_too_long_for_every_model_is_a_400_claude_code_can_compact_on(
    claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, _ = fresh
    too_long = "prompt is too long: 250000 tokens > 200000 maximum"
    fake.enqueue(*[Fault.status(400, message=too_long)] * 4)
    with pytest.raises(anthropic.BadRequestError) as raised:
        claude.messages.create(
            model="claude-opus-4-1", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        )
    assert "prompt is too long" in str(raised.value)
    assert raised.value.response.headers.get("x-should-retry") == "false"


def test_claude_code_configured_with_gpt_4o_is_answered_by_gpt_4o_with_tools_streamed(
    app: App, claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    openai_fake.enqueue(
        Turn(text="", tool_calls=(ToolCall("call_7", "Bash", {"command": "ls"}),)),
        Turn(text="Two files."),
    )
    tools = [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}]
    first = [{"role": "user", "content": "list the files"}]
    with claude.messages.stream(
        model="gpt-4o",
        max_tokens=200,
        messages=first,
        tools=tools,  # type: ignore[arg-type]
    ) as stream:
        answer = stream.get_final_message()
    use = answer.content[-1]
    assert use.type == "tool_use" and use.input == {"command": "ls"}  # type: ignore[union-attr]
    assert answer.stop_reason == "tool_use"
    second = [
        *first,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in answer.content]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": use.id, "content": "a.py b.py"},  # type: ignore[union-attr]
        ]},
    ]  # fmt: skip
    final = claude.messages.create(
        model="gpt-4o",
        max_tokens=200,
        messages=second,
        tools=tools,  # type: ignore[arg-type]
    )
    assert final.content[-1].text == "Two files."  # type: ignore[union-attr]
    sent = json.loads(openai_fake.requests[-1].body)
    assert sent["model"].startswith("gpt-4o")
    results = [m for m in sent["messages"] if m["role"] == "tool"]
    assert results and results[0]["content"] == "a.py b.py"
    assert not anthropic_fake.requests  # nothing went to Anthropic


def test_an_override_to_another_provider_is_answered_translated(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    openai_fake.enqueue(Turn(text="gpt-4o here"))
    body = json.loads((DATA / "claude-code-2.1.197.messages-request.tool-result.json").read_text())
    body = body["body"]
    # The recorded body stands for its long texts with their lengths: put the reminder back.
    body["messages"][0]["content"][0]["text"] = "<system-reminder>context</system-reminder>"
    answer = app.client().post(
        "/v1/messages", json={**body, "stream": False}, headers=CLAUDE_HEADERS
    )
    assert answer.status_code == 200, answer.text
    message = answer.json()
    assert message["type"] == "message" and message["content"][-1]["text"] == "gpt-4o here"
    assert not anthropic_fake.requests and openai_fake.requests
    sent = json.loads(openai_fake.requests[-1].body)
    assert any(m["role"] == "tool" for m in sent["messages"])  # the tool round trip, translated
    assert "use gpt-4o" not in json.dumps(sent["messages"])  # the override phrase removed


def test_codex_can_be_answered_by_sonnet_streamed(
    app: App, codex: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    anthropic_fake.enqueue(Turn(text="sonnet for codex"))
    with codex.responses.stream(model="sonnet", input="explain this diff") as stream:
        final = stream.get_final_response()
    assert final.output_text == "sonnet for codex"
    assert anthropic_fake.requests and not openai_fake.requests


def test_the_agents_model_with_an_open_circuit_falls_back_within_the_family(
    app: App, claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, _ = fresh
    health = app.services.dispatcher.health
    opus = app.services.routing.catalog.resolve("claude-opus-4-1")
    assert opus is not None
    while health.skip_reason(opus) is None:  # opus keeps failing: its circuit opens
        health.failed(opus, OverloadedError("Overloaded", provider="anthropic", model="opus"))
    fake.enqueue(Turn(text="still answered"))
    answer = claude.messages.create(
        model="claude-opus-4-1", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.content[0].text == "still answered"  # type: ignore[union-attr]
    assert json.loads(fake.requests[-1].body)["model"] != "claude-opus-4-1"


def test_an_overload_after_content_ends_the_stream_as_overloaded_error(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, _ = fresh
    fake.enqueue(Fault.stream_error(after=3))
    body = {"model": "sonnet", "max_tokens": 50, "stream": True,
            "messages": [{"role": "user", "content": "tell me a story"}]}  # fmt: skip
    with app.client().stream("POST", "/v1/messages", json=body) as response:
        streamed = b"".join(response.iter_bytes())
    last = streamed.rstrip().split(b"\n\n")[-1]
    assert last.startswith(b"event: error") and b"overloaded_error" in last


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/messages", {"model": "sonnet", "max_tokens": 5, "messages": [
            {"role": "user", "content": [{"type": "text", "text": 5}]}]}),
        ("/v1/messages", {"model": "sonnet", "max_tokens": 5, "messages": [{"role": "user",
                          "content": [{"type": "image", "source": "not an object"}]}]}),
        ("/v1/messages", {"model": "sonnet", "max_tokens": 5, "system": [
            {"type": "text", "text": 1}], "messages": [{"role": "user", "content": "x"}]}),
        ("/v1/messages/count_tokens", {"model": "sonnet",
                          "messages": [{"role": "user", "content": [{"type": "text"}]}]}),
        ("/v1/responses", {"model": "codex", "input": "x", "reasoning": "high"}),
        ("/v1/responses", {"model": "codex", "input": [{"role": ["user"], "content": "x"}]}),
        ("/v1/responses", {"model": "codex", "input": "x", "instructions": ["a"]}),
        ("/v1/responses", {"model": "codex", "input": "x", "max_output_tokens": "5"}),
    ],
)  # fmt: skip
def test_malformed_agent_bodies_are_400s_in_the_endpoints_shape(
    app: App, path: str, body: dict[str, Any]
) -> None:
    answer = app.client().post(path, json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()
    if path.startswith("/v1/messages"):
        assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    else:
        assert error["error"]["type"] == "invalid_request_error"


def _why(app: App) -> dict[str, Any]:
    call_id = _last_call(app)["id"]
    found: dict[str, Any] = app.client().get(f"/v1/calls/{call_id}").json()
    return found


def test_the_ledger_keeps_anthropics_cache_reads_and_5_minute_and_1_hour_writes(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, _ = fresh
    fake.enqueue(
        Turn(text="cached", input_tokens=1000, cache_read_tokens=600, cache_write_tokens=300,
             cache_write_1h_tokens=100)
    )  # fmt: skip
    body = {"model": "sonnet", "max_tokens": 20, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    with app.client().stream("POST", "/v1/messages", json=body) as response:
        b"".join(response.iter_bytes())
    why = json.dumps(_why(app))
    assert '"cache_read_tokens": 600' in why and '"cache_write_tokens": 300' in why
    assert '"cache_write_1h_tokens": 100' in why


def test_the_ledger_keeps_openais_cached_tokens_from_a_passed_through_response(
    app: App, codex: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _, fake = fresh
    fake.enqueue(Turn(text="cached", input_tokens=900, cache_read_tokens=512))
    with codex.responses.stream(model="codex", input="hi") as stream:
        stream.get_final_response()
    assert '"cache_read_tokens": 512' in json.dumps(_why(app))


def test_an_override_phrase_is_removed_when_the_persons_words_span_two_blocks(
    claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, _ = fresh
    fake.enqueue(Turn(text="ok"))
    claude.messages.create(
        model="claude-sonnet-4-5", max_tokens=50,
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "use opus for this: fix the bug"},
            {"type": "text", "text": "and also the tests"},
        ]}],
    )  # fmt: skip
    forwarded = json.loads(fake.requests[-1].body)
    blocks = [b["text"] for b in forwarded["messages"][0]["content"]]
    assert "opus" in forwarded["model"]
    assert blocks == ["fix the bug", "and also the tests"]


def test_a_crossed_answer_says_what_translation_left_out(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    anthropic_fake.enqueue(Turn(text="sonnet answered Codex"))
    body = json.loads((DATA / "codex-0.171.0.responses-request.model-auto.json").read_text())
    body = {**body["body"], "model": "sonnet", "stream": False}
    answer = app.client().post("/v1/responses", json=body, headers={"originator": "codex_exec"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["output"][0]["content"][0]["text"] == "sonnet answered Codex"
    assert answer.headers["x-cortex-translated"] == "true"
    lost = answer.headers["x-cortex-losses"]
    assert "web_search" in lost and "multi_agent_v1" not in lost
    sent = json.loads(anthropic_fake.requests[-1].body)
    names = {t["name"] for t in sent.get("tools", [])}
    assert "exec_command" in names and "web_search" not in names
    assert "spawn_agent" in names  # the multi_agent_v1 namespace's tools, offered flat
    why = app.client().get(f"/v1/calls/{answer.headers['x-cortex-call-id']}").json()
    assert any("translated for" in r and "web_search" in r for r in why["reasons"]), why
    # On the ledger in a column of its own, not only in the reasons: `cortex why` lists it.
    assert any("web_search" in lost for lost in why["losses"]), why["losses"]
    assert why["agent_model"] == "sonnet"
    assert not openai_fake.requests
    # The same request answered by its own family loses nothing, and says so.
    openai_fake.enqueue(Turn(text="codex answered Codex"))
    own = app.client().post(
        "/v1/responses",
        json={**body, "model": "gpt-5.1-codex"},
        headers={"originator": "codex_exec"},
    )
    assert own.status_code == 200 and "x-cortex-losses" not in own.headers
    why = app.client().get(f"/v1/calls/{own.headers['x-cortex-call-id']}").json()
    assert why["losses"] == [] and why["model"] == "gpt-5.1-codex"


PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch"
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Apply a patch to files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: patch"},
}


@pytest.mark.parametrize("stream", [True, False])
def test_codexs_apply_patch_round_trips_through_sonnet(
    app: App, codex: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI], stream: bool
) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(
        Turn(text="", tool_calls=(ToolCall("toolu_01", "apply_patch", {"input": PATCH}),)),
        Turn(text="Patched."),
    )
    first = [{"role": "user", "content": "add hello.txt"}]
    if stream:
        with codex.responses.stream(model="sonnet", input=first, tools=[APPLY_PATCH]) as events:  # type: ignore[arg-type, list-item]
            answer = events.get_final_response()
    else:
        answer = codex.responses.create(model="sonnet", input=first, tools=[APPLY_PATCH])  # type: ignore[arg-type, list-item]
    call = next(item for item in answer.output if item.type == "custom_tool_call")
    assert call.name == "apply_patch" and call.input == PATCH  # type: ignore[union-attr]
    # What sonnet was offered: a function tool with one string argument and the grammar.
    offered = json.loads(anthropic_fake.requests[-1].body)["tools"][0]
    assert offered["input_schema"]["required"] == ["input"] and "lark" in offered["description"]
    follow = [
        *first,
        {"type": "custom_tool_call", "call_id": call.call_id, "name": "apply_patch",  # type: ignore[union-attr]
         "input": PATCH},
        {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "Done!"},  # type: ignore[union-attr]
    ]  # fmt: skip
    final = codex.responses.create(model="sonnet", input=follow, tools=[APPLY_PATCH])  # type: ignore[arg-type, list-item]
    assert final.output_text == "Patched."
    sent = json.loads(anthropic_fake.requests[-1].body)["messages"]
    use = next(
        b for m in sent for b in m["content"] if isinstance(b, dict) and b["type"] == "tool_use"
    )
    assert use["name"] == "apply_patch" and use["input"] == {"input": PATCH}
    result = next(
        b for m in sent for b in m["content"] if isinstance(b, dict) and b["type"] == "tool_result"
    )
    assert result["tool_use_id"] == use["id"]


def _claude_session(session: str) -> dict[str, str]:
    return {"x-claude-code-session-id": session, "user-agent": "claude-cli/2.1.0 (external, cli)"}


#: Claude Code's thinking as these tests ask for it.
THINKING = {"type": "enabled", "budget_tokens": 1024}


def _thinking_ask(session: str) -> dict[str, Any]:
    """A Claude Code tool loop's request, thinking on, in `session`."""
    tools = [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}]
    return {
        "model": "claude-sonnet-4-5", "max_tokens": 2000, "tools": tools, "thinking": THINKING,
        "extra_headers": _claude_session(session),
    }  # fmt: skip


def _tool_loop_helpers() -> tuple[Any, Any]:
    def result(answer: Any, output: str) -> dict[str, Any]:
        use = next(b for b in answer.content if b.type == "tool_use")
        return {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": use.id, "content": output}]}  # fmt: skip

    def kept(answer: Any) -> dict[str, Any]:
        return {
            "role": "assistant",
            "content": [b.model_dump(exclude_none=True) for b in answer.content],
        }

    return result, kept


def test_a_claude_code_session_crosses_to_gpt_4o_and_back_with_its_signatures_intact(
    app: App, claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    ask = _thinking_ask("sess-cross-back")
    result, kept = _tool_loop_helpers()
    # 1. Claude thinks (a signed block) and calls a tool.
    anthropic_fake.enqueue(
        Turn(
            thinking="List first.",
            text="",
            tool_calls=(ToolCall("toolu_01", "Bash", {"command": "ls"}),),
        )
    )
    history: list[Any] = [{"role": "user", "content": "tidy the folder"}]
    first = claude.messages.create(messages=history, **ask)  # type: ignore[arg-type]
    history += [kept(first), result(first, "a.txt b.txt")]
    # 2. Anthropic is down: the session falls back across to OpenAI, translated.
    anthropic_fake.enqueue(*[Fault.status(529)] * 12)
    openai_fake.enqueue(Turn(text="", tool_calls=(ToolCall("call_5", "Bash", {"command": "pwd"}),)))
    second = claude.messages.create(messages=history, **ask)  # type: ignore[arg-type]
    assert [b.type for b in second.content] == ["tool_use"]  # no thinking: gpt-4o's turn
    history += [kept(second), result(second, "/home/me")]
    moved = app.client().get(f"/v1/calls/{_last_call(app)['id']}").json()["moved"]
    assert moved["from_provider"] == "anthropic" and moved["to_provider"] == "openai"
    assert moved["reason"].startswith("anthropic failed (") and "OverloadedError" in moved["reason"]
    # 3. Anthropic is back (its circuits closed again), but the turn's tool loop finishes
    # where it is: moving back mid-turn would cost the cache and this turn's thinking.
    anthropic_fake.clear()
    app.services.dispatcher.health = ModelHealth(app.services.dispatcher.clock)
    openai_fake.enqueue(Turn(text="Two files, in /home/me."))
    third = claude.messages.create(messages=history, **ask)  # type: ignore[arg-type]
    assert third.content[-1].text == "Two files, in /home/me."  # type: ignore[union-attr]
    assert not anthropic_fake.requests
    why = app.client().get(f"/v1/calls/{_last_call(app)['id']}").json()
    assert any("stays on openai (gpt-4o) for the rest of this turn" in r for r in why["reasons"])
    assert why["moved"] is None
    # 4. The person's next turn goes back to Claude, with the thinking it signed intact.
    history += [kept(third), {"role": "user", "content": "now sort them"}]
    anthropic_fake.enqueue(Turn(thinking="Sort by name.", text="Sorted."))
    fourth = claude.messages.create(messages=history, **ask)  # type: ignore[arg-type]
    assert fourth.content[-1].text == "Sorted."  # type: ignore[union-attr]
    sent = json.loads(anthropic_fake.requests[-1].body)
    assert sent["thinking"] == THINKING  # a new turn: thinking stays on
    signed = sent["messages"][1]["content"][0]
    assert signed["type"] == "thinking"
    assert signed["signature"] == anthropic_fake.signature_for("List first.")  # intact
    why = app.client().get(f"/v1/calls/{_last_call(app)['id']}").json()
    assert why["moved"]["from_provider"] == "openai" and why["moved"]["to_provider"] == "anthropic"
    assert why["moved"]["reason"] == "back to the agent's own provider (claude-sonnet-4-5)"


def test_a_turn_whose_provider_fails_mid_loop_crosses_back_without_that_turns_thinking(
    app: App, claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    ask = _thinking_ask("sess-mid-loop")
    result, kept = _tool_loop_helpers()
    # The turn starts on gpt-4o (Anthropic down), and gpt-4o goes down in its tool loop.
    anthropic_fake.enqueue(*[Fault.status(529)] * 12)
    openai_fake.enqueue(Turn(text="", tool_calls=(ToolCall("call_1", "Bash", {"command": "ls"}),)))
    history: list[Any] = [{"role": "user", "content": "tidy the folder"}]
    first = claude.messages.create(messages=history, **ask)  # type: ignore[arg-type]
    history += [kept(first), result(first, "a.txt")]
    anthropic_fake.clear()
    app.services.dispatcher.health = ModelHealth(app.services.dispatcher.clock)
    openai_fake.enqueue(*[Fault.status(500)] * 12)
    anthropic_fake.enqueue(Turn(text="Tidy now."))
    second = claude.messages.create(messages=history, **ask)  # type: ignore[arg-type]
    assert second.content[-1].text == "Tidy now."  # type: ignore[union-attr]
    sent = json.loads(anthropic_fake.requests[-1].body)
    assert "thinking" not in sent  # its last assistant turn has no thinking block to open it
    why = app.client().get(f"/v1/calls/{_last_call(app)['id']}").json()
    assert any(r.startswith("thinking off for this turn") for r in why["reasons"])
    assert why["moved"]["reason"].startswith("openai failed (")


# --- Session directives (issue 22) ------------------------------------------------------------


def test_claude_codes_session_directive_holds_for_its_later_turns(
    app: App, claude: anthropic.Anthropic, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fake, _ = fresh
    fake.enqueue(Turn(text="done"))
    claude.messages.create(
        model="claude-sonnet-4-5", max_tokens=100,
        messages=[
            {"role": "user", "content": "from now on use opus"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "look at utils.py"},
            {"role": "assistant", "content": "looked"},
            {"role": "user", "content": "now fix the failing test"},
        ],
    )  # fmt: skip
    forwarded = json.loads(fake.requests[-1].body)
    assert "opus" in forwarded["model"]
    assert forwarded["messages"][-1]["content"] == "now fix the failing test"
    call = _last_call(app)
    assert call["decided_by"] == "override"


def test_codexs_earlier_revocation_leaves_its_own_model(
    app: App, codex: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _, fake = fresh
    fake.enqueue(Turn(text="done"))
    said = ["from now on use opus", "back to normal routing", "add a --verbose flag"]
    items = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": t}]}
             for t in said]  # fmt: skip
    codex.responses.create(model="gpt-5.1-codex", input=items)  # type: ignore[arg-type]
    assert _sent(fake, "/v1/responses")[-1]["model"] == "gpt-5.1-codex"

"""The HTTP API, in-process: the real application (`cortexd.daemon.assemble`) driven through
httpx2's ASGI transport, with fake providers behind it.

Clients: the official openai SDK, raw HTTP, cortexd's own client library and the `cortex`
CLI (on a socket the application serves in this process). What needs a process of its own
(signals, the socket's modes, the lock, systemd) is in test_daemon.py.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest
from support.app import App, start_app
from support.canary import ANTHROPIC_KEY, OPENAI_KEY
from support.cli import cortex
from support.daemon import remove_home
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn

from cortexd.api.tcp_guard import TcpGuard
from cortexd.client_answers import CallInfo, Health
from cortexd.services import Limits

KEY_A, KEY_O = ANTHROPIC_KEY, OPENAI_KEY


def test_the_openai_sdk_completes(
    sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="The standup went fine.", input_tokens=40, output_tokens=6))
    completion = sdk.chat.completions.create(
        model="task:Meeting summary",
        messages=[{"role": "user", "content": "Summarize: Alice shipped login."}],
    )
    assert completion.choices[0].message.content == "The standup went fine."
    assert completion.usage is not None and completion.usage.prompt_tokens == 40
    cortex = (completion.model_extra or {})["cortex"]
    assert cortex["model"] == "sonnet" and cortex["provider"] == "anthropic"
    assert cortex["task"] == "Meeting summary" and cortex["fallback"] is False
    assert float(cortex["cost_usd"]) > 0
    sent = anthropic_fake.requests[-1]
    assert sent.json["model"] == "claude-sonnet-5-5"


def test_the_openai_sdk_streams(
    sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="one two three four"))
    stream = sdk.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": "Count to four"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish[0].choices[0].finish_reason == "stop"
    assert (finish[0].model_extra or {})["cortex"]["model"] == "sonnet"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_a_failing_primary_is_answered_by_the_fallback(
    sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    anthropic_fake.enqueue(Fault.status(529), Fault.status(529))
    openai_fake.enqueue(Turn(text="from gpt-4o"))
    completion = sdk.chat.completions.create(
        model="task:Complex reasoning", messages=[{"role": "user", "content": "Plan it"}]
    )
    assert completion.choices[0].message.content == "from gpt-4o"
    cortex = (completion.model_extra or {})["cortex"]
    assert cortex["model"] == "gpt-4o" and cortex["fallback"] is True
    assert [a["outcome"] for a in cortex["attempts"]] == ["error", "error", "ok"]


def test_the_whole_chain_failing_is_a_503_naming_each_model(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    anthropic_fake.enqueue(Fault.status(500), Fault.status(500))
    openai_fake.enqueue(Fault.status(500), Fault.status(500))
    body = {"model": "task:Complex reasoning", "messages": [{"role": "user", "content": "x"}]}
    answer = app.client().post("/v1/chat/completions", json=body)
    assert answer.status_code == 503 and "retry-after" in answer.headers
    message = answer.json()["error"]["message"]
    assert "opus: ServerError" in message and "gpt-4o: ServerError" in message


def test_tools_pass_through(sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]) -> None:
    from support.fakes import ToolCall

    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="", tool_calls=(ToolCall("toolu_1", "lookup", {"q": "x"}),)))
    tool = {
        "type": "function",
        "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
    }
    completion = sdk.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": "look x up"}],
        tools=[tool],  # type: ignore[list-item]
    )
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "lookup" and json.loads(call.function.arguments) == {"q": "x"}  # type: ignore[union-attr]
    assert completion.choices[0].finish_reason == "tool_calls"


def test_embeddings_through_the_sdk(
    sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _, openai_fake = fresh
    openai_fake.enqueue(Turn(embedding_dims=8))
    result = sdk.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(result.data) == 2 and len(result.data[0].embedding) == 8


def test_models_route_and_health(app: App) -> None:
    client = app.client()
    ids = {m["id"] for m in client.get("/v1/models").json()["data"]}
    assert {"auto", "sonnet", "opus", "codex", "task:Meeting summary"} <= ids
    plan = client.post(
        "/v1/route", json={"messages": [{"role": "user", "content": "use haiku for this: hi"}]}
    ).json()
    assert plan.get("chain") == ["haiku"] and plan["decided_by"] == "override", plan
    health = client.get("/v1/health").json()
    assert health["status"] == "ok" and health["routing_file"]["generation"] >= 1
    assert health["keys_missing"] == []
    assert KEY_A not in json.dumps(health) and KEY_O not in json.dumps(health)


def _body(**fields: object) -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": "x"}], **fields}).encode()


BAD = [
    (b"{not json", 400, None),
    (b"[]", 400, None),
    (_body(messages=[]), 400, "messages"),
    (_body(messages="hi"), 400, "messages"),
    (_body(messages=[{"role": "wizard", "content": "x"}]), 400, "messages.0.role"),
    (_body(messages=[{"role": "user", "content": 5}]), 400, None),
    (_body(model="sonet"), 400, "model"),
    (_body(model="task:Nope"), 400, "model"),
    (_body(temperature=9), 400, "temperature"),
    (_body(max_tokens="many"), 400, "max_tokens"),
    (_body(base_url="http://evil"), 400, "base_url"),
    (_body(api_key="sk-x"), 400, "api_key"),
    # Wrong types inside the objects pydantic leaves open (found by review):
    (_body(tool_choice={"function": "x"}), 400, None),
    (_body(tool_choice=["auto"]), 400, None),
    (_body(response_format={"type": "json_schema", "json_schema": "x"}), 400, None),
    (_body(response_format={"type": "json_schema", "json_schema": ["x"]}), 400, None),
    (_body(response_format={"type": "xml"}), 400, None),
    (_body(messages=[{"role": "user", "content": [{"type": "image_url"}]}]), 400, None),
    (_body(messages=[{"role": "tool", "content": "x"}]), 400, None),
    (_body(stream_options="yes"), 400, "stream_options"),
    (b"[" * 100_000 + b"]" * 100_000, 400, None),
]


def test_the_anthropic_sdk_lists_the_models_in_its_own_shape(app: App) -> None:
    client = anthropic.Anthropic(
        base_url="http://cortexd", api_key="unused", http_client=app.client(), max_retries=0
    )
    page = client.models.list()
    ids = [m.id for m in page.data]
    assert {"auto", "sonnet", "opus", "codex", "task:Meeting summary"} <= set(ids)
    assert page.has_more is False and page.first_id == "auto" and page.last_id == ids[-1]
    sonnet = next(m for m in page.data if m.id == "sonnet")
    assert sonnet.type == "model" and "claude-sonnet-5-5" in sonnet.display_name
    assert sonnet.created_at.year == 1970 and sonnet.lifecycle == "active"
    assert sonnet.max_input_tokens and sonnet.max_input_tokens > 0
    assert list(client.models.list()) == page.data  # one page: the SDK asks for no other
    # The openai SDK, which sends no anthropic-version, still gets OpenAI's list.
    assert app.sdk().models.list().data[0].object == "model"


@pytest.mark.parametrize(("body", "status", "param"), BAD)
def test_bad_input_gets_an_openai_error(
    app: App, body: bytes, status: int, param: str | None
) -> None:
    answer = app.client().post(
        "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["message"] and error["type"] == "invalid_request_error"
    if param:
        assert error["param"] == param
    if b"sonet" in body:
        assert "sonnet" in error["message"]  # the valid names are listed


def test_an_oversized_body_is_refused_before_it_is_read(app: App) -> None:
    sent: list[bytes] = []

    def body() -> Iterator[bytes]:
        # The head announces 64 MiB; only its first byte exists, and reading on would fail.
        sent.append(b"{")
        yield b"{"
        raise AssertionError("the daemon read past the head of an oversized body")

    answer = app.client().post(
        "/v1/chat/completions",
        content=body(),
        headers={"content-type": "application/json", "content-length": str(64 * 1024 * 1024)},
    )
    assert answer.status_code == 413 and "over the" in answer.json()["error"]["message"]
    assert sent == []  # refused on the announced length, before a byte of the body was read
    # On the wire: raw bytes, since an HTTP client would not announce a body it does not send.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.settimeout(10)
        raw.connect(str(app.socket))
        raw.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: cortexd\r\n"
            b"Content-Type: application/json\r\nContent-Length: 67108864\r\n\r\n{"
        )
        head = raw.recv(4096).decode()
    assert head.startswith("HTTP/1.1 413")


def test_the_root_answers_a_warm_up(app: App) -> None:
    client = app.client()
    head = client.head("/")  # Claude Code's first request, before any call
    assert head.status_code == 200 and head.content == b""
    assert client.get("/").json()["name"] == "cortexd"
    # Over TCP without the token it is refused like any request (Claude Code ignores it).
    guarded = app.client(front=TcpGuard(app.app, "t" * 43, 8765))
    answer = guarded.head("http://127.0.0.1:8765/", headers={"Host": "127.0.0.1:8765"})
    assert answer.status_code == 401


def test_unknown_paths_and_methods(app: App) -> None:
    client = app.client()
    assert client.get("/v1/chat/completions").status_code == 405
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404 and "error" in missing.json()


def test_without_keys_it_serves_and_names_the_missing_keys() -> None:
    running = start_app(env={})
    try:
        client = running.client()
        assert client.get("/v1/models").status_code == 200
        assert (
            client.post(
                "/v1/route", json={"messages": [{"role": "user", "content": "hi"}]}
            ).status_code
            == 200
        )
        health = client.get("/v1/health").json()
        assert health["keys_missing"] == ["anthropic", "openai"]
        body = {"model": "task:Complex reasoning", "messages": [{"role": "user", "content": "x"}]}
        answer = client.post("/v1/chat/completions", json=body)
        assert answer.status_code == 503
        message = answer.json()["error"]["message"]
        assert "ANTHROPIC_API_KEY" in message and "OPENAI_API_KEY" in message
    finally:
        running.stop()
        remove_home(running.home)


def test_cortex_ask_streams_and_says_who_answered(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="Paris is the capital."))
    result = cortex(app.socket, "ask", "--task", "Meeting summary", "-", stdin="Capital of France?")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Paris is the capital."
    assert "sonnet via anthropic, Meeting summary" in result.stderr and "$" in result.stderr
    db = sqlite3.connect(app.home / "state" / "ledger.sqlite3")
    try:
        row = db.execute("SELECT client, id FROM calls ORDER BY started_at DESC").fetchone()
    finally:
        db.close()
    client, call_id = row
    assert client == "cortex"  # the CLI's own calls are the CLI's, not python-httpx2's
    # The footer names the call, and `cortex why` takes what it shows.
    shown = result.stderr.rsplit("call ", 1)[1].strip().rstrip("]")
    assert call_id.startswith(shown) and len(shown) == 12
    why = cortex(app.socket, "why", shown)
    assert why.returncode == 0 and call_id in why.stdout, why.stderr


def test_cortex_ask_refuses_an_empty_prompt_from_stdin_or_the_argument(app: App) -> None:
    for args, stdin in ((("ask",), ""), (("ask", "-"), "  \n"), (("ask", "  "), "")):
        result = cortex(app.socket, *args, stdin=stdin)
        assert result.returncode == 2, result
        assert "is empty: nothing to ask" in result.stderr


def test_cortex_health_and_a_daemon_that_is_not_running(app: App, tmp_path: Path) -> None:
    result = cortex(app.socket, "health", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["status"] == "ok"
    down = cortex(tmp_path / "none.sock", "health")
    assert down.returncode == 1
    assert "cortexd is not running" in down.stderr and "start it with `cortexd`" in down.stderr


def test_beyond_the_calls_in_flight_the_answer_is_503_with_retry_after(
    fakes: tuple[FakeAnthropic, FakeOpenAI],
) -> None:
    anthropic_fake, _ = fakes
    env = {"ANTHROPIC_API_KEY": KEY_A, "ANTHROPIC_BASE_URL": anthropic_fake.base_url}
    running = start_app(env=env, limits=Limits(max_in_flight=1))
    try:
        anthropic_fake.clear()
        anthropic_fake.enqueue(Turn(text=" ".join("abcdefghijklmnop"), chunk_delay=0.3))
        body = {"model": "sonnet", "stream": True, "messages": [{"role": "user", "content": "x"}]}
        # A stream read as it comes: on the socket, where a connection stays open.
        with running.socket_client().stream("POST", "/v1/chat/completions", json=body) as first:
            assert first.status_code == 200, first.read()
            lines = first.iter_lines()  # kept: a dropped iterator hangs up, ending the call
            next(lines)  # the stream is under way
            second = running.client().post("/v1/chat/completions", json=body)
            assert second.status_code == 503 and second.headers["retry-after"] == "1"
            assert second.json()["error"]["code"] == "busy"
            assert [line for line in lines if line][-1] == "data: [DONE]"
        anthropic_fake.enqueue(Turn(text="later"))
        later = running.client().post("/v1/chat/completions", json={**body, "stream": False})
        assert later.status_code == 200  # the finished stream no longer counts
    finally:
        running.stop()
        remove_home(running.home)


def test_a_client_that_sends_its_headers_too_slowly_is_cut_off() -> None:
    running = start_app(env={})
    running.header_timeout_s = 1.0  # the daemon's own is HEADER_TIMEOUT_S (10 s)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as slow:
            slow.connect(str(running.socket))
            slow.sendall(b"POST /v1/route HTTP/1.1\r\nHost: cortexd\r\n")  # and then nothing
            slow.settimeout(running.header_timeout_s + 10)
            started = time.monotonic()
            assert slow.recv(1024) == b""  # closed by the server
            assert time.monotonic() - started < running.header_timeout_s + 5
        assert running.socket_client().get("/v1/health").status_code == 200
    finally:
        running.stop()
        remove_home(running.home)


TOKEN = "t" * 43
GOOD_HOST = {"Host": "127.0.0.1:8765"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": f"Bearer {TOKEN}"}, 200),
        ({"Authorization": f"bearer {TOKEN}"}, 200),  # RFC 7235: the scheme's case is free
        ({"Authorization": f"BEARER   {TOKEN}"}, 200),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Basic {TOKEN}"}, 401),
        ({"Authorization": f"Bearer{TOKEN}"}, 401),
        ({"x-api-key": TOKEN}, 200),  # what Anthropic's SDK and Claude Code send for a key
        ({"x-api-key": "wrong"}, 401),
        ({"Authorization": "Bearer wrong", "x-api-key": TOKEN}, 200),
        ({"x-api-key": TOKEN, "Host": "evil.example:8765"}, 403),
        ({"x-api-key": TOKEN, "Origin": "https://evil.example"}, 403),
        ({"x-api-key": TOKEN, "Origin": "http://127.0.0.1:8765"}, 200),
    ],
)
def test_the_tcp_listener_takes_its_token_as_a_bearer_or_an_api_key(
    app: App, headers: dict[str, str], status: int
) -> None:
    guarded = TcpGuard(app.app, TOKEN, 8765)
    client = app.client(front=guarded)
    answer = client.get("http://127.0.0.1:8765/v1/health", headers={**GOOD_HOST, **headers})
    assert answer.status_code == status, answer.text
    if status == 401:
        error = answer.json()["error"]
        assert error["type"] == "authentication_error" and "x-api-key" in error["message"]
    # Without a port (the Unix socket), no token is asked for.
    assert app.client(front=guarded).get("/v1/health").status_code == 200


def test_cortex_route_asks_the_running_daemon(app: App) -> None:
    result = cortex(app.socket, "route", "--json", "use haiku for this: hi")
    plan = json.loads(result.stdout)
    assert plan["chain"] == ["haiku"]
    assert plan["routing_file"] == str(app.home / "context" / "model-routing.md")
    local = cortex(app.socket, "route", "--json", "--local", "use haiku for this: hi")
    assert json.loads(local.stdout)["routing_file"] != plan["routing_file"]


async def _async_client_round_trip(socket: Path) -> tuple[Health, list[str], CallInfo | None]:
    from cortexd.client import AsyncClient, chat_body

    async with AsyncClient(socket) as client:
        health = await client.health()
        body = chat_body([{"role": "user", "content": "hi"}], model="sonnet", stream=True)
        chunks = [c async for c in client.stream(body)]
    # cortexd's account comes on the answer's closing chunks.
    return health, [c.text for c in chunks], next((c.cortex for c in chunks if c.cortex), None)


def test_the_async_client_library(app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]) -> None:
    import asyncio

    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="hello there"))
    health, texts, cortex = asyncio.run(_async_client_round_trip(app.socket))
    assert health.status == "ok" and health.pid > 1 and health.routing_file.generation >= 1
    assert "".join(texts) == "hello there"
    assert cortex is not None and cortex.model == "sonnet" and cortex.provider == "anthropic"


def test_the_client_library_answers_typed_objects(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    from cortexd.client import Client, chat_body

    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="the answer"))
    with Client(app.socket) as client:
        answer = client.chat(chat_body([{"role": "user", "content": "hi"}], model="sonnet"))
        plan = client.route(chat_body([{"role": "user", "content": "use haiku for this: hi"}]))
    assert answer.text == "the answer" and answer.finish_reason == "stop"
    assert answer.cortex.model == "sonnet" and answer.cortex.id is not None
    assert answer.usage is not None and answer.usage.completion_tokens > 0
    assert answer.cortex.cost_usd is not None and answer.cortex.cost_usd > 0
    assert answer.json["choices"][0]["message"]["content"] == "the answer"  # the whole answer
    assert plan.primary == "haiku" and plan.decided_by == "override"
    assert plan.override is not None and plan.override.model == "haiku"


def test_a_second_opinion_through_the_api(
    sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    verdict = '{"agree": false, "differences": ["4 vs 5"], "summary": "They differ."}'
    anthropic_fake.enqueue(Turn(text="4"), Turn(text=verdict))  # the answer, then the judge
    openai_fake.enqueue(Turn(text="5"))
    completion = sdk.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": "2 + 2?"}],
        extra_body={"cortex": {"second_opinion": True, "task": "Code review"}},
    )
    opinion = (completion.model_extra or {})["cortex"]["second_opinion"]
    assert completion.choices[0].message.content == "4"
    assert opinion["status"] == "disagree" and opinion["answer"] == "5"
    assert opinion["verdict"]["differences"] == ["4 vs 5"]
    anthropic_fake.enqueue(Turn(text="4"), Turn(text=verdict))
    openai_fake.enqueue(Turn(text="5"))
    stream = sdk.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": "2 + 2?"}],
        stream=True,
        extra_body={"cortex": {"second_opinion": True}},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "4"
    finish = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    assert (finish.model_extra or {})["cortex"]["second_opinion"]["status"] == "disagree"


def test_cortex_models_shows_the_daemons_catalog(app: App) -> None:
    result = cortex(app.socket, "models", "--json")
    rows = {r["alias"]: r for r in json.loads(result.stdout)}
    assert rows["sonnet"]["model_id"] == "claude-sonnet-5-5"
    assert rows["sonnet"]["input_usd_per_mtok"] is not None
    assert rows["gpt-4o"]["provider"] == "openai"


def test_embeddings_with_a_chat_model_is_the_requests_error(app: App) -> None:
    answer = app.client().post("/v1/embeddings", json={"model": "sonnet", "input": "x"})
    assert answer.status_code == 400 and "embeddings" in answer.json()["error"]["message"]

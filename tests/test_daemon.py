"""The real cortexd process on a temporary socket, with fake providers behind it.

Clients: the official openai SDK (through an httpx2 Unix-socket transport) and raw HTTP.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import openai
import pytest
from support.canary import ANTHROPIC_KEY, OPENAI_KEY
from support.daemon import CORTEXD, Daemon, remove_home, short_home, start_daemon
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn

from cortexd.cli.reload import reload_daemon, wait_for_generation

KEY_A, KEY_O = ANTHROPIC_KEY, OPENAI_KEY


def test_the_openai_sdk_completes_through_the_socket(
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


def test_the_openai_sdk_streams_through_the_socket(
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
    daemon: Daemon, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    anthropic_fake.enqueue(Fault.status(500), Fault.status(500))
    openai_fake.enqueue(Fault.status(500), Fault.status(500))
    body = {"model": "task:Complex reasoning", "messages": [{"role": "user", "content": "x"}]}
    answer = daemon.client().post("/v1/chat/completions", json=body)
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


def test_models_route_and_health(daemon: Daemon) -> None:
    client = daemon.client()
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


@pytest.mark.parametrize(("body", "status", "param"), BAD)
def test_bad_input_gets_an_openai_error(
    daemon: Daemon, body: bytes, status: int, param: str | None
) -> None:
    answer = daemon.client().post(
        "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["message"] and error["type"] == "invalid_request_error"
    if param:
        assert error["param"] == param
    if b"sonet" in body:
        assert "sonnet" in error["message"]  # the valid names are listed


def test_an_oversized_body_is_refused_before_it_is_read(daemon: Daemon) -> None:
    # Raw bytes: an HTTP client would not announce a body it does not send.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.settimeout(10)
        raw.connect(str(daemon.socket))
        raw.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: cortexd\r\n"
            b"Content-Type: application/json\r\nContent-Length: 67108864\r\n\r\n{"
        )
        answer = _read_answer(raw)
    assert answer.startswith("HTTP/1.1 413") and "over the" in answer


def _read_answer(raw: socket.socket) -> str:
    """A whole HTTP answer from a raw socket: its head and body may come in separate reads."""
    data = b""
    while True:
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = next(
                (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                 if line.lower().startswith(b"content-length:")),
                0,
            )
            if len(body) >= length:
                return data.decode()
        chunk = raw.recv(4096)
        if not chunk:
            return data.decode()
        data += chunk


def test_unknown_paths_and_methods(daemon: Daemon) -> None:
    client = daemon.client()
    assert client.get("/v1/chat/completions").status_code == 405
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404 and "error" in missing.json()


def test_the_socket_and_its_folder_are_private(daemon: Daemon) -> None:
    assert stat.S_IMODE(daemon.socket.stat().st_mode) == 0o600
    assert stat.S_IMODE(daemon.socket.parent.stat().st_mode) == 0o700


def test_a_second_instance_exits_naming_the_first(daemon: Daemon) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CORTEX_SOCKET"}
    env["CORTEX_HOME"] = str(daemon.home)
    second = subprocess.run([CORTEXD], env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 1
    assert f"already running (pid {daemon.process.pid})" in second.stderr
    assert daemon.client().get("/v1/health").status_code == 200


def test_without_keys_it_serves_and_names_the_missing_keys() -> None:
    home = short_home()
    running = start_daemon(home, {})
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
        remove_home(home)


def test_sighup_reloads_a_good_file_and_keeps_serving_through_a_bad_one() -> None:
    home = short_home()
    running = start_daemon(home, {})
    try:
        client = running.client()
        routing = home / "context" / "model-routing.md"
        text = routing.read_text()
        aliases = "\n## Model Aliases\n| Alias | Provider | Model ID |\n|---|---|---|\n"
        aliases += "| mini | anthropic | claude-haiku-5-5 |\n"
        good = text.replace("| Bulk operations | haiku | — |", "| Bulk operations | sonnet | — |")
        routing.write_text(good + aliases)
        running.signal(signal.SIGHUP)  # the file watcher may have reloaded it already
        _until(lambda: client.get("/v1/health").json()["routing_file"]["generation"] >= 2)
        good_generation = client.get("/v1/health").json()["routing_file"]["generation"]
        # The new alias is known to the router and to dispatch (here: no key to call it).
        body = {"model": "mini", "messages": [{"role": "user", "content": "x"}]}
        refused = client.post("/v1/chat/completions", json=body).json()["error"]["message"]
        assert "mini: skipped: no API key" in refused
        routing.write_text(
            text.replace(
                "| Meeting summary | sonnet | opus |", "| Meeting summary | sonet | opus |"
            )
        )
        running.signal(signal.SIGHUP)
        _until(lambda: client.get("/v1/health").json()["routing_file"]["last_error"] is not None)
        health = client.get("/v1/health").json()
        assert health["routing_file"]["generation"] == good_generation
        assert "sonet" in health["routing_file"]["last_error"]
        plan = client.post(
            "/v1/route",
            json={"model": "task:Bulk operations", "messages": [{"role": "user", "content": "x"}]},
        ).json()
        assert plan["chain"] == ["sonnet"]  # the good edit still serves
    finally:
        running.stop()
        remove_home(home)


def test_a_stale_socket_after_kill_9_is_replaced() -> None:
    home = short_home()
    first = start_daemon(home, {})
    try:
        first.process.kill()
        first.process.wait()
        assert first.socket.exists()  # left behind by the crash
        second = start_daemon(home, {})
        assert second.client().get("/v1/health").status_code == 200
        second.stop()
        assert not second.socket.exists()
    finally:
        first.stop()
        remove_home(home)


def test_sigterm_during_a_stream_lets_it_finish(
    fakes: tuple[FakeAnthropic, FakeOpenAI],
) -> None:
    anthropic_fake, openai_fake = fakes
    home = short_home()
    env = {"ANTHROPIC_API_KEY": KEY_A, "ANTHROPIC_BASE_URL": anthropic_fake.base_url}
    running = start_daemon(home, env)
    try:
        anthropic_fake.clear()
        anthropic_fake.enqueue(Turn(text="a b c d e f g h i j", chunk_delay=0.1))
        body = {"model": "sonnet", "stream": True, "messages": [{"role": "user", "content": "x"}]}
        lines: list[str] = []
        with running.client().stream("POST", "/v1/chat/completions", json=body) as answer:
            for line in answer.iter_lines():
                if not line:
                    continue
                if not lines:
                    threading.Thread(target=running.signal, args=(signal.SIGTERM,)).start()
                lines.append(line)
        assert lines[-1] == "data: [DONE]"
        text = "".join(
            json.loads(line[5:])["choices"][0]["delta"].get("content", "")
            for line in lines
            if line.startswith("data: {") and json.loads(line[5:])["choices"]
        )
        assert text == "a b c d e f g h i j"
        running.wait()
        assert not running.socket.exists()
    finally:
        running.stop()
        remove_home(home)


def _until(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_the_socket_path_must_fit_af_unix(tmp_path: Path) -> None:
    long = Path("/tmp") / ("x" * 120) / "s.sock"
    env = {k: v for k, v in os.environ.items()}
    env.update({"CORTEX_HOME": str(tmp_path), "CORTEX_SOCKET": str(long)})
    result = subprocess.run([CORTEXD], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "too long" in result.stderr


def _cortex(
    daemon: Daemon, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    cortex = str(Path(CORTEXD).with_name("cortex"))
    env = {**os.environ, "CORTEX_SOCKET": str(daemon.socket)}
    return subprocess.run(
        [cortex, *args], env=env, capture_output=True, text=True, timeout=60, input=stdin
    )


def test_cortex_ask_streams_and_says_who_answered(
    daemon: Daemon, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="Paris is the capital."))
    result = _cortex(daemon, "ask", "--task", "Meeting summary", "-", stdin="Capital of France?")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Paris is the capital."
    assert "sonnet via anthropic, Meeting summary" in result.stderr and "$" in result.stderr


def test_cortex_health_and_a_daemon_that_is_not_running(daemon: Daemon, tmp_path: Path) -> None:
    result = _cortex(daemon, "health", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["status"] == "ok"
    cortex = str(Path(CORTEXD).with_name("cortex"))
    env = {**os.environ, "CORTEX_SOCKET": str(tmp_path / "none.sock")}
    down = subprocess.run([cortex, "health"], env=env, capture_output=True, text=True, timeout=60)
    assert down.returncode == 1
    assert "cortexd is not running" in down.stderr and "start it with `cortexd`" in down.stderr


def test_fuzzing_the_api_never_crashes_it_nor_answers_500(
    daemon: Daemon, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    import random

    rng = random.Random(20261202)
    values: list[object] = [None, True, 0, -1, 2**40, 3.5, "", "x" * 300, [], {}, [1], {"a": 1}]

    def noise(depth: int = 0) -> object:
        pick = rng.random()
        if depth < 3 and pick < 0.2:
            return [noise(depth + 1) for _ in range(rng.randint(0, 3))]
        if depth < 3 and pick < 0.4:
            keys = ["role", "content", "model", "type", "text", "image_url", "function", "x"]
            return {rng.choice(keys): noise(depth + 1) for _ in range(rng.randint(0, 3))}
        return rng.choice(values)

    fields = ["model", "messages", "stream", "tools", "tool_choice", "response_format",
              "max_tokens", "temperature", "stop", "cortex", "user", "top_p"]  # fmt: skip
    client = daemon.client(timeout=30)
    statuses: dict[int, int] = {}
    for i in range(1500):
        kind = i % 3
        if kind == 0:  # random JSON of the right outline
            body = {f: noise() for f in rng.sample(fields, rng.randint(0, len(fields)))}
            if rng.random() < 0.5:
                body["messages"] = [{"role": "user", "content": noise()}]
            content = json.dumps(body).encode()
        elif kind == 1:  # random bytes
            content = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
        else:  # valid JSON, wrong types everywhere
            content = json.dumps(noise()).encode()
        path = rng.choice(["/v1/chat/completions", "/v1/route", "/v1/embeddings"])
        answer = client.post(path, content=content, headers={"content-type": "application/json"})
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        assert answer.status_code != 500, (content[:200], answer.text[:300])
        if answer.status_code >= 400:
            assert "error" in answer.json()
    assert daemon.process.poll() is None
    assert daemon.client().get("/v1/health").status_code == 200
    assert statuses.get(400, 0) > 1000  # most of it is refused as a bad request


def test_it_tells_systemd_when_ready_and_when_stopping() -> None:
    home = short_home()
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(home / "notify"))
    notify.settimeout(20)
    running = start_daemon(home, {"NOTIFY_SOCKET": str(home / "notify")})
    try:
        ready = notify.recv(4096).decode()
        assert "READY=1" in ready and "STATUS=serving" in ready
        running.signal(signal.SIGTERM)
        assert "STOPPING=1" in notify.recv(4096).decode()
        running.wait()
    finally:
        notify.close()
        running.stop()
        remove_home(home)


def test_socket_activation_serves_the_socket_it_was_handed() -> None:
    home = short_home()
    path = home / "activated.sock"
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listening.bind(str(path))
    listening.listen(16)
    fd = listening.fileno()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update({"CORTEX_HOME": str(home), "LISTEN_FDS": "1"})
    log = (home / "log").open("wb")
    process = subprocess.Popen(
        ["sh", "-c", f'LISTEN_PID=$$ exec "{CORTEXD}"'],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        # fd 3 is where systemd puts the first socket; keep it past close_fds.
        pass_fds=(fd, 3) if fd != 3 else (3,),
        preexec_fn=lambda: os.dup2(fd, 3),
    )
    listening.close()  # the daemon holds it now
    running = Daemon(home, path, process, home / "log")
    try:
        # The socket accepts (into its backlog) before the daemon runs: wait for its word.
        try:
            _until(lambda: "serving on the socket systemd passed" in running.output(), 30)
        except AssertionError:
            raise AssertionError(running.output()) from None
        assert running.client().get("/v1/health").json()["status"] == "ok"
        assert not (home / "run" / "cortexd.sock").exists()  # it bound nothing itself
        # No lock to read: `cortex` finds the daemon's pid by asking it, and reloads it.
        before = running.client().get("/v1/health").json()["routing_file"]
        assert reload_daemon(path) == process.pid
        assert wait_for_generation(path, before)["generation"] == 2
        running.signal(signal.SIGTERM)
        running.wait()
        assert path.exists()  # the service manager's socket is not ours to remove
    finally:
        log.close()
        running.stop()
        remove_home(home)


def test_beyond_the_calls_in_flight_the_answer_is_503_with_retry_after(
    fakes: tuple[FakeAnthropic, FakeOpenAI],
) -> None:
    anthropic_fake, _ = fakes
    home = short_home()
    env = {"ANTHROPIC_API_KEY": KEY_A, "ANTHROPIC_BASE_URL": anthropic_fake.base_url}
    running = start_daemon(home, env, "--max-in-flight", "1")
    try:
        anthropic_fake.clear()
        anthropic_fake.enqueue(Turn(text=" ".join("abcdefghijklmnop"), chunk_delay=0.3))
        body = {"model": "sonnet", "stream": True, "messages": [{"role": "user", "content": "x"}]}
        with running.client().stream("POST", "/v1/chat/completions", json=body) as first:
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
        remove_home(home)


def test_a_client_that_sends_its_headers_too_slowly_is_cut_off(daemon: Daemon) -> None:
    import cortexd.server as server

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as slow:
        slow.connect(str(daemon.socket))
        slow.sendall(b"POST /v1/route HTTP/1.1\r\nHost: cortexd\r\n")  # and then nothing
        slow.settimeout(server.HEADER_TIMEOUT_S + 10)
        started = time.monotonic()
        assert slow.recv(1024) == b""  # closed by the daemon
        assert time.monotonic() - started < server.HEADER_TIMEOUT_S + 5
    assert daemon.client().get("/v1/health").status_code == 200


def test_the_loopback_tcp_listener_wants_the_token_and_its_own_host() -> None:
    home = short_home()
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = start_daemon(home, {}, "--tcp", f"127.0.0.1:{port}")
    try:
        token_file = home / "state" / "tcp-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        url = f"http://127.0.0.1:{port}/v1/health"
        with httpx2.Client(timeout=10) as tcp:
            assert tcp.get(url).status_code == 401
            assert tcp.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
            good = {"Authorization": f"Bearer {token}"}
            assert tcp.get(url, headers=good).json()["status"] == "ok"
            rebound = tcp.get(url, headers={**good, "Host": f"evil.example:{port}"})
            assert rebound.status_code == 403 and "Host" in rebound.json()["error"]["message"]
            page = tcp.get(url, headers={**good, "Origin": "https://evil.example"})
            assert page.status_code == 403 and "Origin" in page.json()["error"]["message"]
        # The Unix socket needs no token.
        assert running.client().get("/v1/health").status_code == 200
    finally:
        running.stop()
        remove_home(home)


def test_the_tcp_listener_is_for_loopback_only(tmp_path: Path) -> None:
    env = {**os.environ, "CORTEX_HOME": str(short_home())}
    result = subprocess.run(
        [CORTEXD, "--tcp", "0.0.0.0:8765"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1 and "only loopback" in result.stderr


def test_cortex_route_asks_the_running_daemon(daemon: Daemon) -> None:
    result = _cortex(daemon, "route", "--json", "use haiku for this: hi")
    plan = json.loads(result.stdout)
    assert plan["chain"] == ["haiku"]
    assert plan["routing_file"] == str(daemon.home / "context" / "model-routing.md")
    local = _cortex(daemon, "route", "--json", "--local", "use haiku for this: hi")
    assert json.loads(local.stdout)["routing_file"] != plan["routing_file"]


async def _async_client_round_trip(daemon: Daemon) -> tuple[dict[str, object], list[str]]:
    from cortexd.client import AsyncClient, chat_body

    async with AsyncClient(daemon.socket) as client:
        health = await client.health()
        body = chat_body([{"role": "user", "content": "hi"}], model="sonnet", stream=True)
        texts = [
            c["choices"][0]["delta"].get("content") or ""
            async for c in client.stream(body)
            if c.get("choices")
        ]
    return health, texts


def test_the_async_client_library(daemon: Daemon, fresh: tuple[FakeAnthropic, FakeOpenAI]) -> None:
    import asyncio

    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="hello there"))
    health, texts = asyncio.run(_async_client_round_trip(daemon))
    assert health["status"] == "ok" and "".join(texts) == "hello there"


def test_the_watchdog_is_pinged_from_the_event_loop() -> None:
    home = short_home()
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(home / "notify"))
    notify.settimeout(20)
    running = start_daemon(home, {"NOTIFY_SOCKET": str(home / "notify"), "WATCHDOG_USEC": "400000"})
    try:
        seen = [notify.recv(4096).decode() for _ in range(4)]
        assert sum("WATCHDOG=1" in message for message in seen) >= 2
    finally:
        notify.close()
        running.stop()
        remove_home(home)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another user")
def test_a_connection_from_another_user_is_closed(daemon: Daemon) -> None:
    # Let the other user past the file modes: the uid check must hold on its own.
    opened = [daemon.home, daemon.socket.parent, daemon.socket]
    modes = [stat.S_IMODE(p.stat().st_mode) for p in opened]
    for path in opened:
        path.chmod(0o777)
    try:
        code = "\n".join(
            [
                "import os, socket, sys",
                "os.setgid(65534); os.setuid(65534)",
                "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)",
                "try:",
                "    s.sendall(b'GET /v1/health HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')",
                "    print('answered' if s.recv(100) else 'closed')",
                "except (ConnectionResetError, BrokenPipeError):",  # closed before or after
                "    print('closed')",
            ]
        )
        result = subprocess.run(
            [sys.executable, "-c", code, str(daemon.socket)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert result.stdout.strip() == "closed", result.stderr  # closed without an answer
        assert "refused a connection from uid 65534" in daemon.output()
    finally:
        for path, mode in zip(opened, modes, strict=True):
            path.chmod(mode)


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


def test_cortex_models_shows_the_daemons_catalog(daemon: Daemon) -> None:
    result = _cortex(daemon, "models", "--json")
    rows = {r["alias"]: r for r in json.loads(result.stdout)}
    assert rows["sonnet"]["model_id"] == "claude-sonnet-5-5"
    assert rows["sonnet"]["input_usd_per_mtok"] is not None
    assert rows["gpt-4o"]["provider"] == "openai"


def test_embeddings_with_a_chat_model_is_the_requests_error(daemon: Daemon) -> None:
    answer = daemon.client().post("/v1/embeddings", json={"model": "sonnet", "input": "x"})
    assert answer.status_code == 400 and "embeddings" in answer.json()["error"]["message"]


def test_a_content_length_that_is_no_number_is_a_bad_request(daemon: Daemon) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.settimeout(10)
        raw.connect(str(daemon.socket))
        raw.sendall(b"POST /v1/route HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n{}")
        head = raw.recv(4096).decode()
    assert head.startswith("HTTP/1.1 400")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tcp", "127.0.0.1:70000"], "HOST:PORT"),
        (["--key-file", "/nonexistent/keys.env"], "does not exist"),
        (["--max-in-flight", "0"], "at least 1"),
    ],
)
def test_bad_start_up_options_exit_1_and_leave_no_socket(args: list[str], message: str) -> None:
    home = short_home()
    try:
        env = {k: v for k, v in os.environ.items() if k != "CORTEX_SOCKET"}
        env["CORTEX_HOME"] = str(home)
        result = subprocess.run(
            [CORTEXD, *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode in (1, 2) and message in result.stderr
        assert not (home / "run" / "cortexd.sock").exists()
    finally:
        remove_home(home)


def test_a_runtime_folder_owned_by_a_symlink_is_refused() -> None:
    home = short_home()
    try:
        elsewhere = home / "elsewhere"
        elsewhere.mkdir()
        (home / "run").symlink_to(elsewhere)
        env = {k: v for k, v in os.environ.items() if k != "CORTEX_SOCKET"}
        env["CORTEX_HOME"] = str(home)
        result = subprocess.run([CORTEXD], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and "not a plain folder" in result.stderr
        assert list(elsewhere.iterdir()) == []
    finally:
        remove_home(home)

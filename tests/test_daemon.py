"""The real cortexd process, where a process is the point: its socket and the modes, the
lock and a second instance, the peer-uid check, signals (SIGHUP, SIGTERM during a stream,
kill -9), systemd's readiness, watchdog and socket activation, the TCP listener, and start-up
options. Every other HTTP behaviour is tested in-process (test_api.py).

Clients: raw HTTP on the socket and httpx2's Unix-socket transport.
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
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from support.canary import ANTHROPIC_KEY, OPENAI_KEY
from support.daemon import CORTEXD, Daemon, remove_home, short_home, start_daemon
from support.fakes import FakeAnthropic, FakeOpenAI, Turn
from support.waiting import wait_for

from cortexd.cli.reload import reload_daemon, wait_for_generation

KEY_A, KEY_O = ANTHROPIC_KEY, OPENAI_KEY


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    """One real cortexd (no keys) for the tests of its socket, one per module."""
    home = short_home()
    running = start_daemon(home, {}, "--keep-prompts", "7")
    yield running
    running.stop()
    remove_home(home)


def test_start_up_options_reach_the_application(daemon: Daemon) -> None:
    # --max-in-flight is seen at work in test_sigterm_during_a_stream_lets_it_finish.
    assert daemon.client().get("/v1/health").json()["ledger"]["keeps_prompts_days"] == 7


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


def test_sighup_reloads_a_good_file_and_keeps_serving_through_a_bad_one(daemon: Daemon) -> None:
    running = daemon
    client = running.client()
    routing = running.home / "context" / "model-routing.md"
    text = routing.read_text()
    aliases = "\n## Model Aliases\n| Alias | Provider | Model ID |\n|---|---|---|\n"
    aliases += "| mini | anthropic | claude-haiku-5-5 |\n"
    good = text.replace("| Bulk operations | haiku | — |", "| Bulk operations | sonnet | — |")
    routing.write_text(good + aliases)
    running.signal(signal.SIGHUP)  # the file watcher may have reloaded it already
    wait_for(
        lambda: client.get("/v1/health").json()["routing_file"]["generation"] >= 2, "the reload"
    )
    good_generation = client.get("/v1/health").json()["routing_file"]["generation"]
    # The new alias is known to the router and to dispatch (here: no key to call it).
    body = {"model": "mini", "messages": [{"role": "user", "content": "x"}]}
    refused = client.post("/v1/chat/completions", json=body).json()["error"]["message"]
    assert "mini: skipped: no API key" in refused
    routing.write_text(
        text.replace("| Meeting summary | sonnet | opus |", "| Meeting summary | sonet | opus |")
    )
    running.signal(signal.SIGHUP)
    wait_for(
        lambda: client.get("/v1/health").json()["routing_file"]["last_error"] is not None,
        "the reload error",
    )
    health = client.get("/v1/health").json()
    assert health["routing_file"]["generation"] == good_generation
    assert "sonet" in health["routing_file"]["last_error"]
    plan = client.post(
        "/v1/route",
        json={"model": "task:Bulk operations", "messages": [{"role": "user", "content": "x"}]},
    ).json()
    assert plan["chain"] == ["sonnet"]  # the good edit still serves
    routing.write_text(text)  # the shared daemon is left as it was found
    running.signal(signal.SIGHUP)
    wait_for(
        lambda: client.get("/v1/health").json()["routing_file"]["last_error"] is None,
        "the original file served again",
    )


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
    running = start_daemon(home, env, "--max-in-flight", "1")
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
                    # The flag reached the application: this stream is the one call allowed.
                    busy = running.client().post("/v1/chat/completions", json=body)
                    assert busy.status_code == 503 and busy.json()["error"]["code"] == "busy"
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


def test_the_socket_path_must_fit_af_unix(tmp_path: Path) -> None:
    long = Path("/tmp") / ("x" * 120) / "s.sock"
    env = {k: v for k, v in os.environ.items()}
    env.update({"CORTEX_HOME": str(tmp_path), "CORTEX_SOCKET": str(long)})
    result = subprocess.run([CORTEXD], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "too long" in result.stderr


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


def test_ctrl_c_stops_it_quietly_with_the_shells_status() -> None:
    home = short_home()
    running = start_daemon(home, {})
    try:
        running.signal(signal.SIGINT)
        assert running.wait() == 130  # 128 + SIGINT, as a shell expects
        out = running.output()
        assert "cortexd stopped" in out and "Traceback" not in out
        assert not (home / "run" / "cortexd.sock").exists()
    finally:
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
            wait_for(
                lambda: "serving on the socket systemd passed" in running.output(), "serving", 30
            )
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_the_loopback_tcp_listener_wants_the_token_and_its_own_host() -> None:
    home = short_home()
    port = _free_port()
    running = start_daemon(home, {}, "--tcp", f"127.0.0.1:{port}")
    try:
        token_file = home / "state" / "tcp-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert running.client().get("/v1/health").json()["listener"] == {
            "tcp": f"127.0.0.1:{port}",
            "token_file": str(token_file),
            "error": None,
        }
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


def test_a_taken_tcp_port_costs_the_listener_not_the_daemon() -> None:
    home = short_home()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        # Through CORTEX_TCP, as a service unit sets it.
        running = start_daemon(home, {"CORTEX_TCP": f"127.0.0.1:{port}"})
        try:
            listener = running.client().get("/v1/health").json()["listener"]
            assert listener["tcp"] is None and listener["token_file"] is None
            assert f"port {port}" in listener["error"] and "in use" in listener["error"]
            logged = running.output()
            assert f"TCP port {port} on 127.0.0.1 is already in use" in logged
            assert "--tcp HOST:PORT" in logged and "--tcp off" in logged
            assert running.process.poll() is None  # still serving, on the Unix socket
        finally:
            running.stop()
            remove_home(home)


def test_tcp_off_wins_over_cortex_tcp() -> None:
    home = short_home()
    port = _free_port()
    running = start_daemon(home, {"CORTEX_TCP": f"127.0.0.1:{port}"}, "--tcp", "off")
    try:
        listener = running.client().get("/v1/health").json()["listener"]
        assert listener == {
            "tcp": None,
            "token_file": None,
            "error": "turned off (--tcp off or CORTEX_TCP=off)",
        }
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        assert not (home / "state" / "tcp-token").exists()
    finally:
        running.stop()
        remove_home(home)


def test_the_tcp_listener_is_for_loopback_only(tmp_path: Path) -> None:
    env = {**os.environ, "CORTEX_HOME": str(short_home())}
    result = subprocess.run(
        [CORTEXD, "--tcp", "0.0.0.0:8765"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1 and "only loopback" in result.stderr


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

"""The harness that runs the real Claude Code and Codex CLIs, proved against the provider fakes.

The clients come from npm at pinned versions (support.agents) and run in a network namespace
whose only way out is the bridge to the fake (support.netns). The bridge's own tests need
no node and run first; each client run takes about a second once installed.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from support.agents import CODEX_TOKEN_VAR, run_claude, run_codex
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn
from support.netns import Bridge, loopback_bridge
from support.waiting import wait_for

CLAUDE_KEY = "sk-ant-harness-key"
CODEX_TOKEN = "harness-codex-token"
TIMEOUT_S = 10.0


# -- the bridge --------------------------------------------------------------------------------


@pytest.fixture
def shouting_server() -> Iterator[tuple[str, int]]:
    """A TCP server that reads a request to EOF, then answers it in capitals and closes.

    Answering only after EOF shows the bridge carries a half-close through both hops.
    """
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                received = b""
                while chunk := conn.recv(65536):
                    received += chunk
                conn.sendall(received.upper())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()
    listener.shutdown(socket.SHUT_RDWR)  # wakes the accept(); close() alone does not
    listener.close()
    thread.join(TIMEOUT_S)


def _inside(bridge: Bridge, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a Python snippet in the bridge's namespace; its output, or the failure."""
    command = bridge.command([sys.executable, "-I", "-c", code, *args])
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT_S, start_new_session=True
    )
    assert done.returncode == 0, done.stderr
    return done


_ROUND_TRIP = """
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as conn:
    conn.sendall(b"x" * 300000 + b"hello")
    conn.shutdown(socket.SHUT_WR)
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
print(len(answer), answer[-5:].decode())
"""


def test_bridge_carries_bytes_both_ways_and_the_half_close(
    shouting_server: tuple[str, int],
) -> None:
    with loopback_bridge(*shouting_server) as bridge:
        assert bridge.port == shouting_server[1]
        first = _inside(bridge, _ROUND_TRIP, str(bridge.port))
        second = _inside(bridge, _ROUND_TRIP, str(bridge.port))  # a fresh relay each run
    assert first.stdout.split() == second.stdout.split() == ["300005", "HELLO"]
    assert not bridge.socket_path.exists()


_ISOLATED = """
import socket, sys
names = [name for _, name in socket.if_nameindex()]
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5).close()
    reached = "reached"
except ConnectionRefusedError:
    reached = "refused"
print(",".join(names), reached)
"""


def test_inside_the_namespace_only_the_bridge_leads_out(
    shouting_server: tuple[str, int],
) -> None:
    host, port = shouting_server
    with socket.create_server(("127.0.0.1", 0)) as other:
        free_port = other.getsockname()[1]
    # The relay listens on another port than the server's: the server's own port, reachable
    # from the test's loopback, must lead nowhere from the namespace's.
    with loopback_bridge(host, port, port=free_port) as bridge:
        assert _inside(bridge, _ISOLATED, str(port)).stdout.split() == ["lo", "refused"]


# -- the clients -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_key", "auth_token", "header", "sent"),
    [
        (CLAUDE_KEY, None, "x-api-key", CLAUDE_KEY),
        (None, CLAUDE_KEY, "authorization", f"Bearer {CLAUDE_KEY}"),
    ],
    ids=["api-key", "auth-token"],
)
def test_claude_code_answers_with_the_fakes_text(
    anthropic_fake: FakeAnthropic,
    tmp_path: Path,
    api_key: str | None,
    auth_token: str | None,
    header: str,
    sent: str,
) -> None:
    anthropic_fake.enqueue(Turn(text="Hi from the fake Anthropic."))
    run = run_claude(
        "say hi",
        base_url=anthropic_fake.base_url,
        api_key=api_key,
        auth_token=auth_token,
        home=tmp_path,
    )
    assert (run.returncode, run.is_error, run.answer) == (0, False, "Hi from the fake Anthropic.")
    assert anthropic_fake.pending == 0 and not anthropic_fake.errors
    # Its warm-up HEAD / (unauthenticated, answer ignored), then the one streamed call.
    calls = [r for r in anthropic_fake.requests if r.method == "POST"]
    assert [(r.path, r.query) for r in calls] == [("/v1/messages", {"beta": "true"})]
    call = calls[0]
    assert call.header(header) == sent
    assert call.header("host") == f"127.0.0.1:{anthropic_fake.port}"
    assert call.header("x-claude-code-session-id") == run.events[-1]["session_id"]
    assert "claude-code-20250219" in (call.header("anthropic-beta") or "").split(",")
    assert call.header("anthropic-version") == "2023-06-01"
    assert call.json["stream"] is True and call.json["model"] == "claude-opus-4-8"


def test_codex_answers_with_the_fakes_text(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    openai_fake.enqueue(Turn(text="Hi from the fake OpenAI."))
    run = run_codex(
        "say hi",
        base_url=openai_fake.base_url,
        token=CODEX_TOKEN,
        model="gpt-4o",
        codex_home=tmp_path,
    )
    assert (run.returncode, run.is_error, run.answer) == (0, False, "Hi from the fake OpenAI.")
    assert openai_fake.pending == 0 and not openai_fake.errors
    (call,) = openai_fake.requests
    assert (call.method, call.path) == ("POST", "/v1/responses")
    assert call.header("authorization") == f"Bearer {CODEX_TOKEN}"
    assert call.header("originator") == "codex_exec"
    assert call.header("host") == f"127.0.0.1:{openai_fake.port}"
    assert call.json["stream"] is True and call.json["model"] == "gpt-4o"
    assert [e["type"] for e in run.events][-1] == "turn.completed"


def test_a_client_that_hangs_is_killed_with_everything_it_started(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.enqueue(Fault.hang())
    # Long enough for Codex to reach its request on a loaded 2-core machine (0.3 s idle).
    with pytest.raises(AssertionError, match=r"codex ran over 6\.0 s and was killed"):
        run_codex(
            "say hi",
            base_url=openai_fake.base_url,
            token=CODEX_TOKEN,
            model="gpt-4o",
            codex_home=tmp_path,
            timeout=6.0,
        )
    assert [r.path for r in openai_fake.requests] == ["/v1/responses"]  # it did get that far

    def left_behind() -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter():
            try:
                if process.environ().get(CODEX_TOKEN_VAR) == CODEX_TOKEN:
                    found.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return found

    # The group is killed before run_codex returns; the kernel may take a moment to reap it.
    wait_for(lambda: not left_behind(), "no process of the killed Codex run to remain")

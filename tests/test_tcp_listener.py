"""The loopback TCP listener's address (flag, then CORTEX_TCP, then the fixed default), its
checks, a taken port, and how /v1/health and `cortex health` report it. The real daemon's
listener is tested in test_daemon.py."""

from __future__ import annotations

import doctest
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.app import App
from support.cli import cortex

from cortexd.context.environment import Environment
from cortexd.daemon import listener as listener_module
from cortexd.daemon.listener import (
    DEFAULT_TCP,
    ListenerError,
    TcpBindError,
    open_tcp,
    parse_tcp,
    tcp_address,
)
from cortexd.services import TcpStatus


def test_the_default_address_is_the_documented_fixed_port() -> None:
    assert DEFAULT_TCP == "127.0.0.1:7462"


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        (None, None, "127.0.0.1:7462"),  # neither: the default, on
        (None, "", "127.0.0.1:7462"),  # an empty variable is no choice
        (None, "   ", "127.0.0.1:7462"),
        (None, "127.0.0.1:9000", "127.0.0.1:9000"),
        (None, "off", None),
        (None, "Off", None),
        ("127.0.0.1:9001", "127.0.0.1:9000", "127.0.0.1:9001"),  # the flag wins
        ("127.0.0.1:9001", "off", "127.0.0.1:9001"),
        ("off", "127.0.0.1:9000", None),
        ("off", None, None),
        ("[::1]:7462", None, "[::1]:7462"),
    ],
)
def test_the_address_comes_from_the_flag_then_cortex_tcp_then_the_default(
    flag: str | None, env: str | None, expected: str | None
) -> None:
    assert tcp_address(flag, env) == expected


def test_cortex_tcp_is_read_with_the_other_variables() -> None:
    assert Environment.read({"CORTEX_TCP": " off "}).tcp == "off"
    assert Environment.read({}).tcp is None


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("0.0.0.0:7462", "only loopback"),
        ("192.168.1.2:7462", "only loopback"),
        ("example.com:7462", "HOST:PORT"),
        ("127.0.0.1:70000", "HOST:PORT"),
        ("127.0.0.1", "HOST:PORT"),
        ("127.0.0.1:port", "HOST:PORT"),
    ],
)
def test_only_a_loopback_host_and_port_is_accepted(address: str, message: str) -> None:
    with pytest.raises(ListenerError, match=message):
        parse_tcp(address)


def test_the_doctests_of_the_listener_module_hold() -> None:
    assert doctest.testmod(listener_module).failed == 0


def test_a_taken_port_is_a_bind_error_naming_the_port_and_the_way_out() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(TcpBindError) as raised:
            open_tcp(f"127.0.0.1:{port}")
    message = str(raised.value)
    assert f"port {port}" in message and "in use" in message
    assert "--tcp HOST:PORT" in message and "CORTEX_TCP" in message and "--tcp off" in message


def test_the_status_as_health_reports_it() -> None:
    up = TcpStatus("127.0.0.1:7462", Path("/s/tcp-token"))
    assert up.as_json() == {"tcp": "127.0.0.1:7462", "token_file": "/s/tcp-token", "error": None}
    down = TcpStatus(error="turned off")
    assert down.as_json() == {"tcp": None, "token_file": None, "error": "turned off"}


@pytest.fixture
def reported(app: App) -> Iterator[App]:
    """`app`, whose listener status a test sets; put back afterwards."""
    saved = app.services.listener_info
    yield app
    app.services.listener_info = saved


def test_health_and_cortex_health_show_the_listener_and_its_token_file(reported: App) -> None:
    reported.services.listener_info = TcpStatus("127.0.0.1:7462", Path("/s/state/tcp-token"))
    health = reported.client().get("/v1/health").json()
    assert health["listener"] == {
        "tcp": "127.0.0.1:7462",
        "token_file": "/s/state/tcp-token",
        "error": None,
    }
    shown = cortex(reported.socket, "health")
    assert shown.returncode == 0, shown.stderr
    assert "TCP listener: 127.0.0.1:7462, token file /s/state/tcp-token" in shown.stdout


def test_cortex_health_says_why_the_listener_is_not_listening(reported: App) -> None:
    reported.services.listener_info = TcpStatus(error="TCP port 7462 on 127.0.0.1 is in use")
    assert reported.client().get("/v1/health").json()["listener"]["tcp"] is None
    shown = cortex(reported.socket, "health")
    assert "TCP listener: not listening: TCP port 7462 on 127.0.0.1 is in use" in shown.stdout


def test_cortex_connect_says_when_the_daemons_listener_is_off(
    reported: App, tmp_path: Path
) -> None:
    reported.services.listener_info = TcpStatus(error="turned off (--tcp off or CORTEX_TCP=off)")
    env = {"HOME": str(tmp_path), "CODEX_HOME": str(tmp_path / "codex"), "CORTEX_TCP": "off"}
    result = cortex(reported.socket, "connect", "codex", env=env)
    assert "TCP listener is not listening (turned off" in result.stderr
    # Off here, so the settings name the documented default, where it listens once turned on.
    assert 'base_url = "http://127.0.0.1:7462/v1"' in result.stdout

"""Starting the real `cortexd` process for integration tests, on a short private socket path."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx2

from .canary import ANTHROPIC_KEY, OPENAI_KEY, leaks
from .waiting import wait_for

CORTEXD = str(Path(sys.executable).parent / "cortexd")


class _Fake(Protocol):
    base_url: str


def cloud_env(anthropic: _Fake | None = None, openai: _Fake | None = None) -> dict[str, str]:
    """The environment that points a daemon at fake providers, with the canary keys."""
    env: dict[str, str] = {}
    if anthropic is not None:
        env |= {"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic.base_url}
    if openai is not None:
        env |= {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": openai.base_url}
    return env


@dataclass
class Daemon:
    """A running cortexd: its process, home folder, socket and log."""

    home: Path
    socket: Path
    process: subprocess.Popen[bytes]
    log: Path
    clients: list[httpx2.Client] = field(default_factory=list)

    def client(self, timeout: float = 30.0) -> httpx2.Client:
        """A plain HTTP client on the daemon's socket."""
        client = socket_client(self.socket, timeout)
        self.clients.append(client)
        return client

    def output(self) -> str:
        """What the daemon logged so far."""
        return self.log.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 20.0) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def socket_client(path: Path, timeout: float = 30.0) -> httpx2.Client:
    """A plain HTTP client on the Unix socket at `path` (the base URL's host is ignored)."""
    return httpx2.Client(
        transport=httpx2.HTTPTransport(uds=str(path)), base_url="http://cortexd", timeout=timeout
    )


def process_env(env: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without API keys, Ollama's address or a socket, with the
    TCP listener off, then `env`: what a daemon under test is given, in its own process or
    in this one. A test that wants TCP passes ``--tcp HOST:PORT`` (the flag wins) or sets
    ``CORTEX_TCP`` in `env`."""
    # PYTHONDONTWRITEBYTECODE (set on this project's machines) would make every daemon compile
    # the provider SDKs' thousands of modules again; a user's Python keeps its bytecode.
    dropped = ("OLLAMA_HOST", "CORTEX_SOCKET", "PYTHONDONTWRITEBYTECODE")
    base = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k not in dropped}
    # Daemons start in parallel (pytest-xdist): none may take the fixed default port 7462.
    return base | {"CORTEX_TCP": "off"} | dict(env)


def short_home() -> Path:
    """A private folder with a short path: AF_UNIX paths are limited to about 100 bytes."""
    return Path(tempfile.mkdtemp(prefix="cx", dir="/tmp"))


def start_daemon(
    home: Path,
    env: Mapping[str, str],
    *args: str,
    socket: Path | None = None,
    wait: bool = True,
) -> Daemon:
    """Start cortexd with CORTEX_HOME=`home`; wait until its socket answers /v1/health."""
    socket = socket or home / "run" / "cortexd.sock"
    full = process_env(env) | {"CORTEX_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    if socket != home / "run" / "cortexd.sock":
        full["CORTEX_SOCKET"] = str(socket)
    log = home / f"cortexd-{time.monotonic_ns()}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [CORTEXD, *args], env=full, stdout=sink, stderr=subprocess.STDOUT
        )
    daemon = Daemon(home, socket, process, log)
    if wait:
        wait_ready(daemon)
    return daemon


def _accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def wait_ready(daemon: Daemon, timeout: float = 30.0) -> None:
    """Wait until the socket accepts and /v1/health answers; fail with the daemon's log."""

    def answers() -> bool:
        if daemon.process.poll() is not None:
            raise AssertionError(f"cortexd exited {daemon.process.returncode}")
        if not _accepts(daemon.socket):
            return False
        with httpx2.Client(transport=httpx2.HTTPTransport(uds=str(daemon.socket))) as client:
            return client.get("http://cortexd/v1/health", timeout=10).status_code == 200

    try:
        wait_for(answers, "cortexd to answer /v1/health", timeout)
    except AssertionError as error:
        daemon.stop()
        raise AssertionError(f"{error}:\n{daemon.output()}") from None


def remove_home(home: Path) -> None:
    """Delete a daemon's home, after checking that no API key reached its files."""
    leaked = leaks(home)
    shutil.rmtree(home, ignore_errors=True)
    assert not leaked, f"an API key was written to {leaked}"

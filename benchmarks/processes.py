"""Starting what the benchmarks measure as real processes: upstream, cortexd, LiteLLM proxy."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx2
import psutil

from benchmarks.startup import accepts, sdks_loaded

BIN = Path(sys.executable).parent
# A fake key of the providers' shape: the upstream ignores it, the SDKs insist on one.
FAKE_KEY = "sk-bench-0000000000000000"


@dataclass
class Started:
    """A child process and what it needs cleaning up."""

    process: subprocess.Popen[bytes]
    home: Path | None = None
    seconds_to_ready: float = float("nan")

    @property
    def ps(self) -> psutil.Process:
        return psutil.Process(self.process.pid)

    def rss_mib(self) -> float:
        """Resident memory of the process and its children (a proxy's workers), in MiB."""
        main = self.ps
        total = main.memory_info().rss
        for child in main.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return float(total) / 2**20

    def cpu_seconds(self) -> float:
        """User + system CPU of the process and its children so far."""
        main = self.ps
        times = main.cpu_times()
        total = float(times.user + times.system)
        for child in main.children(recursive=True):
            try:
                child_times = child.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += child_times.user + child_times.system
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)


def start_upstream(delay: float = 0.0) -> tuple[Started, int]:
    """The fake upstream on a free loopback port; returns it and the port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.upstream", "--delay", str(delay)],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    if not line.startswith("port "):
        process.kill()
        raise RuntimeError(f"the fake upstream did not start: {line!r}")
    return Started(process), int(line.split()[1])


def _clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY")
        and not k.endswith("_BASE_URL")
        and k not in ("OLLAMA_HOST", "CORTEX_SOCKET", "CORTEX_HOME")
    }


def cortexd_env(home: Path, upstream_port: int) -> dict[str, str]:
    """cortexd's environment: a private home, the cloud providers pointed at the upstream."""
    env = _clean_env()
    base = f"http://127.0.0.1:{upstream_port}"
    # LiteLLM's proxy installs aiohttp in this environment, and both SDKs import their
    # aiohttp transport whenever it is importable (+20 MiB, +0.5 s), which a cortexd install
    # never has: hide it so the daemon is measured as users run it.
    shadow = home / "shadow" / "aiohttp"
    shadow.mkdir(parents=True, exist_ok=True)
    (shadow / "__init__.py").write_text('raise ImportError("not in a cortexd install")\n')
    env.update(
        PYTHONPATH=str(home / "shadow"),
        CORTEX_HOME=str(home),
        OPENAI_API_KEY=FAKE_KEY,
        ANTHROPIC_API_KEY=FAKE_KEY,
        OPENAI_BASE_URL=f"{base}/v1",
        ANTHROPIC_BASE_URL=base,
        OLLAMA_HOST="http://127.0.0.1:9",  # nothing there: no local models in the way
    )
    return env


def wait_sdks_loaded(daemon: Started, sock: Path) -> None:
    """Wait for the socket, then for the provider SDKs; sets `seconds_to_ready` (socket)."""
    started = time.perf_counter()
    while not accepts(sock):
        if daemon.process.poll() is not None:
            raise RuntimeError(f"cortexd exited with {daemon.process.returncode}")
        time.sleep(0.005)
    daemon.seconds_to_ready = time.perf_counter() - started
    with httpx2.Client(transport=httpx2.HTTPTransport(uds=str(sock)), timeout=30) as client:
        while not sdks_loaded(client.get("http://cortexd/v1/health?check=all").json()):
            time.sleep(0.02)


#: The flags every benchmark's cortexd runs with: quiet, and room for the benchmarks' 128
#: concurrent calls (the default answers 503 past 64).
DAEMON_FLAGS = ("--log-level", "warning", "--max-in-flight", "256")


def bench_home(prefix: str) -> Path:
    """A new, empty home for a daemon, under /tmp: AF_UNIX socket paths are short."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def launch_cortexd(
    command: Sequence[str],
    home: Path,
    env: dict[str, str],
    *,
    cwd: Path | None = None,
    wait_for_sdks: bool = True,
) -> tuple[Started, Path]:
    """Run `command` (a cortexd, or a wrapper that runs one) with `DAEMON_FLAGS`, in `home`.

    Returns once the provider SDKs are loaded (so that idle memory includes them; without
    `wait_for_sdks`, once the socket accepts), with the socket's path.
    """
    process = subprocess.Popen(
        [*command, *DAEMON_FLAGS],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    daemon = Started(process, home)
    sock = home / "run" / "cortexd.sock"
    if wait_for_sdks:
        wait_sdks_loaded(daemon, sock)
    else:
        while not accepts(sock):
            time.sleep(0.005)
    return daemon, sock


def start_cortexd(
    upstream_port: int, bin_dir: Path = BIN, *, wait_for_sdks: bool = True
) -> tuple[Started, Path]:
    """cortexd (from `bin_dir`) in a temporary home, its cloud providers pointed at the
    upstream; as `launch_cortexd` returns."""
    home = bench_home("cxb")
    env = cortexd_env(home, upstream_port)
    return launch_cortexd([str(bin_dir / "cortexd")], home, env, wait_for_sdks=wait_for_sdks)


def litellm_installed() -> bool:
    return shutil.which("litellm", path=str(BIN)) is not None


# LiteLLM without its network calls: its bundled price map (it would fetch one, retrying
# for seconds), no telemetry.
LITELLM_OFFLINE = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}


def start_litellm_proxy(upstream_port: int) -> tuple[Started, int, str]:
    """LiteLLM's proxy (one worker) serving `gpt-4o` from the upstream.

    Returns it, its port and its master key (it refuses to start without one).

    `seconds_to_ready` is from exec to its first answered chat completion.
    """
    home = Path(tempfile.mkdtemp(prefix="llb", dir="/tmp"))
    config = home / "config.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: gpt-4o\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o\n"
        f"      api_base: http://127.0.0.1:{upstream_port}/v1\n"
        f"      api_key: {FAKE_KEY}\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = int(free.getsockname()[1])
    master_key = f"sk-{secrets.token_hex(32)}"
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            str(BIN / "litellm"),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
        ],
        env={**_clean_env(), **LITELLM_OFFLINE, "LITELLM_MASTER_KEY": master_key},
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=(home / "proxy.log").open("wb"),
    )
    proxy = Started(process, home)
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    deadline = time.monotonic() + 120
    headers = {"Authorization": f"Bearer {master_key}"}
    with httpx2.Client(timeout=10, headers=headers) as client:
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                log = (home / "proxy.log").read_text(errors="replace")[-2000:]
                proxy.stop()
                raise RuntimeError(f"LiteLLM's proxy did not start:\n{log}")
            try:
                answer = client.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body)
                if answer.status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            time.sleep(0.05)
    proxy.seconds_to_ready = time.perf_counter() - started
    return proxy, port, master_key

"""Time cortexd's start-up and the CLI's: `uv run python -m benchmarks.startup [--rounds N]`.

Measures, over N runs each: `cortexd` from exec to a socket that accepts connections (they
wait in its backlog), to one that answers /v1/health, and to the provider SDKs loaded
(reported by /v1/health); `cortex --help` from exec to exit; and, with the providers pointed
at the fake upstream, exec to the first chat answer, sent as soon as the socket accepts: a
named gpt-4o, a named sonnet (Chat Completions translated to Anthropic) and a prompt the
classifier routes. Beside them, each SDK's import time in a fresh interpreter (`import
openai` less `pass`): the first answer's target is its SDK's import + 0.3 s (issue 24).
`--baseline BIN` measures another build's first answers in the same rounds, interleaved.
Everything runs on this machine, in temporary folders; no network.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

BIN = Path(sys.executable).parent


def accepts(path: Path) -> bool:
    """Whether a Unix socket at `path` accepts a connection."""
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def sdks_loaded(health: dict[str, object]) -> bool:
    """Whether /v1/health says both cloud SDKs are loaded: a list of the providers loaded
    since issue 24 (a health check loads those it asks), a flag before it."""
    loaded = health.get("sdks_loaded")
    if isinstance(loaded, list):
        return {"openai", "anthropic"} <= set(loaded)
    return bool(loaded)


def daemon_once() -> tuple[float, float, float]:
    """Seconds to a socket that accepts, to one that answers /v1/health, to the SDKs loaded."""
    home = Path(tempfile.mkdtemp(prefix="cxb", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["CORTEX_HOME"] = str(home)
    sock = home / "run" / "cortexd.sock"
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "cortexd")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    accepting = ready = loaded = float("nan")
    try:
        while not accepts(sock):
            time.sleep(0.002)
        accepting = time.perf_counter() - started
        with httpx2.Client(transport=httpx2.HTTPTransport(uds=str(sock)), timeout=30) as client:
            client.get("http://cortexd/v1/health")
            ready = time.perf_counter() - started
            while not sdks_loaded(client.get("http://cortexd/v1/health?check=all").json()):
                time.sleep(0.01)
            loaded = time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait()
        shutil.rmtree(home, ignore_errors=True)
    return accepting, ready, loaded


#: The first answers measured: (label, the request's model, the prompt, the SDK it needs).
FIRST_ANSWERS = (
    ("named gpt-4o", "gpt-4o", "Say hi.", "openai"),
    ("named sonnet", "sonnet", "Say hi.", "anthropic"),
    ("classified (a meeting summary)", "auto", "Summarize: Alice shipped login, Bob is blocked",
     "anthropic"),
)  # fmt: skip


def first_answer_once(
    port: int, model: str, prompt: str, home: Path | None = None, bin_dir: Path = BIN
) -> float:
    """Seconds from cortexd's exec to its first chat answer, asked as soon as it accepts:
    in `home` (a restart: its state is there), else in a new one (the first start)."""
    from benchmarks.processes import cortexd_env

    fresh = home is None
    home = home or Path(tempfile.mkdtemp(prefix="cxf", dir="/tmp"))
    sock = home / "run" / "cortexd.sock"
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(bin_dir / "cortexd")],
        env=cortexd_env(home, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not accepts(sock):
            time.sleep(0.002)
        with httpx2.Client(transport=httpx2.HTTPTransport(uds=str(sock)), timeout=60) as client:
            answer = client.post("http://cortexd/v1/chat/completions", json=body)
            answered = time.perf_counter() - started
        answer.raise_for_status()
        return answered
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait()
        if fresh:
            shutil.rmtree(home, ignore_errors=True)


def import_seconds(module: str, rounds: int) -> float:
    """The median time a fresh interpreter takes to import `module`, less starting at all."""

    def once(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - started

    bare = statistics.median(once("pass") for _ in range(rounds))
    return statistics.median(once(f"import {module}") for _ in range(rounds)) - bare


def cli_once() -> float:
    """Seconds for `cortex --help`."""
    started = time.perf_counter()
    subprocess.run([str(BIN / "cortex"), "--help"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _row(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    return (
        f"{name:<34} median {statistics.median(ordered) * 1000:7.0f} ms   "
        f"min {ordered[0] * 1000:7.0f} ms   max {ordered[-1] * 1000:7.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", type=Path, metavar="BIN", help="another build's bin folder")
    args = parser.parse_args()
    rounds = args.rounds
    daemon_once()  # warm the file cache and the bytecode
    runs = [daemon_once() for _ in range(rounds)]
    cli = [cli_once() for _ in range(rounds)]
    print(f"{rounds} rounds on {os.cpu_count()} cores")
    print(_row("cortexd: exec -> socket accepts", [r[0] for r in runs]))
    print(_row("cortexd: exec -> /v1/health answers", [r[1] for r in runs]))
    print(_row("cortexd: exec -> provider SDKs loaded", [r[2] for r in runs]))
    print(_row("cortex --help", cli))
    from benchmarks.processes import start_upstream

    imports = {sdk: import_seconds(sdk, rounds) for sdk in ("openai", "anthropic")}
    for sdk, seconds in imports.items():
        print(f"{'import ' + sdk + ' (fresh interpreter)':<34} median {seconds * 1000:7.0f} ms")
    builds = {"this build": BIN, **({"baseline": args.baseline} if args.baseline else {})}
    upstream, port = start_upstream()
    homes = {name: Path(tempfile.mkdtemp(prefix="cxr", dir="/tmp")) for name in builds}
    try:
        for label, model, prompt, sdk in FIRST_ANSWERS:
            times: dict[str, list[float]] = {name: [] for name in builds}
            for name, bin_dir in builds.items():  # the bytecode, file cache, state
                first_answer_once(port, model, prompt, homes[name], bin_dir)
            # Socket activation starts a daemon whose state is there: the target's case.
            for _ in range(rounds):
                for name, bin_dir in builds.items():
                    times[name].append(first_answer_once(port, model, prompt, homes[name], bin_dir))
            target = imports[sdk] + 0.3
            for name, found in times.items():
                median = statistics.median(found)
                verdict = "met" if median <= target else "not met"
                print(_row(f"exec -> first answer, {label} ({name})", found))
                print(f"{'':<34} target {target * 1000:7.0f} ms ({sdk} + 300 ms): {verdict}")
            fresh = [first_answer_once(port, model, prompt) for _ in range(rounds)]
            print(_row("  this build, a first start (new home)", fresh))
    finally:
        upstream.stop()
        for home in homes.values():
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

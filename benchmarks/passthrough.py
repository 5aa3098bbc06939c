"""Where the pass-through path's added time goes: `uv run python -m benchmarks.passthrough`.

Two measurements:

- **profile** (the default): N pass-through calls one at a time, profiled in cortexd
  (cProfile on the event loop's thread, switched on after the warm-up and off after the
  last call: `benchmarks/profiled_daemon.py`), through each agent front-end
  (`POST /v1/messages` with the anthropic SDK, model `claude-sonnet-4-5`;
  `POST /v1/responses` with the openai SDK, model `gpt-4o`), streamed unless `--whole`;
  `--front translated`: Chat Completions with the openai SDK to sonnet, translated to
  Anthropic's Messages.
  The event loop's thread (all of the request path but the ledger's writer thread) is then
  broken down by layer. *Own* time charges each function's time to its layer, and the time
  of code that belongs to no layer (built-ins, pydantic, the standard library) to the layer
  that called it: the rows add up to the whole. *Inclusive* time is the time spent once a
  layer is entered from outside it, including what it calls; the SDK's row is `post` less
  the httpx2 send inside it, i.e. what the SDK adds around a request it is handed as bytes.
- **micro** (`--micro` for it alone; it also follows the profile): in-process, no daemon:
  the cost per call of sending a prepared body with the SDK's
  `post(..., cast_to=httpx2.Response, content=bytes)` (what `routing/providers/forward.py`
  does) against sending the same bytes with the same URL and headers through the SDK's own
  httpx2 client (`client._client`), both answered at once by an httpx2 `MockTransport`, so
  that only the request building differs.
"""

from __future__ import annotations

import argparse
import asyncio
import pstats
import signal
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from benchmarks import processes
from benchmarks.load import Samples, Scenario, run_batch, warm_up
from benchmarks.passthrough_layers import ROOT, SOURCES, Breakdown
from benchmarks.passthrough_micro import micro, report_micro
from benchmarks.passthrough_report import Run, report_profile
from benchmarks.targets import (
    Target,
    messages_through_cortexd,
    responses_through_cortexd,
    through_cortexd,
)


def _start_profiled(
    upstream_port: int, out: Path, source: Path | None
) -> tuple[processes.Started, Path]:
    home = processes.bench_home("cxp")
    env = processes.cortexd_env(home, upstream_port)
    env["CORTEX_BENCH_PROFILE"] = str(out)
    python = [sys.executable]
    if source is not None:
        # Another checkout's cortexd, imported ahead of this environment's; -P: not the cwd's.
        env["PYTHONPATH"] = f"{source}:{ROOT}:{env['PYTHONPATH']}"
        python.append("-P")
    command = [*python, "-m", "benchmarks.profiled_daemon"]
    return processes.launch_cortexd(command, home, env, cwd=ROOT)


def _threads_cpu(daemon: processes.Started) -> tuple[float, float]:
    """CPU seconds so far of the daemon's main thread (the event loop) and of the others."""
    main = other = 0.0
    for thread in daemon.ps.threads():
        spent = thread.user_time + thread.system_time
        if thread.id == daemon.process.pid:
            main += spent
        else:
            other += spent
    return main, other


def _batch(loop: asyncio.AbstractEventLoop, target: Target, scenario: Scenario,
           daemon: processes.Started) -> Run:  # fmt: skip
    run = Run(Samples())
    main, other = _threads_cpu(daemon)
    loop.run_until_complete(run_batch(target.call, scenario, run.samples, daemon.cpu_seconds))
    main_after, other_after = _threads_cpu(daemon)
    run.loop_cpu, run.other_cpu = main_after - main, other_after - other
    return run


def profile(
    front: str, calls: int, stream: bool, out: Path, source: Path | None = None
) -> tuple[Breakdown, Run, Run]:
    """N calls through one front-end unprofiled, then N profiled in the same daemon; the
    profile's breakdown and both runs. `source`: a checkout whose cortexd runs instead."""
    upstream, port = processes.start_upstream()
    daemon, sock = _start_profiled(port, out, source)
    try:
        fronts = {
            "messages": messages_through_cortexd,
            "responses": responses_through_cortexd,
            # Chat Completions answered by sonnet: the translated path (issue 24).
            "translated": lambda sock, cpu: through_cortexd(sock, cpu, "sonnet"),
        }
        target: Target = fronts[front](sock, daemon.cpu_seconds)
        loop = uvloop.new_event_loop()
        loop.run_until_complete(warm_up(target.call))  # connections, caches: not profiled
        scenario = Scenario(front, 1, calls, stream)
        plain = _batch(loop, target, scenario, daemon)
        daemon.process.send_signal(signal.SIGUSR1)
        loop.run_until_complete(asyncio.sleep(0.2))  # the handler runs on the daemon's loop
        profiled = _batch(loop, target, scenario, daemon)
        daemon.process.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 30
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        loop.close()
    finally:
        daemon.stop()
        upstream.stop()
    return Breakdown(pstats.Stats(str(out))), plain, profiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1000, help="profiled calls per front-end")
    parser.add_argument("--whole", action="store_true", help="JSON answers instead of streams")
    parser.add_argument(
        "--front", choices=("messages", "responses", "translated", "both"), default="both",
        help="which front-end to profile (default both: the pass-through ones); translated:"
        " Chat Completions answered by sonnet",
    )  # fmt: skip
    parser.add_argument("--micro", action="store_true", help="only the request-building micro")
    parser.add_argument("--top", type=int, default=15, help="functions listed by own time")
    parser.add_argument("--micro-calls", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument(
        "--source", type=Path, metavar="DIR",
        help="profile the cortexd of this source tree (e.g. a `git archive` of a commit, "
        "its routing/ etc. linked under cortexd/) instead of this environment's",
    )  # fmt: skip
    args = parser.parse_args()
    sections = []
    if args.source is not None:
        SOURCES.insert(0, args.source.resolve())
    if not args.micro:
        fronts = ("messages", "responses") if args.front == "both" else (args.front,)
        for front in fronts:
            out = args.out / f"cortexd-{front}.prof"
            out.unlink(missing_ok=True)
            print(f"profiling {front}...", file=sys.stderr)
            breakdown, plain, profiled = profile(
                front, args.calls, not args.whole, out, args.source
            )
            sections.append(
                report_profile(front, breakdown, plain, profiled, not args.whole, args.top)
            )
    results = uvloop.run(micro(args.micro_calls, 5))
    sections.append(report_micro(results, args.micro_calls, 5))
    print("\n\n".join(sections))


if __name__ == "__main__":
    main()

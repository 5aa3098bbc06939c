"""Profile cortexd's request path: `uv run python -m benchmarks.profile [--calls N] [--stream]
[--model sonnet]`.

Runs the daemon under cProfile against the fake upstream, sends N calls one at a time with
the openai SDK (to gpt-4o; `--model sonnet`: the translated path, Chat Completions
answered by Anthropic's Messages), stops the daemon (SIGINT, so that cProfile writes its data)
and prints the functions that took the most time in the daemon, by own time and by
cumulative time. The event loop runs on the daemon's main thread, which is what cProfile
sees; `--out FILE` keeps the raw profile for snakeviz or `python -m pstats`.
"""

from __future__ import annotations

import argparse
import io
import pstats
import signal
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from benchmarks import processes
from benchmarks.load import Samples, Scenario, run_batch
from benchmarks.targets import through_cortexd


def _start_profiled(upstream_port: int, out: Path) -> tuple[processes.Started, Path]:
    home = processes.bench_home("cxp")
    env = processes.cortexd_env(home, upstream_port)
    command = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "cortexd.daemon.main"]
    return processes.launch_cortexd(command, home, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--model", default="gpt-4o", help="gpt-4o, or sonnet (translated)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "cortexd.prof")
    args = parser.parse_args()
    upstream, port = processes.start_upstream()
    daemon, sock = _start_profiled(port, args.out)
    try:
        target = through_cortexd(sock, daemon.cpu_seconds, args.model)
        samples = Samples()
        loop = uvloop.new_event_loop()
        loop.run_until_complete(
            run_batch(
                target.call,
                Scenario("profile", 1, args.calls, args.stream),
                samples,
                daemon.cpu_seconds,
            )
        )
        loop.close()
        print(
            f"{samples.calls} calls, p50 {samples.quantile(50):.2f} ms, "
            f"daemon CPU {samples.cpu_per_call_ms(True):.2f} ms/call (under the profiler)"
        )
    finally:
        # SIGINT, not SIGTERM: uvicorn re-raises the signal that stopped it once it has shut
        # down, and only a KeyboardInterrupt lets cProfile write its data on the way out.
        daemon.process.send_signal(signal.SIGINT)
        daemon.process.wait(30)
        daemon.stop()
        upstream.stop()
    for _ in range(100):
        if args.out.exists():
            break
        time.sleep(0.05)
    for key in ("tottime", "cumulative"):
        text = io.StringIO()
        stats = pstats.Stats(str(args.out), stream=text)
        stats.strip_dirs().sort_stats(key).print_stats(args.top)
        print(text.getvalue().split("\n", 6)[-1])


if __name__ == "__main__":
    main()

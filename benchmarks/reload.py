"""Time from saving the routing file to the new table serving:
`uv run python -m benchmarks.reload [--saves N]`.

Starts cortexd in a temporary home, then N times: saves the routing file with a changed
fallback (alternately by rename, as most editors do, and in place), and polls `/v1/route`
until the new chain is served. The figure includes the watcher's debounce (0.1 s), reading
and validating the whole file off the event loop, and the poll's own request (~1 ms).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

from benchmarks.startup import accepts, sdks_loaded

BIN = Path(sys.executable).parent
ROW = "| Quick capture / filing | haiku | sonnet | Fast, cheap |"
BODY = {
    "messages": [{"role": "user", "content": "x"}],
    "cortex": {"task": "Quick capture / filing"},
}


def measure(saves: int) -> tuple[list[float], list[float]]:
    """Seconds from save to live, for saves by rename and saves in place."""
    home = Path(tempfile.mkdtemp(prefix="cxr", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["CORTEX_HOME"] = str(home)
    sock = home / "run" / "cortexd.sock"
    process = subprocess.Popen(
        [str(BIN / "cortexd")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    renamed: list[float] = []
    in_place: list[float] = []
    try:
        while not accepts(sock):
            time.sleep(0.01)
        path = home / "context" / "model-routing.md"
        transport = httpx2.HTTPTransport(uds=str(sock))
        with httpx2.Client(transport=transport, base_url="http://cortexd", timeout=30) as client:
            while not sdks_loaded(client.get("/v1/health?check=all").json()):
                time.sleep(0.05)
            text = path.read_text()  # the seed, written at the first start
            for n in range(saves):
                fallback = ("opus", "gpt-4o")[n % 2]
                edited = text.replace(ROW, f"| Quick capture / filing | haiku | {fallback} | |")
                started = time.perf_counter()
                if n % 4 < 2:
                    temporary = path.with_name(".model-routing.md.new")
                    temporary.write_text(edited)
                    os.replace(temporary, path)
                else:
                    with path.open("w") as handle:
                        handle.write(edited)
                while client.post("/v1/route", json=BODY).json()["chain"][-1] != fallback:
                    time.sleep(0.002)
                (renamed if n % 4 < 2 else in_place).append(time.perf_counter() - started)
                time.sleep(0.3)  # apart, as a person's saves are
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait()
        shutil.rmtree(home, ignore_errors=True)
    return renamed, in_place


def _row(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{name:<26} median {statistics.median(ordered) * 1000:5.0f} ms   "
        f"p95 {p95 * 1000:5.0f} ms   max {ordered[-1] * 1000:5.0f} ms   (n={len(ordered)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--saves", type=int, default=40)
    args = parser.parse_args()
    renamed, in_place = measure(args.saves)
    print(_row("save by rename → live", renamed))
    print(_row("save in place → live", in_place))


if __name__ == "__main__":
    main()

"""cortexd's memory: `uv run python -m benchmarks.memory [--calls N] [--baseline BIN]`.

Against the fake upstream, as issue 24 defines the figures: the daemon's RSS after one
answered call to each cloud provider (gpt-4o, then sonnet) and 10 s idle, and then RSS
against calls answered (Chat Completions, 32 at a time) up to `--calls` (50,000), sampled
every 5,000: the growth from 10,000 to 50,000 calls is the leak figure. `--baseline BIN`
runs another build's `cortexd` the same way, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import httpx2

from benchmarks.processes import BIN, start_cortexd, start_upstream

CONCURRENCY = 32
SAMPLE_EVERY = 5_000


async def _calls(sock: Path, count: int, model: str) -> None:
    """`count` chat calls, `CONCURRENCY` at a time; any failure stops the measurement."""
    body = {"model": model, "messages": [{"role": "user", "content": "Tag: printer offline"}]}
    transport = httpx2.AsyncHTTPTransport(uds=str(sock))
    async with httpx2.AsyncClient(transport=transport, base_url="http://cortexd") as client:
        left = count

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                answer = await client.post("/v1/chat/completions", json=body, timeout=60)
                answer.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def _settled(sock: Path) -> None:
    """Wait until the ledger has written every call answered (its queue empty), then a
    second more: a sample counts what the daemon keeps, not the calls still in flight or
    waiting to be written (up to 32 of each at the end of a batch)."""
    transport = httpx2.HTTPTransport(uds=str(sock))
    with httpx2.Client(transport=transport, base_url="http://cortexd", timeout=30) as client:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ledger = client.get("/v1/health").json().get("ledger") or {}
            if not ledger.get("queued"):
                break
            time.sleep(0.05)
    time.sleep(1)


def measure(bin_dir: Path, port: int, calls: int) -> dict[str, object]:
    """One build's figures."""
    daemon, sock = start_cortexd(port, bin_dir, wait_for_sdks=False)
    try:
        started = daemon.rss_mib()
        for model in ("gpt-4o", "sonnet"):
            asyncio.run(_calls(sock, 1, model))
        time.sleep(10)
        idle = daemon.rss_mib()
        curve: list[tuple[int, float]] = [(0, idle)]
        done, busy = 0, 0.0
        while done < calls:
            step = min(SAMPLE_EVERY, calls - done)
            before = time.perf_counter()
            asyncio.run(_calls(sock, step, "gpt-4o"))
            busy += time.perf_counter() - before
            done += step
            _settled(sock)
            curve.append((done, round(daemon.rss_mib(), 1)))
        rate = calls / busy
        at = dict(curve)
        growth = at[calls] - at[10_000] if calls >= 10_000 else None
        return {
            "rss_at_start_mib": round(started, 1),
            "rss_after_one_call_each_and_10s_idle_mib": round(idle, 1),
            "rss_by_calls_mib": curve,
            "growth_10k_to_end_mib": None if growth is None else round(growth, 1),
            "calls_per_s": round(rate, 1),
        }
    finally:
        daemon.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--baseline", type=Path, help="another build's bin folder")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    upstream, port = start_upstream()
    try:
        figures = {"this build": measure(BIN, port, args.calls)}
        if args.baseline is not None:
            figures["baseline"] = measure(args.baseline, port, args.calls)
    finally:
        upstream.stop()
    for name, found in figures.items():
        print(f"{name}:")
        for key, value in found.items():
            print(f"  {key}: {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

"""The ledger's own speed: calls per second through the group-commit writer, and the time a
call waits for its rows' commit, at several concurrencies and both durability settings.

    uv run python -m benchmarks.ledger [--calls 20000]

Each call is one row in `calls` plus two in `attempts` (a failed try and the answer), as a
fallback call writes; the signal rules run for each, as in the daemon.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from cortexd.ledger import CallRecord, Ledger
from cortexd.routing.dispatch import Attempt
from cortexd.routing.providers import Usage


def _call(n: int) -> CallRecord:
    cid = f"{n:024x}"
    ok = Attempt(
        request_id=cid, number=2, task="Code review", provider="openai", model="codex",
        model_id="gpt-5.1-codex", outcome="ok", fallback=True,
        usage=Usage(input_tokens=1200, output_tokens=300), first_token_s=0.4, total_s=1.2,
        cost_usd=Decimal("0.0045"),
    )  # fmt: skip
    failed = replace(
        ok, number=1, provider="anthropic", model="sonnet", outcome="error", fallback=False,
        error_class="OverloadedError", error="529 overloaded",
    )  # fmt: skip
    return CallRecord(
        id=cid, started_at=time.time(), task="Code review", decided_by="classified",
        outcome="ok", attempts=(failed, ok), client=f"client-{n % 7}", model="codex",
        provider="openai", fallback=True, usage=ok.usage, first_token_s=1.6, total_s=1.9,
        prompt=f"review change {n}",
    )  # fmt: skip


async def _run(path: Path, synchronous: str, calls: int, concurrency: int) -> dict[str, float]:
    ledger = Ledger(path, synchronous=synchronous)
    ledger.open()
    await ledger.start()
    waits: list[float] = []
    queue = iter(range(calls))

    async def worker() -> None:
        for n in queue:
            began = time.perf_counter()
            await ledger.record(_call(n))
            waits.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    health = ledger.health()
    ledger.close()
    waits.sort()
    return {
        "calls_per_s": calls / elapsed,
        "rows_per_s": calls * 3 / elapsed,
        "wait_p50_ms": waits[len(waits) // 2] * 1000,
        "wait_p99_ms": waits[int(len(waits) * 0.99)] * 1000,
        "wait_mean_ms": statistics.fmean(waits) * 1000,
        "commits": health["commits"],
        "largest_group": health["largest_group"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    print("| synchronous | concurrency | calls/s | rows/s | commit wait p50 | p99 | calls/commit |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for synchronous in ("FULL", "NORMAL"):
        for concurrency in (1, 32, 256):
            calls = args.calls if concurrency > 1 else min(args.calls, 2_000)
            with tempfile.TemporaryDirectory() as folder:
                r = asyncio.run(_run(Path(folder) / "l.sqlite3", synchronous, calls, concurrency))
            print(
                f"| {synchronous} | {concurrency} | {r['calls_per_s']:,.0f}"
                f" | {r['rows_per_s']:,.0f} | {r['wait_p50_ms']:.2f} ms | {r['wait_p99_ms']:.2f} ms"
                f" | {calls / r['commits']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

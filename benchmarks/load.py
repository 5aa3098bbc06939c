"""The load generator: batches of chat calls at a fixed concurrency, and their statistics."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

# One call: returns (seconds to the first content token or None, seconds in all).
Call = Callable[[bool], Awaitable[tuple[float | None, float]]]
# CPU seconds a process has used so far (None: not a separate process).
CpuClock = Callable[[], float | None]


@dataclass(frozen=True)
class Scenario:
    """How to load a target: `requests` calls, `concurrency` at a time, streamed or not."""

    name: str
    concurrency: int
    requests: int
    stream: bool = False


@dataclass
class Samples:
    """What one target did in one scenario, summed over the interleaved rounds."""

    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    errors: int = 0
    wall: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float | None = None

    @property
    def calls(self) -> int:
        return len(self.latencies) + self.errors

    def quantile(self, q: int, ttft: bool = False) -> float:
        """The q-th percentile in milliseconds."""
        values = self.ttfts if ttft else self.latencies
        if len(values) < 2:
            return values[0] * 1e3 if values else float("nan")
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1e3

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall if self.wall else float("nan")

    def cpu_per_call_ms(self, server: bool) -> float:
        """CPU milliseconds per call, in the driver (client) or the target's own process."""
        total = self.server_cpu if server else self.client_cpu
        if total is None or not self.calls:
            return float("nan")
        return total / self.calls * 1e3


async def run_batch(call: Call, scenario: Scenario, samples: Samples, server: CpuClock) -> None:
    """Send `scenario.requests` calls, `scenario.concurrency` in flight, into `samples`."""
    pending = iter(range(scenario.requests))

    async def worker() -> None:
        for _ in pending:
            try:
                ttft, total = await call(scenario.stream)
            except Exception:  # counted, not fatal: a failing target shows in the error column
                samples.errors += 1
                continue
            samples.latencies.append(total)
            if ttft is not None:
                samples.ttfts.append(ttft)

    server_before = server()
    cpu_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(scenario.concurrency)))
    samples.wall += time.perf_counter() - started
    samples.client_cpu += time.process_time() - cpu_before
    server_after = server()
    if server_before is not None and server_after is not None:
        samples.server_cpu = (samples.server_cpu or 0.0) + server_after - server_before


async def warm_up(call: Call, calls: int = 20) -> None:
    """`calls` calls of each kind, not streamed then streamed, before anything is recorded:
    connections, imports and caches are ready when the measured calls begin."""
    for stream in (False, True):
        for _ in range(calls):
            await call(stream)

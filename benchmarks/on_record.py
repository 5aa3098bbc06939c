"""Every request that reaches routing is on the record, against a failing provider.

`uv run python -m benchmarks.on_record [--calls 2000]` starts the bench upstream and a real
cortexd, and sends N chat calls at concurrency 32 while Anthropic's models fail: every call
routed to haiku, sonnet or opus is answered 529 (overloaded), so their circuits open and
close, fallbacks answer, and chains with no fallback are refused. A share of the calls name
an unknown model, and a share are local-only with no local model: refusals before dispatch.
Each answer's call id (the `cortex` block, or `error.call_id`) is then looked up in the
ledger. Prints the calls sent, the statuses, the answers without a call id, and the call ids
without a row (issue 20's target: 0).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx2

from benchmarks.processes import start_cortexd, start_upstream
from benchmarks.upstream_faults import fault_mark

CONCURRENCY = 32
ANTHROPIC_IDS = ("claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5")
TASKS = (
    "Quick capture / filing", "Meeting summary", "Complex reasoning", "Code generation",
    "Content drafting", "Security audit", "Classification / routing", "Bulk operations",
)  # fmt: skip


def _body(rng: random.Random) -> dict[str, Any]:
    """One call: routed to a task, with an unknown model, or local-only."""
    marks = " ".join(fault_mark("overload", model_id) for model_id in ANTHROPIC_IDS)
    messages = [{"role": "user", "content": f"Please help with this. {marks}"}]
    kind = rng.random()
    if kind < 0.1:
        return {"model": "no-such-model", "messages": messages}
    if kind < 0.2:
        return {"model": "auto", "messages": messages, "cortex": {"local_only": True}}
    return {"model": f"task:{rng.choice(TASKS)}", "messages": messages}


def _call_id(answer: httpx2.Response) -> str | None:
    try:
        body = answer.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("cortex"), dict):
        return str(body["cortex"].get("id") or "") or None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("call_id"):
        return str(error["call_id"])
    return answer.headers.get("x-cortex-call-id")


async def _send(sock: Path, calls: int, seed: int) -> list[tuple[int, str | None]]:
    rng = random.Random(seed)
    bodies = [_body(rng) for _ in range(calls)]
    transport = httpx2.AsyncHTTPTransport(uds=str(sock))
    results: list[tuple[int, str | None]] = []
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx2.AsyncClient(transport=transport, timeout=180) as client:

        async def one(body: dict[str, Any]) -> None:
            async with gate:
                answer = await client.post("http://cortexd/v1/chat/completions", json=body)
                results.append((answer.status_code, _call_id(answer)))

        await asyncio.gather(*(one(body) for body in bodies))
    return results


def _recorded(sock: Path, ids: Sequence[str]) -> set[str]:
    transport = httpx2.HTTPTransport(uds=str(sock))
    with httpx2.Client(transport=transport, timeout=60) as client:
        return {
            call_id
            for call_id in ids
            if client.get(f"http://cortexd/v1/calls/{call_id}").status_code == 200
        }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.on_record", description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2020)
    args = parser.parse_args(argv)
    upstream, port = start_upstream()
    daemon, sock = start_cortexd(port)
    try:
        began = time.perf_counter()
        results = asyncio.run(_send(sock, args.calls, args.seed))
        took = time.perf_counter() - began
        statuses = collections.Counter(status for status, _ in results)
        ids = [call_id for _, call_id in results if call_id]
        recorded = _recorded(sock, ids)
        print(f"{len(results)} calls in {took:.1f} s at concurrency {CONCURRENCY}")
        print("statuses: " + ", ".join(f"{s} × {n}" for s, n in sorted(statuses.items())))
        print(f"answers without a call id: {len(results) - len(ids)}")
        print(f"call ids without a ledger row: {len(set(ids) - recorded)}")
    finally:
        daemon.stop()
        upstream.stop()


if __name__ == "__main__":
    main()

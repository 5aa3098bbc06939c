"""What budgets cost on the request path: the gate every chat call passes before it is sent
(estimate, spend with reservations, policy), and the proposals a review computes.

    uv run python -m benchmarks.budget [--rounds 20000]

The gate runs on the event loop for every call, so it must stay in microseconds; proposals
run in a thread (the report, `cortex propose`), so milliseconds are fine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

from cortexd.bookkeeping.spend import SpendTracker
from cortexd.context.paths import default_routing_text
from cortexd.routing import (
    Budget,
    BudgetPolicy,
    Evidence,
    ModelEvidence,
    call_estimate,
    catalog_for,
    gate,
    parse_routing_text,
    propose,
)
from cortexd.routing.dispatch import Attempt
from cortexd.routing.providers import ChatMessage, ChatRequest, Usage


def _per_call_us(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        samples.append((time.perf_counter() - start) / rounds * 1e6)
    return statistics.median(samples), min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    table = parse_routing_text(default_routing_text())
    catalog = catalog_for(table)
    budgets = {
        "anthropic": Budget("anthropic", Decimal(50), (50, 80, 100), BudgetPolicy.FALLBACK, 1),
        "total": Budget("total", Decimal(80), (80, 100), BudgetPolicy.REFUSE, 2),
    }
    tracker = SpendTracker(lambda: budgets)
    for i in range(200):  # calls in flight
        tracker.reserve(f"c{i}", "anthropic", 10**9)
    prompt = "Review this function for off-by-one errors. " * 40
    request = ChatRequest("auto", (ChatMessage.of("user", prompt),), max_tokens=800)
    chain = ("sonnet", "codex")
    for spec in catalog:  # genai-prices' snapshot loads once, at start in the daemon
        catalog.price(spec)

    def one_gate() -> object:
        estimate = call_estimate(catalog, request)
        return gate(chain, catalog, tracker.spend(), budgets, estimate, "qwen2.5-coder:14b")

    attempt = Attempt(
        request_id="x", number=1, task="Code review", provider="anthropic", model="sonnet",
        model_id="m", outcome="ok", usage=Usage(1000, 200), total_s=1.0,
        cost_usd=Decimal("0.0060"),
    )  # fmt: skip
    rows = [
        ModelEvidence(task, model, 400, 300, 420, 20, 5, 400 * 10**10, 3)
        for task in table.task_types()
        for model in ("sonnet", "opus", "haiku", "codex", "gpt-4o")
    ]
    evidence = Evidence(0.0, 1.0, tuple(rows), {t: 2000 for t in table.task_types()})
    gate_p50, gate_min = _per_call_us(one_gate, args.rounds)
    sink_p50, sink_min = _per_call_us(lambda: tracker(attempt), args.rounds)
    propose_p50, propose_min = _per_call_us(lambda: propose(evidence, table, catalog), 50)
    print(f"budget gate per call (200 calls in flight): {gate_p50:.1f} µs (best {gate_min:.1f})")
    print(f"spend sink per attempt: {sink_p50:.2f} µs (best {sink_min:.2f})")
    print(
        f"propose over {len(rows)} task × model rows: "
        f"{propose_p50 / 1000:.2f} ms (best {propose_min / 1000:.2f})"
    )


if __name__ == "__main__":
    main()

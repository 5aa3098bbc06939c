"""Time the router's local decisions: `uv run python -m benchmarks.classify [--rounds N]`.

Runs the development and hold-out conversations of tests/data through the classifier (with
the shipped model) and the whole router, and the labelled override prompts through override
detection, and prints per-call latency.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cortexd.paths import default_routing_text
from cortexd.routing.request import Message, RouteRequest
from cortexd.routing.router import Router
from cortexd.routing.routing_file import parse_routing_text
from cortexd.routing.task_model import TaskModel

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def _load(name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line]


def _time(fn: Callable[[object], object], items: Sequence[object], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        for item in items:
            start = time.perf_counter()
            fn(item)
            samples.append((time.perf_counter() - start) * 1e3)
    return samples


def _report(label: str, samples: list[float]) -> None:
    q = statistics.quantiles(samples, n=100)
    print(
        f"{label:24s} n={len(samples):6d}  mean {statistics.fmean(samples):.3f} ms  "
        f"p50 {q[49]:.3f}  p99 {q[98]:.3f}  max {max(samples):.3f}"
    )


def measure(rounds: int) -> dict[str, list[float]]:
    """Per-call milliseconds of each routing decision, by label."""
    router = Router(parse_routing_text(default_routing_text()), TaskModel.shipped())
    convs = [
        [Message(str(m["role"]), str(m["content"])) for m in c["messages"]]  # type: ignore[attr-defined]
        for c in _load("classify_dev.jsonl") + _load("classify_holdout.jsonl")
    ]
    prompts = [
        str(c["prompt"]) for c in _load("overrides.jsonl") + _load("overrides_holdout.jsonl")
    ]
    tasks = [t for t in router.table.task_types() if t != "Embeddings"]
    given = [RouteRequest(messages=m, task=tasks[i % len(tasks)]) for i, m in enumerate(convs)]
    models = [RouteRequest(messages=m, model="gpt-4o") for m in convs]
    return {
        "route, task type given": _time(lambda r: router.plan(r), given, rounds),
        "route, model named": _time(lambda r: router.plan(r), models, rounds),
        "detect override": _time(lambda p: router.detector.detect(p), prompts, rounds),
        "classify": _time(lambda m: router.classifier.classify(m), convs, rounds),
        "route, classified": _time(
            lambda r: router.plan(r), [RouteRequest(messages=m) for m in convs], rounds
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    for label, samples in measure(parser.parse_args().rounds).items():
        _report(label, samples)


if __name__ == "__main__":
    main()

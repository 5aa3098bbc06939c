"""The router's local decisions, scored and timed: `uv run python -m benchmarks.classify`.

Scores: override precision and recall, and task accuracy, on the fresh sets (written after
the models were frozen and committed before their first score) — the first-contact figure
beside today's. Times: per-call latency of override detection, classification, and whole
plans, a 50-turn conversation's session scan included (`--rounds N`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.override_scores import load as load_rows  # noqa: E402
from support.override_scores import score  # noqa: E402

from cortexd.context.paths import default_routing_text  # noqa: E402
from cortexd.routing.classifier.model import TaskModel  # noqa: E402
from cortexd.routing.request import Message, RouteRequest  # noqa: E402
from cortexd.routing.router import Router  # noqa: E402
from cortexd.routing.routing_file.parse import parse_routing_text  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def _load(name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line]


def _time(
    fn: Callable[[Router, object], object], items: Sequence[object], rounds: int
) -> list[float]:
    """Milliseconds per call, each round with a new router: the router remembers the turns
    it read (text_memo.py), and these are first reads."""
    samples = []
    for _ in range(rounds):
        router = _router()
        for item in items:
            start = time.perf_counter()
            fn(router, item)
            samples.append((time.perf_counter() - start) * 1e3)
    return samples


def _as_sent(requests: Sequence[RouteRequest], rounds: int) -> list[float]:
    """Milliseconds of the last plan of each conversation when a client sent it as clients
    do, one turn longer each time: the plans before it read the earlier turns."""
    samples = []
    for _ in range(rounds):
        for request in requests:
            router = _router()
            messages = request.messages
            ends = [i + 1 for i, m in enumerate(messages) if m.role == "user"]
            for end in ends[:-1]:
                router.plan(RouteRequest(messages=messages[:end]))
            start = time.perf_counter()
            router.plan(request)
            samples.append((time.perf_counter() - start) * 1e3)
    return samples


def _router() -> Router:
    return Router(parse_routing_text(default_routing_text()), TaskModel.shipped())


def _report(label: str, samples: list[float]) -> None:
    q = statistics.quantiles(samples, n=100)
    print(
        f"{label:28s} n={len(samples):6d}  mean {statistics.fmean(samples):.3f} ms  "
        f"p50 {q[49]:.3f}  p99 {q[98]:.3f}  max {max(samples):.3f}"
    )


#: The first score of each fresh set, taken once, before anything was changed for it: today's
#: figures are printed beside these, never instead of them. Sets scored in earlier rounds
#: were retired into training once the next round began (docs/classification.md keeps their
#: first contacts).
FIRST_CONTACT = {
    # Written after the task model's round 6 freeze (5accfb8):
    "classify_fresh_6.jsonl": "task accuracy 93.5% (316/338), hard 92.5% (123/133)",
    # Written after the override model's round 7 freeze (08cb40b):
    "overrides_fresh_i.jsonl": "recall 73.8% (251/340), precision 96.5% (251/260)",
}


def _fifty_turns(convs: list[list[Message]]) -> list[RouteRequest]:
    """Conversations of 50 user turns (with answers between), the first holding a session
    directive: the plan reads every turn for it."""
    requests = []
    for i in range(0, len(convs) - 50, 25):
        messages = [Message("user", "from now on use sonnet")]
        for conv in convs[i : i + 49]:
            messages += [Message("assistant", "ok"), *[m for m in conv if m.role == "user"][-1:]]
        requests.append(RouteRequest(messages=messages))
    return requests


def scores() -> None:
    """Fresh sets: today's figures beside the first-contact ones."""
    router = Router(parse_routing_text(default_routing_text()), TaskModel.shipped())
    for path in sorted(DATA.glob("overrides_fresh*.jsonl")):
        s = score(router.detector, load_rows(path))
        print(s.line(path.name))
        print(f"  first contact: {FIRST_CONTACT.get(path.name, 'not recorded')}")
    for path in sorted(DATA.glob("classify_fresh*.jsonl")):
        rows = _load(path.name)
        hits = hard = hard_hits = 0
        for row in rows:
            messages = [Message(str(m["role"]), str(m["content"])) for m in row["messages"]]  # type: ignore[attr-defined]
            right = router.classifier.classify(messages).task == row["task"]
            hits += right
            hard += bool(row.get("hard"))
            hard_hits += right and bool(row.get("hard"))
        print(f"{path.name}: task accuracy {hits / len(rows):.1%} ({hits}/{len(rows)}), "
              f"hard {hard_hits / max(hard, 1):.1%} ({hard_hits}/{hard})")  # fmt: skip
        print(f"  first contact: {FIRST_CONTACT.get(path.name, 'not recorded')}")


def measure(rounds: int) -> dict[str, list[float]]:
    """Per-call milliseconds of each routing decision, by label."""
    router = _router()
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
    long = _fifty_turns(convs)
    return {
        "route, task type given": _time(lambda ro, r: ro.plan(r), given, rounds),
        "route, model named": _time(lambda ro, r: ro.plan(r), models, rounds),
        "detect override": _time(lambda ro, p: ro.detector.detect(p), prompts, rounds),
        "detect override, ordinary": _time(
            lambda ro, m: ro.detector.detect(m[-1].content), convs, rounds
        ),
        "classify": _time(lambda ro, m: ro.classifier.classify(m), convs, rounds),
        "route, classified": _time(
            lambda ro, r: ro.plan(r), [RouteRequest(messages=m) for m in convs], rounds
        ),
        "route, 50 turns, first read": _time(lambda ro, r: ro.plan(r), long, rounds),
        "classify, 50 turns, first": _time(
            lambda ro, r: ro.classifier.classify(r.messages), long, rounds
        ),
        "route, 50 turns, as sent": _as_sent(long, max(1, rounds // 3)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    scores()
    print()
    for label, samples in measure(args.rounds).items():
        _report(label, samples)


if __name__ == "__main__":
    main()

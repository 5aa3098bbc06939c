"""Classification with and without similarity to example prompts:
`uv run python -m benchmarks.similarity [--sweep]`.

The embedder is the deterministic stand-in of tests/support (hashed words, stems and
character trigrams), NOT nomic-embed-text, whose weights cannot be had on this machine: the
numbers say whether the mechanism works and what it costs, not what a real model gains.

Accuracy of the rules alone, the rules and the learned model (what the daemon runs), and
each with similarity, on the final set (never trained or tuned on) and on the training sets
(the model has seen them: read those for the rules). Two example banks: the shipped
examples (written for cortexd, none taken from tests/data), and the training conversations
themselves (scored on the final set only, so no prompt is its own example). `--sweep`
prints accuracy over the blend's weight and temperature on the training sets (flat: the
model has seen them) and on the final set (benchmarks/README.md says how the shipped weight
was picked from these).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from cortexd.context.paths import default_routing_text
from cortexd.routing.classifier.classify import MIN_PROBABILITY, TaskClassifier
from cortexd.routing.classifier.examples import TaskExamples, shipped_task_examples
from cortexd.routing.classifier.model import TaskModel
from cortexd.routing.classifier.similarity import (
    BLEND_WEIGHT,
    TEMPERATURE,
    Vector,
    blend,
    distribution,
    prompt_text,
    task_scores,
    unit,
)
from cortexd.routing.request import Message
from cortexd.routing.routing_file.parse import parse_routing_text

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
# The stand-in is test support, deliberately not product code: import it from tests/.
sys.path.insert(0, str(ROOT / "tests"))
from support.stand_in_embedder import stand_in_vector  # noqa: E402

Case = tuple[list[Message], str]


def _load(pattern: str) -> list[Case]:
    cases = []
    for path in sorted(DATA.glob(pattern)):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                messages = [Message(m["role"], m["content"]) for m in item["messages"]]
                cases.append((messages, item["task"]))
    return cases


def _vectors(examples: TaskExamples) -> dict[str, tuple[Vector, ...]]:
    return {t: tuple(unit(stand_in_vector(x)) for x in xs) for t, xs in examples.by_task.items()}


def _similarities(
    cases: Sequence[Case], vectors: Mapping[str, Sequence[Vector]]
) -> list[dict[str, float]]:
    return [task_scores(unit(stand_in_vector(prompt_text(m))), vectors) for m, _ in cases]


def _accuracy(
    classifier: TaskClassifier, cases: Sequence[Case], sims: Sequence[Mapping[str, float] | None]
) -> float:
    pairs = zip(cases, sims, strict=False)  # `sims` may be a longer list of None
    hits = sum(classifier.classify(m, s).task == task for (m, task), s in pairs)
    return hits / len(cases)


def _sweep(model: TaskClassifier, cases: Sequence[Case], sims: Sequence[Mapping[str, float]]):
    """Accuracy over weight × temperature, re-deciding from the model's own probabilities."""
    probs = [dict(model.classify(m).scores) for m, _ in cases]
    default = "General agent work"
    print("weight \\ temperature  " + "  ".join(f"{t:5.2f}" for t in (0.25, 0.5, 1.0)))
    for weight in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7):
        row = []
        for temperature in (0.25, 0.5, 1.0):
            hits = 0
            for p, s, (_, task) in zip(probs, sims, cases, strict=True):
                mixed = blend(p, distribution(s, temperature), weight)
                best = max(mixed, key=mixed.__getitem__)
                hits += (best if mixed[best] >= MIN_PROBABILITY else default) == task
            row.append(hits / len(cases))
        print(f"{weight:20.1f}  " + "  ".join(f"{a:5.1%}" for a in row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sweep", action="store_true")
    args = parser.parse_args()
    table = parse_routing_text(default_routing_text())
    tasks = table.task_types()
    rules = TaskClassifier(tasks)
    model = TaskClassifier(tasks, model=TaskModel.shipped())
    shipped = shipped_task_examples(tasks)
    final = _load("classify_final.jsonl")
    train = _load("classify_train_*.jsonl")

    began = time.perf_counter()
    vectors = _vectors(shipped)
    print(f"stand-in embedder: {len(shipped)} shipped examples embedded in "
          f"{time.perf_counter() - began:.2f} s")  # fmt: skip
    timings = []
    for messages, _ in final[:50]:
        prompt = unit(stand_in_vector(prompt_text(messages)))
        start = time.perf_counter()
        task_scores(prompt, vectors)
        timings.append((time.perf_counter() - start) * 1e3)
    dims = len(next(iter(vectors.values()))[0])
    print(f"scoring one prompt against them ({dims} dimensions): "
          f"mean {statistics.fmean(timings):.2f} ms")  # fmt: skip

    none = [None] * max(len(final), len(train))
    banks: list[tuple[str, Sequence[Case], list[dict[str, float]]]] = [
        ("final set (213), shipped examples", final, _similarities(final, vectors)),
        ("training sets (3,900), shipped examples", train, _similarities(train, vectors)),
    ]
    by_task: dict[str, list[str]] = {}
    for messages, task in train:
        by_task.setdefault(task, []).append(prompt_text(messages))
    bank = TaskExamples({t: tuple(dict.fromkeys(xs)) for t, xs in by_task.items()})
    banks.append(
        ("final set (213), training prompts as examples", final,
         _similarities(final, _vectors(bank)))
    )  # fmt: skip
    alone = sum(
        max(s, key=s.__getitem__) == t for s, (_, t) in zip(banks[0][2], final, strict=True)
    )
    print(f"the stand-in alone (nearest task type) on the final set: {alone / len(final):.1%}")
    print()
    print("| cases, examples | rules | rules + similarity | rules + model | "
          "rules + model + similarity |")  # fmt: skip
    print("|---|---|---|---|---|")
    for label, cases, sims in banks:
        cells = [
            _accuracy(rules, cases, none),
            _accuracy(rules, cases, sims),
            _accuracy(model, cases, none),
            _accuracy(model, cases, sims),
        ]
        print(f"| {label} | " + " | ".join(f"{c:.1%}" for c in cells) + " |")
    if args.sweep:
        print(f"\nsweep on the training sets (shipped: weight {BLEND_WEIGHT}, "
              f"temperature {TEMPERATURE}):")  # fmt: skip
        _sweep(model, train, banks[1][2])
        print("\nthe same on the final set (looked at when the weight was picked):")
        _sweep(model, final, banks[0][2])


if __name__ == "__main__":
    main()

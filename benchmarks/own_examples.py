"""A task type of the user's own, learned from their examples:
`uv run python -m benchmarks.own_examples`.

The seed routing file gains a row "Travel planning", and tests/data/own_type/task-examples.md
gives it 12 examples (one writer). Then 30 new prompts of that kind, by other writers
(tests/data/own_type/travel_new.jsonl), are classified with the learned model and the
similarity to the examples, as the daemon does: how many go to the user's type. And the
final and fresh task sets are classified with and without the user's examples: what the
other task types lose. The embedder is the stand-in of tests/support (benchmarks/similarity.py
says why), not nomic-embed-text.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.similarity import DATA, _accuracy, _load, _similarities, _vectors
from cortexd.context.paths import default_routing_text
from cortexd.routing.classifier.classify import TaskClassifier
from cortexd.routing.classifier.examples import parse_task_examples, shipped_task_examples
from cortexd.routing.classifier.model import TaskModel
from cortexd.routing.routing_file.parse import parse_routing_text

OWN = "Travel planning"
OWN_DIR = DATA / "own_type"


def with_own_row(text: str) -> str:
    """The routing file with a row for the user's own task type after the table's header."""
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| Task Type"))
    lines.insert(header + 2, f"| {OWN} | sonnet | haiku | the user's own |")
    return "\n".join(lines) + "\n"


def main() -> None:
    table = parse_routing_text(with_own_row(default_routing_text()))
    tasks = table.task_types()
    classifier = TaskClassifier(tasks, model=TaskModel.shipped())
    shipped = shipped_task_examples(tasks)
    mine = parse_task_examples((OWN_DIR / "task-examples.md").read_text("utf-8"), "mine", tasks)
    both = shipped.plus(mine)
    new = _load("own_type/travel_new.jsonl")
    with_mine, without = _vectors(both), _vectors(shipped)
    hits = _accuracy(classifier, new, _similarities(new, with_mine))
    print(f"{len(mine)} examples of '{OWN}'; {len(new)} new prompts of that kind routed to it: "
          f"{hits:.1%}")  # fmt: skip
    for name in ("classify_final.jsonl", "classify_fresh_6.jsonl"):
        if not Path(DATA / name).is_file():
            continue
        cases = _load(name)
        before = _accuracy(classifier, cases, _similarities(cases, without))
        after = _accuracy(classifier, cases, _similarities(cases, with_mine))
        print(f"{name}: the other task types {before:.1%} without the user's examples, "
              f"{after:.1%} with them ({(after - before) * 100:+.1f} points)")  # fmt: skip


if __name__ == "__main__":
    main()

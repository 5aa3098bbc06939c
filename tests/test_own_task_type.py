"""A task type of the user's own, with examples in task-examples.md, can win against the
learned model (which has no label for it) — the real classifier, the stand-in embedder."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.stand_in_embedder import stand_in_vector

from cortexd.context.paths import default_routing_text
from cortexd.routing.classifier.classify import TaskClassifier
from cortexd.routing.classifier.examples import parse_task_examples, shipped_task_examples
from cortexd.routing.classifier.model import TaskModel
from cortexd.routing.classifier.similarity import task_scores, unit
from cortexd.routing.request import Message
from cortexd.routing.routing_file.parse import parse_routing_text

OWN = Path(__file__).parent / "data" / "own_type" / "task-examples.md"


@pytest.fixture(scope="module")
def setup() -> tuple[TaskClassifier, dict[str, tuple]]:  # type: ignore[type-arg]
    lines = default_routing_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| Task Type"))
    lines.insert(header + 2, "| Travel planning | sonnet | haiku | the user's own |")
    tasks = parse_routing_text("\n".join(lines)).task_types()
    assert "Travel planning" in tasks
    examples = shipped_task_examples(tasks).plus(
        parse_task_examples(OWN.read_text("utf-8"), str(OWN), tasks)
    )
    vectors = {t: tuple(unit(stand_in_vector(x)) for x in xs) for t, xs in examples.by_task.items()}
    return TaskClassifier(tasks, model=TaskModel.shipped()), vectors


def _classify(setup: tuple, prompt: str) -> str:  # type: ignore[type-arg]
    classifier, vectors = setup
    scores = task_scores(unit(stand_in_vector(prompt)), vectors)
    return classifier.classify([Message("user", prompt)], scores).task


def test_a_prompt_like_the_users_examples_goes_to_their_own_type(setup: tuple) -> None:  # type: ignore[type-arg]
    prompt = "We are taking the kids to Rome for four days. Sketch a day-by-day family plan?"
    assert _classify(setup, prompt) == "Travel planning"


def test_a_prompt_the_model_is_sure_of_keeps_its_type(setup: tuple) -> None:  # type: ignore[type-arg]
    prompt = "write a python function that parses ISO dates and add pytest tests for it"
    assert _classify(setup, prompt) == "Code generation"

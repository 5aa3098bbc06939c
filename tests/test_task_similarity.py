"""Classification by similarity to example prompts: the pure scorer, the blend with the model
and the rules, the example files (shipped and the user's), and the cache with its fallbacks."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from support.stand_in_embedder import stand_in_embedder, stand_in_vector

from cortexd.routing import (
    TASK_EXAMPLES_FILE,
    Message,
    Router,
    RouteRequest,
    TaskClassifier,
    TaskExamples,
    TaskExamplesError,
    TaskModel,
    TaskSimilarity,
    load_task_examples,
    parse_routing_text,
    parse_task_examples,
    prompt_text,
    shipped_task_examples,
    task_scores,
)
from cortexd.routing.classifier.similarity import blend, distribution, unit

SEED = parse_routing_text(
    (Path(__file__).resolve().parents[1] / "context" / "model-routing.md").read_text()
)
TASKS = SEED.task_types()
#: The model alone sends it to the default route (0.40); it is a shipped Research example.
#: Near a shipped Research / analysis example; the model alone is unsure of it.
UNSURE = "cómo ha evolucionado el precio de la vivienda en Madrid"


def user(text: str) -> list[Message]:
    return [Message("user", text)]


@pytest.mark.parametrize(
    ("prompt", "examples", "k", "expected"),
    [
        ([1, 0], {"a": [[1, 0]], "b": [[0, 1]]}, 3, {"a": 1.0, "b": 0.0}),
        ([1, 0], {"a": [[1, 0], [0, 1]]}, 1, {"a": 1.0}),  # k=1: the nearest only
        ([1, 0], {"a": [[1, 0], [0, 1]]}, 2, {"a": 0.5}),  # the mean of the best two
        ([1, 0], {"a": [[1, 0], [0, 1], [-1, 0]]}, 2, {"a": 0.5}),  # the worst never counts
        ([2, 0], {"a": [[5, 0]], "b": [[-3, 0]]}, 3, {"a": 1.0, "b": -1.0}),  # any scale
        ([1, 1], {"a": [[1, 0]], "empty": []}, 3, {"a": 0.7071}),  # no examples, no score
    ],
)
def test_task_scores(
    prompt: list[float], examples: dict[str, list[list[float]]], k: int, expected: dict[str, float]
) -> None:
    vectors = {t: [unit(v) for v in vs] for t, vs in examples.items()}
    found = task_scores(unit(prompt), vectors, k=k)
    assert {t: round(s, 4) for t, s in found.items()} == expected


def test_vectors_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        task_scores(unit([1, 0, 0]), {"a": [unit([1, 0])]})


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ({}, {}),
        ({"a": 0.3}, {}),  # one score says nothing about which is nearer
        ({"a": 0.3, "b": 0.3}, {}),  # nor do equal ones
        ({"a": 0.9, "b": 0.5, "c": 0.5}, {"a": 0.97, "b": 0.01, "c": 0.01}),
        ({"a": 9.0, "b": 5.0, "c": 5.0}, {"a": 0.97, "b": 0.01, "c": 0.01}),  # scale-free
        ({"a": 0.95, "b": 0.55, "c": 0.55}, {"a": 0.97, "b": 0.01, "c": 0.01}),  # shift-free
    ],
)
def test_distribution(scores: dict[str, float], expected: dict[str, float]) -> None:
    assert {t: round(p, 2) for t, p in distribution(scores).items()} == expected


def test_blend_keeps_a_task_type_only_one_side_knows() -> None:
    mixed = blend({"a": 0.5, "b": 0.5}, {"b": 0.5, "mine": 0.5}, weight=0.2)
    assert {t: round(p, 2) for t, p in mixed.items()} == {"a": 0.4, "b": 0.5, "mine": 0.1}


def test_prompt_text_is_the_start_of_the_latest_user_message() -> None:
    messages = [Message("user", "first"), Message("assistant", "ok"), Message("user", "x" * 5000)]
    assert prompt_text(messages) == "x" * 1000
    assert prompt_text([Message("system", "be brief")]) == ""


# -- the combination rule -----------------------------------------------------------------


@pytest.fixture(scope="module")
def learned() -> TaskClassifier:
    return TaskClassifier(TASKS, model=TaskModel.shipped())


def stand_in_scores(text: str, examples: TaskExamples) -> dict[str, float]:
    vectors = {t: [unit(stand_in_vector(x)) for x in xs] for t, xs in examples.by_task.items()}
    return task_scores(unit(stand_in_vector(text)), vectors)


def test_similarity_decides_where_the_model_is_unsure(learned: TaskClassifier) -> None:
    alone = learned.classify(user(UNSURE))
    assert alone.task != "Research / analysis" and alone.confidence < 0.5
    helped = learned.classify(user(UNSURE), stand_in_scores(UNSURE, shipped_task_examples(TASKS)))
    assert helped.task == "Research / analysis"
    assert helped.reason.startswith("similar to the examples of 'Research / analysis'")
    assert f"the model alone: {alone.task}" in helped.reason
    assert helped.similarity["Research / analysis"] == max(helped.similarity.values())


def test_a_sure_model_is_not_overturned(learned: TaskClassifier) -> None:
    prompt = "review this pull request and point out bugs"
    against = {t: (1.0 if t == "Bulk operations" else 0.0) for t in TASKS}
    found = learned.classify(user(prompt), against)
    assert found.task == "Code review"
    assert "similarity to examples: nearest 'Bulk operations'" in found.reason


def test_without_scores_nothing_changes(learned: TaskClassifier) -> None:
    for prompt in (UNSURE, "save this: the gate code is 4512", "hello"):
        assert learned.classify(user(prompt), None) == learned.classify(user(prompt), {})
        assert learned.classify(user(prompt), {}) == learned.classify(user(prompt))


def test_rules_alone_keep_a_clear_decision_and_yield_an_unsure_one() -> None:
    rules = TaskClassifier(TASKS)
    clear = "review this diff please\n\n--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x\n+y"
    assert rules.classify(user(clear), {"Bulk operations": 1.0, "Code review": 0.0}).task == (
        "Code review"
    )
    vague = "the tram network of Lisbon over the decades"
    assert rules.classify(user(vague)).task == "General agent work"
    sure = {t: (0.9 if t == "Research / analysis" else 0.1) for t in TASKS}
    found = rules.classify(user(vague), sure)
    assert found.task == "Research / analysis"
    assert "the rules alone: no clear task" in found.reason
    flat = {t: 0.5 for t in TASKS}  # no task type stands out: the default route stays
    assert rules.classify(user(vague), flat).task == "General agent work"


def test_scores_for_task_types_the_file_lacks_are_ignored(learned: TaskClassifier) -> None:
    found = learned.classify(user(UNSURE), {"Not a task": 1.0, "Research / analysis": 0.0})
    alone = learned.classify(user(UNSURE)).task
    assert "Not a task" not in found.similarity and found.task == alone


def test_the_router_passes_scores_only_to_classification() -> None:
    router = Router(SEED, TaskModel.shipped())
    scores = stand_in_scores(UNSURE, shipped_task_examples(TASKS))
    assert router.plan(RouteRequest(user(UNSURE)), similarity=scores).task == "Research / analysis"
    given = RouteRequest(user(UNSURE), task="Content drafting")
    assert router.plan(given, similarity=scores).task == "Content drafting"
    assert router.routes_by_class(RouteRequest(user(UNSURE)))
    assert router.routes_by_class(RouteRequest(user(UNSURE), model="auto"))
    assert router.routes_by_class(RouteRequest(user(UNSURE), model="task:"))
    assert not router.routes_by_class(given)
    assert not router.routes_by_class(RouteRequest(user(UNSURE), model="task:Code review"))
    assert not router.routes_by_class(RouteRequest(user(UNSURE), model="gpt-4o"))
    assert not router.routes_by_class(RouteRequest(user("use Opus for this: " + UNSURE)))


# -- example files --------------------------------------------------------------------------


def test_the_shipped_examples_cover_every_seed_task_type() -> None:
    shipped = shipped_task_examples(TASKS)
    assert set(shipped.by_task) == set(TASKS) - {"Embeddings"}
    assert all(8 <= len(xs) <= 20 for xs in shipped.by_task.values())


def test_the_shipped_examples_are_none_of_the_labelled_prompts() -> None:
    import json

    data = Path(__file__).parent / "data"
    prompts = {
        prompt_text([Message(m["role"], m["content"]) for m in json.loads(line)["messages"]])
        for path in data.glob("classify_*.jsonl")
        for line in path.read_text().splitlines()
        if line.strip()
    }
    shipped = {x for xs in shipped_task_examples(TASKS).by_task.values() for x in xs}
    assert shipped & prompts == set()


def test_user_examples_are_added_to_the_shipped_ones(tmp_path: Path) -> None:
    path = tmp_path / TASK_EXAMPLES_FILE
    path.write_text(
        "\ufeff# Task Examples\r\n\r\nMy own, for my trips.\r\n\r\n"
        "## research / ANALYSIS\r\n\r\n- rents in Lisbon since 2015\r\n"
        "- the tram network of Lisbon,\r\n  over the decades\r\n"
        "* review this pull request and point out bugs and style problems\r\n"
        "### Quick Capture / Filing\r\n1. Lisbon hotel: Casa Amora\r\n",
        encoding="utf-8",
    )
    shipped = shipped_task_examples(TASKS)
    found = load_task_examples(TASKS, path)
    research = found.by_task["Research / analysis"]
    assert (
        research[: len(shipped.by_task["Research / analysis"])]
        == (shipped.by_task["Research / analysis"])
    )
    assert research[-3:] == (
        "rents in Lisbon since 2015",
        "the tram network of Lisbon, over the decades",
        "review this pull request and point out bugs and style problems",
    )
    assert found.by_task["Quick capture / filing"][-1] == "Lisbon hotel: Casa Amora"
    assert len(found) == len(shipped) + 4 and found.version != shipped.version
    assert load_task_examples(TASKS, tmp_path / "absent.md") == shipped


def test_a_user_example_can_name_a_task_type_of_their_own() -> None:
    # A routing file with a row of the user's own ("Travel planning") has its task type.
    tasks = [*TASKS, "Travel planning"]
    found = parse_task_examples("## Travel Planning\n- book a hotel", "x.md", tasks)
    assert found.by_task == {"Travel planning": ("book a hotel",)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("## Code reveiw\n- look at this", "x.md:1: 'Code reveiw' is not a task type of the "
         "routing file — did you mean 'Code review'?"),
        ("intro\n- an orphan example\n## Code review\n- fine", "x.md:2: an example before any"),
        ("## Code review\n\n-   \n- fine", "x.md:3: an empty example under 'Code review'"),
    ],
)  # fmt: skip
def test_a_bad_user_file_says_where(text: str, message: str) -> None:
    with pytest.raises(TaskExamplesError) as raised:
        parse_task_examples(text, "x.md", TASKS)
    assert message in str(raised.value)


def test_every_problem_is_reported() -> None:
    with pytest.raises(TaskExamplesError) as raised:
        parse_task_examples("## Nope\n- a\n## Code review\n-\n", "x.md", TASKS)
    assert [p.line for p in raised.value.problems] == [1, 4]


# -- the cache, timeouts and failures -----------------------------------------------------


class Embedder:
    """The stand-in embedder, with a delay or a failure for the prompt, counting its calls."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.delay = delay
        self.fail = fail
        self.calls: list[int] = []

    async def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(len(texts))
        if len(texts) == 1:
            await asyncio.sleep(self.delay)
            if self.fail:
                raise ConnectionError("the embedder went away")
        return await stand_in_embedder(texts)


@pytest.mark.anyio
async def test_examples_are_embedded_once_in_the_background() -> None:
    examples = shipped_task_examples(TASKS)
    index = TaskSimilarity(batch=64)
    embed = Embedder()
    assert await index.scores(embed, "stand-in", examples, UNSURE) is None  # not ready yet
    assert index.stats["not-ready"] == 1
    assert await index.warm(embed, "stand-in", examples)
    assert embed.calls == [64, 64, 28]  # 156 examples in batches
    found = await index.scores(embed, "stand-in", examples, UNSURE)
    assert found is not None and max(found, key=found.__getitem__) == "Research / analysis"
    more = examples.plus(TaskExamples({"Research / analysis": ("rents in Lisbon",)}))
    assert await index.warm(embed, "stand-in", more)
    assert embed.calls[-1] == 1  # only the new example: the others are kept by text
    assert index.stats["examples-embedded"] == 157


@pytest.mark.anyio
async def test_a_slow_or_failing_embedder_means_no_scores() -> None:
    examples = shipped_task_examples(TASKS)
    slow = TaskSimilarity(timeout_s=0.05)
    embed = Embedder(delay=1.0)
    assert await slow.warm(embed, "k", examples)
    began = asyncio.get_running_loop().time()
    assert await slow.scores(embed, "k", examples, UNSURE) is None
    assert asyncio.get_running_loop().time() - began < 0.5
    assert slow.stats["timeout"] == 1
    broken = TaskSimilarity()
    failing = Embedder(fail=True)
    assert await broken.warm(failing, "k", examples)
    assert await broken.scores(failing, "k", examples, UNSURE) is None
    assert broken.stats["error"] == 1


@pytest.mark.anyio
async def test_a_failed_build_is_retried_later_not_on_every_request() -> None:
    now = [0.0]

    async def down(texts: Sequence[str]) -> list[list[float]]:
        raise ConnectionError("not reachable")

    examples = shipped_task_examples(TASKS)
    index = TaskSimilarity(retry_after_s=60, clock=lambda: now[0])
    assert not await index.warm(down, "k", examples)
    assert await index.scores(down, "k", examples, UNSURE) is None
    assert not await index.warm(down, "k", examples)  # no new build within the minute
    now[0] = 61.0
    assert await index.warm(stand_in_embedder, "k", examples)

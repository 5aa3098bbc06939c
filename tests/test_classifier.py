"""Task classification on labelled conversations, conventions and conversation context."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from cortexd.routing.classifier.classify import TaskClassifier
from cortexd.routing.classifier.model import TaskModel
from cortexd.routing.request import Message
from cortexd.routing.table import DEFAULT_TASK

DATA = Path(__file__).parent / "data"
TASKS = [
    "Quick capture / filing", "Meeting summary", "Complex reasoning", "Code generation",
    "Code review", "Content drafting", "Research / analysis", "Classification / routing",
    "Bulk operations", "Security audit", "Vibe coding (interactive)", "Debugging / tracing",
]  # fmt: skip


@pytest.fixture(scope="module")
def classifier() -> TaskClassifier:
    """The rules alone (what runs without the learned model)."""
    return TaskClassifier([*TASKS, DEFAULT_TASK, "Embeddings"])


@pytest.fixture(scope="module")
def learned() -> TaskClassifier:
    """Rules and the shipped learned model: what `cortex route` and the daemon use."""
    return TaskClassifier([*TASKS, DEFAULT_TASK, "Embeddings"], model=TaskModel.shipped())


def user(text: str) -> list[Message]:
    return [Message("user", text)]


def accuracy(classifier: TaskClassifier, name: str) -> tuple[float, float, Counter[str]]:
    good = hard = hard_good = 0
    misses: Counter[str] = Counter()
    cases = [json.loads(line) for line in (DATA / name).read_text().splitlines() if line]
    for case in cases:
        messages = [Message(m["role"], m["content"]) for m in case["messages"]]
        hit = classifier.classify(messages).task == case["task"]
        good += hit
        if case["hard"]:
            hard += 1
            hard_good += hit
        if not hit:
            misses[case["task"]] += 1
    return good / len(cases), hard_good / hard, misses


def test_learned_model_accuracy_on_the_final_set(learned: TaskClassifier) -> None:
    # classify_final.jsonl was written independently and is never trained or tuned on.
    overall, hard, misses = accuracy(learned, "classify_final.jsonl")
    assert overall >= 0.90, misses
    assert hard >= 0.80, misses


def test_learned_model_accuracy_on_the_fresh_set(learned: TaskClassifier) -> None:
    # classify_fresh_6.jsonl was written after the model was frozen (5accfb8) and committed
    # before its first score: 93.5% (hard 92.5%). Never trained on; a floor at that level.
    # (The sets scored in earlier rounds were retired into training.)
    overall, hard, misses = accuracy(learned, "classify_fresh_6.jsonl")
    assert overall >= 0.93, misses
    assert hard >= 0.92, misses


def test_rules_accuracy_on_the_development_set(classifier: TaskClassifier) -> None:
    overall, hard, misses = accuracy(classifier, "classify_dev.jsonl")
    assert overall >= 0.90, misses
    assert hard >= 0.85, misses


def test_rules_alone_on_the_final_set_stay_a_useful_fallback(classifier: TaskClassifier) -> None:
    # Without the model the rules still beat guessing by far; a floor, not a goal.
    overall, _, misses = accuracy(classifier, "classify_final.jsonl")
    assert overall >= 0.60, misses


@pytest.mark.parametrize(
    ("prompt", "task"),
    [
        ("Summarize today's standup: Alice shipped login, Bob is blocked on CI", "Meeting summary"),
        (
            "review this diff please\n\n--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n"
            "-q = db.run(sql, (name,))\n+q = db.run(f\"SELECT * FROM t WHERE n='{name}'\")",
            "Code review",
        ),
        (
            "is this endpoint vulnerable to SQL injection?\n\n@app.get('/u')\ndef u(n): "
            "return db.run(f\"SELECT * FROM u WHERE n='{n}'\")",
            "Security audit",
        ),
        (
            "classify these 3 tickets as bug, billing or other:\n1. app crashes\n2. refund?\n"
            "3. love it",
            "Classification / routing",
        ),
        ("translate all 500 strings in strings.csv to German", "Bulk operations"),
        (
            'why does this fail?\n\nTraceback (most recent call last):\n  File "a.py", line 3, '
            "in <module>\n    main()\nKeyError: 'user'",
            "Debugging / tracing",
        ),
        (
            "should we move from a monolith to microservices? 6 engineers, one product",
            "Complex reasoning",
        ),
        (
            "write an email to the vendor confirming the points we agreed: price, SLA, start date",
            "Content drafting",
        ),
        ("todo: call the dentist tuesday", "Quick capture / filing"),
        ("write a python function that parses ISO 8601 durations", "Code generation"),
        ("Fasse bitte das Protokoll der Besprechung von heute zusammen", "Meeting summary"),
        ("Écris un e-mail au client pour confirmer la date de livraison", "Content drafting"),
        ("escribe una función en Python que valide un IBAN", "Code generation"),
    ],
)
def test_conventions(
    classifier: TaskClassifier, learned: TaskClassifier, prompt: str, task: str
) -> None:
    assert classifier.classify(user(prompt)).task == task
    assert learned.classify(user(prompt)).task == task


@pytest.mark.parametrize("which", ["rules", "learned"])
def test_follow_up_inherits_the_thread(
    classifier: TaskClassifier, learned: TaskClassifier, which: str
) -> None:
    chosen = classifier if which == "rules" else learned
    thread = [
        Message("user", "let's build a little todo app in react, start simple"),
        Message("assistant", "```jsx\nexport function App() { return <button>Add</button> }\n```"),
        Message("user", "ok now make the button blue"),
    ]
    assert chosen.classify(thread).task == "Vibe coding (interactive)"


def test_error_pasted_mid_session_is_vibe_coding(classifier: TaskClassifier) -> None:
    thread = [
        Message("user", "add a save button that posts the form"),
        Message("assistant", "```js\nfetch('/save', {method: 'POST', body})\n```"),
        Message("user", "TypeError: Cannot read properties of undefined (reading 'value')"),
    ]
    assert classifier.classify(thread).task == "Vibe coding (interactive)"


def test_unsure_goes_to_the_default_route(
    classifier: TaskClassifier, learned: TaskClassifier
) -> None:
    for chosen in (classifier, learned):
        result = chosen.classify(user("?"))
        assert result.task == DEFAULT_TASK
        assert "default" in result.reason


def test_learned_reason_names_its_evidence(learned: TaskClassifier) -> None:
    result = learned.classify(user("please review my PR, it touches the auth middleware"))
    assert result.task == "Code review"
    assert "review" in result.reason and 0.3 <= result.confidence <= 1
    assert result.scores["Code review"] == max(result.scores.values())


def test_a_word_among_the_first_is_not_said_to_start_the_prompt(learned: TaskClassifier) -> None:
    result = learned.classify(user("write a haiku about autumn"))
    assert "starts with 'about'" not in result.reason  # it starts with 'write'
    assert "'write' near the start" in result.reason or "'about' near the start" in result.reason


def test_the_learned_model_only_answers_task_types_of_the_table() -> None:
    narrow = TaskClassifier(["Code generation"], model=TaskModel.shipped())
    result = narrow.classify(user("Summarize today's standup: Alice shipped login"))
    assert result.task in {"Code generation", DEFAULT_TASK}


def test_only_task_types_of_the_table_are_returned() -> None:
    narrow = TaskClassifier(["Code generation"])
    result = narrow.classify(user("Summarize today's standup: Alice shipped login"))
    assert result.task in {"Code generation", DEFAULT_TASK}


def test_no_user_message_is_the_default_route(classifier: TaskClassifier) -> None:
    assert classifier.classify([Message("system", "be brief")]).task == DEFAULT_TASK


def test_reason_names_the_evidence(classifier: TaskClassifier) -> None:
    result = classifier.classify(user("please review my PR, it touches the auth middleware"))
    assert result.task == "Code review"
    assert "review" in result.reason and 0 < result.confidence <= 1

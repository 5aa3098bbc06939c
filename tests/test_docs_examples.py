"""Every example prompt in the README and docs/ routes as the text around it says.

Each case names the document, the words it shows (which must still be there: an edited
example must be edited here too), the prompt as a person would send it (a directive the
docs show alone gets a request), and where the docs say it goes — planned by the real
router on the seed routing file with the shipped model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cortexd.routing.classifier.model import TaskModel
from cortexd.routing.request import Message, RouteRequest
from cortexd.routing.router import Router
from cortexd.routing.routing_file.parse import parse_routing_text

ROOT = Path(__file__).resolve().parent.parent
#: The page on how a request is routed, which shows most of the examples.
ROUTING = "docs/routing.md"

#: (document, the words it shows, the prompt sent, the task type or the override model).
TASKS = [
    ("README.md", "Summarize: Alice shipped login, Bob is blocked",
     "Summarize: Alice shipped login, Bob is blocked", "Meeting summary"),
    ("README.md", "Summarize today's standup: Alice shipped login, Bob is blocked",
     "Summarize today's standup: Alice shipped login, Bob is blocked", "Meeting summary"),
    (ROUTING, "why does this fail",
     "why does this fail?\n\nTraceback (most recent call last):\n  File \"app.py\", line 3\n"
     "    main()\nKeyError: 'user_id'", "Debugging / tracing"),
    ("docs/connecting.md", "save this note:", "save this note: call the dentist on Monday",
     "Quick capture / filing"),
    ("docs/classification.md", "write a haiku about autumn", "write a haiku about autumn",
     "Content drafting"),
    ("docs/classification.md", "brainstorm 10 names for my bakery",
     "brainstorm 10 names for my bakery", "Content drafting"),
]  # fmt: skip

OVERRIDES = [
    ("README.md", "use Opus for this", "use Opus for this: explain monads", "opus"),
    ("README.md", "use opus for this: plan my week", "use opus for this: plan my week", "opus"),
    ("README.md", "use opus for this: write me a haiku about autumn",
     "use opus for this: write me a haiku about autumn", "opus"),
    (ROUTING, "send this to Codex", "Sort this list in Go. Send this to Codex.", "codex"),
    (ROUTING, "ask haiku:", "ask haiku: what's 2+2?", "haiku"),
    (ROUTING, "run this on gpt-4o", "run this on gpt-4o: explain monads", "gpt-4o"),
    (ROUTING, "let sonnet handle this", "let sonnet handle this - refactor utils.py", "sonnet"),
    (ROUTING, "[codex]", "[codex] add type hints to utils.py", "codex"),
    (ROUTING, "(use haiku)", "fix the typo in this sentence: teh cat (use haiku)", "haiku"),
    (ROUTING, "use Claude for this", "use Claude for this: explain monads", "sonnet"),
    (ROUTING, "ask ChatGPT", "explain closures, ask ChatGPT", "gpt-4o"),
    ("docs/connecting.md", "use codex for this:", "use codex for this: add a --verbose flag",
     "codex"),
    ("docs/connecting.md", "use gpt-4o for this: say hi", "use gpt-4o for this: say hi", "gpt-4o"),
]  # fmt: skip

MENTIONS = [
    (ROUTING, "compare opus and sonnet pricing", "compare opus and sonnet pricing"),
    (ROUTING, "the haiku I wrote", "the haiku I wrote about autumn needs a better last line"),
    (ROUTING, "don't bother with opus for this", "don't bother with opus for this"),
    (ROUTING, "use sonnet to write a poem", "use sonnet to write a poem about love"),
]


@pytest.fixture(scope="module")
def router(seed_text: str) -> Router:
    return Router(parse_routing_text(seed_text), TaskModel.shipped())


def _shown(document: str, words: str) -> None:
    text = " ".join((ROOT / document).read_text(encoding="utf-8").split())
    assert " ".join(words.split()) in text, f"{document} no longer shows {words!r}"


@pytest.mark.parametrize(("document", "words", "prompt", "task"), TASKS)
def test_the_docs_task_examples_route_as_they_say(
    router: Router, document: str, words: str, prompt: str, task: str
) -> None:
    _shown(document, words)
    plan = router.plan(RouteRequest(messages=(Message("user", prompt),)))
    assert plan.task == task, plan.reasons


@pytest.mark.parametrize(("document", "words", "prompt", "model"), OVERRIDES)
def test_the_docs_overrides_are_overrides(
    router: Router, document: str, words: str, prompt: str, model: str
) -> None:
    _shown(document, words)
    plan = router.plan(RouteRequest(messages=(Message("user", prompt),)))
    assert (plan.decided_by, plan.primary) == ("override", model), plan.reasons


@pytest.mark.parametrize(("document", "words", "prompt"), MENTIONS)
def test_the_docs_mentions_are_not_overrides(
    router: Router, document: str, words: str, prompt: str
) -> None:
    _shown(document, words)
    plan = router.plan(RouteRequest(messages=(Message("user", prompt),)))
    assert plan.decided_by != "override", plan.reasons

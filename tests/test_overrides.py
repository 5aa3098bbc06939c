"""Override detection: directives at the start or end win; mentions never do."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.override_scores import load, score

from cortexd.routing.catalog import build_catalog
from cortexd.routing.overrides.detector import OverrideDetector, UnknownModel

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def detector() -> OverrideDetector:
    return OverrideDetector(build_catalog())


@pytest.mark.parametrize(
    ("prompt", "model", "rest"),
    [
        (
            "use opus for this: write me a haiku about autumn",
            "opus",
            "write me a haiku about autumn",
        ),
        ("Summarize this thread. Send this to Codex.", "codex", "Summarize this thread."),
        ("ask haiku: what's 2+2?", "haiku", "what's 2+2?"),
        ("Run this on GPT-4o: explain monads", "gpt-4o", "explain monads"),
        ("let sonnet handle this - refactor utils.py", "sonnet", "refactor utils.py"),
        ("fix the flaky test, use sonnet", "sonnet", "fix the flaky test"),
        ("USE OPUS FOR THIS!!! why is the sky blue", "opus", "why is the sky blue"),
        ("explain CRDTs\n\n(use Claude Opus 4.5)", "opus", "explain CRDTs"),
        ("[codex] add type hints to utils.py", "codex", "add type hints to utils.py"),
        ("nimm Opus dafür: erkläre Monaden", "opus", "erkläre Monaden"),
        ("frag Haiku: wie spät ist es in Tokio?", "haiku", "wie spät ist es in Tokio?"),
        ("utilise Opus pour ça : explique les monades", "opus", "explique les monades"),
        ("Explique les monades. Envoie ça à Codex.", "codex", "Explique les monades."),
        ("usa Opus para esto: explica las mónadas", "opus", "explica las mónadas"),
        pytest.param(
            "Explica las mónadas, pregúntale a Haiku",
            "haiku",
            "Explica las mónadas",
            marks=pytest.mark.xfail(
                strict=True, reason="rounds 4 and 5 read it as a re-answer: the words stay"
            ),
        ),
        ("Explica las mónadas. Pregúntale a Haiku.", "haiku", "Explica las mónadas."),
        ("use llama3.1:8b for this: tag these notes", "llama3.1:8b", "tag these notes"),
        ("use Claude for this: explain monads", "sonnet", "explain monads"),
        ("explain closures, ask ChatGPT", "gpt-4o", "explain closures"),
    ],
)
def test_directive_is_detected_and_removed(
    detector: OverrideDetector, prompt: str, model: str, rest: str
) -> None:
    found = detector.detect(prompt)
    assert found is not None
    assert (found.model, found.text) == (model, rest)


@pytest.mark.parametrize(
    "prompt",
    [
        "compare opus and sonnet pricing",
        "the haiku I wrote about autumn needs a better last line",
        "don't bother with opus for this",
        "do not use opus for this, it's trivial",
        "write a sonnet about the sea",
        "is codex better than sonnet at rust?",
        "I mostly use sonnet. Is opus worth it?",
        "Haiku: a Japanese poem of seventeen syllables. Is that right?",
        "Sonnet 18 — explain the last couplet",
        "use sonnet to write a poem about love",
        "Sonnet 4.5 vs Opus on SWE-bench, who's ahead?",
        "Why did the router send this to Codex?",
        "what bitrate should I use for voice chat with opus",
        "I asked Claude yesterday and it was wrong",
        "Claude Code keeps crashing on start, why?",
    ],
)
def test_mentions_are_not_overrides(detector: OverrideDetector, prompt: str) -> None:
    assert detector.detect(prompt) is None


def test_text_outside_the_directive_is_untouched(detector: OverrideDetector) -> None:
    prompt = "use opus for this:\n  keep   this\tspacing\n\nand THIS case"
    found = detector.detect(prompt)
    assert found is not None and found.text == "  keep   this\tspacing\n\nand THIS case"


def test_aliases_from_the_routing_file_are_overrides_too() -> None:
    from cortexd.routing.catalog import Api, ModelSpec, Provider

    catalog = build_catalog([ModelSpec("grok", Provider.OPENAI, "grok-4", Api.CHAT)])
    found = OverrideDetector(catalog).detect("use grok for this: hi")
    assert found is not None and found.model == "grok"


@pytest.mark.parametrize(
    ("prompt", "model", "rest"),
    [
        # The model as the object of an infinitive.
        ("ask codex to write a CSV parser in Go", "codex", "write a CSV parser in Go"),
        ("get opus to check this proof: 1 = 0.999…", "opus", "check this proof: 1 = 0.999…"),
        ("have sonnet review this diff:\n- a\n+ b", "sonnet", "review this diff:\n- a\n+ b"),
        ("let haiku handle this: 12 * 12?", "haiku", "12 * 12?"),
        # The model as the subject or the topic.
        ("Sonnet is fine for this: rename the vars in utils.py", "sonnet",
         "rename the vars in utils.py"),
        ("quick one for haiku: capital of Peru?", "haiku", "capital of Peru?"),
        # A vendor's name next to a verb.
        ("let OpenAI handle this one: summarise the thread below", "gpt-4o",
         "summarise the thread below"),
        ("have Anthropic answer this: what is a monad?", "sonnet", "what is a monad?"),
    ],
)  # fmt: skip
def test_new_forms_are_detected_and_removed(
    detector: OverrideDetector, prompt: str, model: str, rest: str
) -> None:
    found = detector.detect(prompt)
    assert found is not None, prompt
    assert (found.model, found.text) == (model, rest)


@pytest.mark.parametrize(
    "prompt",
    [
        # The same shapes, as mentions.
        "I asked codex to write a CSV parser and it failed, why?",
        "how do I get opus to stop adding comments to my code?",
        "should I have sonnet review my diffs, or is that overkill?",
        "Sonnet is fine for this kind of poem: fourteen lines, iambic",
        "a quick one for my haiku collection: autumn leaves falling",
        "OpenAI's pricing page confuses me, explain batch discounts",
        "my boss says: let Anthropic handle the contracts. Is that wise?",
        "Beethoven's Opus 131 is fine for this: a quiet dinner playlist?",
    ],
)
def test_the_same_shapes_as_mentions_are_not_overrides(
    detector: OverrideDetector, prompt: str
) -> None:
    assert detector.detect(prompt) is None


@pytest.mark.parametrize(
    ("prompt", "model", "scope"),
    [
        ("let's keep going in gpt-4o", "gpt-4o", "session"),
        ("from now on use codex", "codex", "session"),
        ("Switch to sonnet for the rest of this session", "sonnet", "session"),
        ("stick with opus for this chat", "opus", "session"),
        ("try that again with opus", "opus", "redo"),
        ("redo that with gpt-4o", "gpt-4o", "redo"),
        ("use opus for this: why is the sky blue", "opus", "turn"),
    ],
)
def test_a_directive_says_how_long_it_holds(
    detector: OverrideDetector, prompt: str, model: str, scope: str
) -> None:
    found = detector.detect(prompt)
    assert found is not None and (found.model, found.scope) == (model, scope)


def test_a_model_the_catalog_lacks_is_read_as_unknown(detector: OverrideDetector) -> None:
    found = detector.read("use gemini for this: explain monads")
    assert isinstance(found, UnknownModel) and found.name == "gemini"
    assert detector.read("is gemini better than sonnet?") is None


def test_the_training_sets_are_learned(detector: OverrideDetector) -> None:
    """In-sample, so a weak bar: it catches a broken feature or a model that no longer
    loads, not how well the detector generalises (the fresh set is for that)."""
    rows = [
        row for path in sorted((DATA / "overrides_train").glob("*.jsonl")) for row in load(path)
    ]
    scores = score(detector, rows)
    assert scores.precision >= 0.99, scores.false_alarms[:5]
    assert scores.recall >= 0.85, scores.misses[:5]
    # Writers differ on whether a reason goes with the directive ("keep this on the local
    # llama, it's client data"): the labels' cuts are not one convention.
    assert scores.cut_right >= 0.75 * scores.right, scores.bad_cuts[:3]


def test_a_directive_after_a_long_paste_is_found(detector: OverrideDetector) -> None:
    paste = "x = 1\n" * 20_000
    found = detector.detect(paste + "\nwhy is this slow? use opus")
    assert found is not None and found.model == "opus"
    assert found.text == paste + "\nwhy is this slow?"


@pytest.mark.parametrize(
    ("prompt", "rest"),
    [
        ("def f(x):\n\nuse opus for this", "def f(x):"),
        ("<!-- keep -->\n\nuse opus for this", "<!-- keep -->"),
        ("items = [1, 2,\n\n(use haiku)", "items = [1, 2,"),
        ("use opus for this:\n    indented = 1", "    indented = 1"),
    ],
)
def test_removing_a_directive_never_touches_the_other_lines(
    detector: OverrideDetector, prompt: str, rest: str
) -> None:
    found = detector.detect(prompt)
    assert found is not None and found.text == rest


def test_the_fresh_set_scores_no_worse_than_recorded(detector: OverrideDetector) -> None:
    """Fresh set I was written after the model was frozen (08cb40b) and committed before its
    first score: recall 73.8%, precision 96.5% (docs/classification.md); 76.2% at 96.6% after
    the slips read since. Nothing may train on it; this holds today's level, so a change that
    loses ground on unseen text fails here. (The sets scored in earlier rounds were retired
    into training.)"""
    scores = score(detector, load(DATA / "overrides_fresh_i.jsonl"))
    assert scores.directives == 340
    assert scores.recall >= 0.76, scores.misses[:5]  # 0.738 at first contact; slips since
    assert scores.precision >= 0.96, scores.false_alarms
    assert scores.unknown_found >= 18

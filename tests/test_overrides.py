"""Override detection: directives at the start or end win; mentions never do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cortexd.routing.catalog import build_catalog
from cortexd.routing.overrides import OverrideDetector

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
        ("Explica las mónadas, pregúntale a Haiku", "haiku", "Explica las mónadas"),
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
        "send this to codex",  # nothing left to answer: not an override
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
    "name", ["overrides.jsonl", "overrides_holdout.jsonl", "overrides_final.jsonl"]
)
def test_labelled_set_precision_and_recall(detector: OverrideDetector, name: str) -> None:
    cases = [json.loads(line) for line in (DATA / name).read_text().splitlines() if line]
    tp = fp = fn = 0
    wrong_text = []
    for case in cases:
        found = detector.detect(case["prompt"])
        if case["model"] is None:
            fp += found is not None
        elif found is not None and found.model == case["model"]:
            tp += 1
            if found.text != case["cleaned"]:
                wrong_text.append(case["id"])
        else:
            fn += 1
    assert len(cases) >= 150
    assert tp / (tp + fp) >= 0.98, f"precision {tp / (tp + fp):.3f}"
    assert tp / (tp + fn) >= 0.95, f"recall {tp / (tp + fn):.3f}"
    assert wrong_text == []


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

"""Revocations: "back to normal routing", "stop forcing opus", "elige tú el modelo otra vez".

A revocation ends a session directive. It often names no model, so the span model has
nothing to score; a small learned model reads the turn's first sentence instead (its words
and pairs, with any model's name as one token), trained with the override model by
``scripts/train_overrides.py`` and shipped as ``revocation_model.json``. A turn none of
whose words any training revocation used (`cues`) is not read further: most turns cost a
substring test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from cortexd.routing.classifier.model import TaskModel, load
from cortexd.routing.overrides.features import tokens
from cortexd.routing.overrides.spans import CandidateFinder

MODEL_FILE = "revocation_model.json"
REVOKE = "revoke"
_FIRST = re.compile(r"(?<=[.!?])\s|\n")
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


def first_sentence(text: str) -> str:
    """What a revocation is read in: the turn's first sentence (200 characters at most).

    >>> first_sentence("stop forcing codex. How do I center a div?")
    'stop forcing codex.'
    """
    return _FIRST.split(text.lstrip(), maxsplit=1)[0][:200]


def features_of(sentence: str, finder: CandidateFinder) -> dict[str, float]:
    """Words, pairs and word starts of a first sentence; a model's name is ``<m>``."""
    spans = [(c.start, c.end) for c in finder.find(sentence)]
    words: list[str] = []
    for t in tokens(sentence):
        if any(s <= t.start < e for s, e in spans):
            if not words or words[-1] != "<m>":
                words.append("<m>")
        elif t.text[0].isalnum():
            words.append(t.text)
    f: dict[str, float] = {"bias": 1.0, f"len:{min(len(words), 12) // 3}": 1.0}
    for word in words:
        f[f"w:{word}"] = 1.0
        if len(word) > 4:
            f[f"p:{word[:4]}"] = 1.0
    for a, b in zip(words, words[1:], strict=False):
        f[f"b:{a}_{b}"] = 1.0
    # Pairs one word apart: "stop using codex" and "stop forcing codex" share "stop _ <m>".
    for a, c in zip(words, words[2:], strict=False):
        f[f"s:{a}_{c}"] = 1.0
    if words:
        f[f"first:{words[0]}"] = 1.0
    if sentence.rstrip().endswith("?"):
        f["question"] = 1.0
    if any(q in sentence for q in "\"'“«„`"):
        f["quoted"] = 1.0
    return f


@dataclass(frozen=True)
class RevocationModel:
    """The weights (labels ``other`` and ``revoke``), the threshold and the cue words."""

    weights: TaskModel
    threshold: float
    cues: frozenset[str]

    @classmethod
    def from_json(cls, text: str) -> RevocationModel:
        """Read a model with its weights inside (`to_json`)."""
        data = json.loads(text)
        return cls.of(TaskModel.of_data(data), data)

    @classmethod
    def of(cls, weights: TaskModel, data: Mapping[str, Any]) -> RevocationModel:
        """The model of `weights` and the rest of its JSON `data`."""
        return cls(weights, float(data["threshold"]), frozenset(data["cues"]))

    def to_json(self) -> str:
        """The shipped form."""
        data = json.loads(self.weights.to_json())
        data["threshold"] = round(self.threshold, 4)
        data["cues"] = sorted(self.cues)
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n"

    @classmethod
    def shipped(cls) -> RevocationModel:
        """The model that ships with cortexd."""
        return cls.of(*load(files("cortexd.routing.overrides"), MODEL_FILE))

    def chance(self, text: str, finder: CandidateFinder) -> float:
        """How likely the turn `text` revokes a session directive (0 without a cue word)."""
        sentence = first_sentence(text)
        if self.cues.isdisjoint(_WORD.findall(sentence.casefold())):
            return 0.0
        labels = self.weights.labels
        p = self.weights.probabilities(features_of(sentence, finder), frozenset(labels))
        return p[labels.index(REVOKE)]

    def revokes(self, text: str, finder: CandidateFinder) -> bool:
        """Whether the turn `text` revokes a session directive."""
        return self.chance(text, finder) >= self.threshold

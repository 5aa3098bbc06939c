"""The learned override model: is a model's name in a prompt a directive, and for how long?

One multinomial logistic regression over overrides/features.py with four labels: a mention,
or a directive for this turn, for the rest of the session, or to re-answer the last
request. It is the task model's kind (classifier/model.py: a sum of packed weights, no numpy),
trained offline by ``scripts/train_overrides.py`` and shipped as ``override_model.json``
with the words directives are made of (overrides/extent.py) and the threshold the training
chose for precision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from cortexd.routing.classifier.model import TaskModel, load
from cortexd.routing.overrides.extent import Vocabulary

MODEL_FILE = "override_model.json"
MENTION = "mention"
SCOPES = ("turn", "session", "redo")


@dataclass(frozen=True)
class Reading:
    """What the model makes of one candidate: the chance it is a directive, and its scope."""

    directive: float
    scope: str


@dataclass(frozen=True)
class OverrideModel:
    """The weights, the directive vocabulary and the decision threshold."""

    weights: TaskModel
    vocabulary: Vocabulary
    threshold: float

    @classmethod
    def from_json(cls, text: str) -> OverrideModel:
        """Read a model with its weights inside (`to_json`)."""
        data = json.loads(text)
        return cls.of(TaskModel.of_data(data), data)

    @classmethod
    def of(cls, weights: TaskModel, data: Mapping[str, Any]) -> OverrideModel:
        """The model of `weights` and the rest of its JSON `data`."""
        if set(weights.labels) != {MENTION, *SCOPES}:
            raise ValueError(f"override model: labels must be {MENTION} and {', '.join(SCOPES)}")
        vocabulary = Vocabulary(frozenset(data["directive_words"]), frozenset(data["lead_out"]))
        return cls(weights, vocabulary, float(data["threshold"]))

    def to_json(self) -> str:
        """The shipped form: the packed weights with the vocabulary and the threshold."""
        data = json.loads(self.weights.to_json())
        data["directive_words"] = sorted(self.vocabulary.directive_words)
        data["lead_out"] = sorted(self.vocabulary.lead_out)
        data["threshold"] = round(self.threshold, 4)
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n"

    @classmethod
    def shipped(cls) -> OverrideModel:
        """The model that ships with cortexd."""
        return cls.of(*load(files("cortexd.routing.overrides"), MODEL_FILE))

    def read(self, features: Mapping[str, float]) -> Reading:
        """The chance that the candidate with these features is a directive, and its scope."""
        labels = self.weights.labels
        p = self.weights.probabilities(features, frozenset(labels))
        by_label = dict(zip(labels, p, strict=True))
        scope = max(SCOPES, key=by_label.__getitem__)
        return Reading(1.0 - by_label[MENTION], scope)

"""The learned task model: multinomial logistic regression over task_features.

Trained offline by ``scripts/train_classifier.py`` on the labelled sets in tests/data and
shipped as ``task_model.json`` (package data). Inference is a sum of weights of the features
present: no numpy, well under a millisecond.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files

MODEL_FILE = "task_model.json"


@dataclass(frozen=True)
class TaskModel:
    """Weights per feature and label; `labels` orders every weight vector."""

    labels: tuple[str, ...]
    bias: tuple[float, ...]
    weights: Mapping[str, tuple[float, ...]]

    @classmethod
    def from_json(cls, text: str) -> TaskModel:
        """Read a model written by the training script."""
        data = json.loads(text)
        labels = tuple(data["labels"])
        weights = {k: tuple(v) for k, v in data["weights"].items()}
        if any(len(v) != len(labels) for v in weights.values()) or len(data["bias"]) != len(labels):
            raise ValueError("task model: every weight vector must have one value per label")
        return cls(labels, tuple(data["bias"]), weights)

    @classmethod
    def shipped(cls) -> TaskModel:
        """The model that ships with cortexd."""
        return cls.from_json(files("cortexd.routing").joinpath(MODEL_FILE).read_text("utf-8"))

    def logits(self, features: Mapping[str, float]) -> list[float]:
        """Unnormalised scores, one per label."""
        scores = list(self.bias)
        for name, value in features.items():
            w = self.weights.get(name)
            if w is not None:
                scores = [s + x * value for s, x in zip(scores, w, strict=True)]
        return scores

    def probabilities(self, features: Mapping[str, float], allowed: frozenset[str]) -> list[float]:
        """Softmax over the labels in `allowed` (others get 0)."""
        logits = self.logits(features)
        top = max(v for v, label in zip(logits, self.labels, strict=True) if label in allowed)
        exps = [
            math.exp(v - top) if label in allowed else 0.0
            for v, label in zip(logits, self.labels, strict=True)
        ]
        total = sum(exps)
        return [e / total for e in exps]

    def evidence(self, features: Mapping[str, float], label: str, n: int = 3) -> list[str]:
        """The features that pushed hardest towards `label`, for the plan's reasons."""
        k = self.labels.index(label)
        pushes = [
            (self.weights[name][k] * value, name)
            for name, value in features.items()
            if name in self.weights
        ]
        pushes.sort(reverse=True)
        return [f"{_describe(name)} ({push:+.1f})" for push, name in pushes[:n] if push > 0]


def _describe(feature: str) -> str:
    kind, _, value = feature.partition(":")
    return {
        "w": f"'{value}'",
        "p": f"'{value}…'",
        "b": f"'{value.replace('_', ' ')}'",
        "h": f"starts with '{value}'",
        "pw": f"earlier '{value}'",
        "s": value.replace("-", " "),
        "t": value.replace("-", " "),
        "r": f"rules: {value}",
    }.get(kind, feature)

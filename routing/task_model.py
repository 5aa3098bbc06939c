"""The learned task model: multinomial logistic regression over task_features.

Trained offline by ``scripts/train_classifier.py`` on the labelled sets in tests/data and
shipped as ``task_model.json`` (package data). Inference is a sum of weights of the features
present: no numpy, well under a millisecond.
"""

from __future__ import annotations

import base64
import json
import math
import sys
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.resources import files

MODEL_FILE = "task_model.json"


class Weights(Mapping[str, tuple[float, ...]]):
    """Feature -> one weight per label, stored as one flat array of 32-bit floats.

    30,000 features as lists and tuples of float objects kept 30 MiB of the daemon resident
    (the parse's garbage stays in Python's arenas); packed, the model takes about 4 MiB.
    """

    def __init__(self, features: list[str], flat: array[float], width: int) -> None:
        if len(flat) != len(features) * width:
            raise ValueError("task model: every weight vector must have one value per label")
        self.rows = {name: i * width for i, name in enumerate(features)}
        self.flat = flat
        self.width = width

    def __getitem__(self, name: str) -> tuple[float, ...]:
        start = self.rows[name]
        return tuple(self.flat[start : start + self.width])

    def __iter__(self) -> Iterator[str]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class TaskModel:
    """Weights per feature and label; `labels` orders every weight vector."""

    labels: tuple[str, ...]
    bias: tuple[float, ...]
    weights: Weights

    @classmethod
    def from_json(cls, text: str) -> TaskModel:
        """Read a model: packed as shipped, or with a ``weights`` object per feature."""
        data = json.loads(text)
        labels = tuple(data["labels"])
        if len(data["bias"]) != len(labels):
            raise ValueError("task model: the bias must have one value per label")
        flat = array("f")
        if "packed" in data:
            features = list(data["features"])
            flat.frombytes(base64.b64decode(data["packed"]))
            if sys.byteorder == "big":  # pragma: no cover - packed little-endian
                flat.byteswap()
        else:
            vectors: dict[str, list[float]] = data["weights"]
            if any(len(v) != len(labels) for v in vectors.values()):
                raise ValueError("task model: every weight vector must have one value per label")
            features = list(vectors)
            for vector in vectors.values():
                flat.extend(vector)
        return cls(labels, tuple(data["bias"]), Weights(features, flat, len(labels)))

    def to_json(self) -> str:
        """The packed form that ships: weights as base64 of little-endian 32-bit floats."""
        flat = array("f", self.weights.flat)
        if flat.itemsize != 4:  # pragma: no cover - every platform cortexd runs on
            raise ValueError("task model: 32-bit floats are needed to pack the weights")
        if sys.byteorder == "big":  # pragma: no cover - packed little-endian
            flat.byteswap()
        packed = base64.b64encode(flat.tobytes()).decode("ascii")
        data = {
            "labels": list(self.labels),
            "bias": list(self.bias),
            "features": list(self.weights),
            "packed": packed,
        }
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n"

    @classmethod
    def shipped(cls) -> TaskModel:
        """The model that ships with cortexd."""
        return cls.from_json(files("cortexd.routing").joinpath(MODEL_FILE).read_text("utf-8"))

    def logits(self, features: Mapping[str, float]) -> list[float]:
        """Unnormalised scores, one per label."""
        rows, flat = self.weights.rows, self.weights.flat
        found = [(i, v) for name, v in features.items() if (i := rows.get(name)) is not None]
        # Label by label: one pass over the found rows each, no list built per feature.
        return [b + sum(flat[start + k] * v for start, v in found) for k, b in enumerate(self.bias)]

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

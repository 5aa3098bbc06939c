"""The learned task model: multinomial logistic regression over classifier/features.py.

Trained offline by ``scripts/train_classifier.py`` on the labelled sets in tests/data and
shipped as ``task_model.json`` with its weights in ``task_model.bin`` beside it (package
data). Inference is a sum of weights of the features present: no numpy, well under a
millisecond.

The weights file is mapped into memory, not read: a page of it is resident only once a
lookup has touched it, and the kernel may drop it again under pressure. Read from base64 in
the JSON, the task model's 3 MiB of weights cost the daemon 10.5 MiB resident, the parse's
temporaries left in the heap.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import mmap
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, cast

MODEL_FILE = "task_model.json"
#: How many features' rows a model remembers between prompts (about 1 MiB of them).
MET_KEPT = 8192


def feature_key(name: str) -> int:
    """A feature's 64-bit key: the first 8 bytes of BLAKE2b of its UTF-8, the same in every
    process and on every machine (unlike `hash`).

    >>> feature_key("w:summarize") == feature_key("w:summarize") != feature_key("w:summary")
    True
    """
    digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class Weights:
    """Feature -> one weight per label: the features' 64-bit keys in one sorted sequence and
    the weights in one flat sequence of 32-bit floats, row by row in the keys' order (arrays,
    or views of the mapped weights file: `load`).

    53,000 feature names as strings in a dict, with the parse's garbage left in Python's
    arenas, kept 15 MiB of the daemon resident; as two arrays the model takes 3 MiB, loads
    without building anything, and a lookup is a hash and a binary search (under a
    microsecond). The names themselves are not kept: a model can be asked for a feature it
    knows, not for the list of them.
    """

    def __init__(self, keys: Sequence[int], flat: Sequence[float], width: int) -> None:
        if len(flat) != len(keys) * width:
            raise ValueError("task model: every weight vector must have one value per label")
        if any(keys[i] >= keys[i + 1] for i in range(len(keys) - 1)):
            raise ValueError("task model: the feature keys must be sorted and distinct")
        self.keys = keys
        self.flat = flat
        self.width = width
        # The rows of the features met lately (common words recur in every prompt): a hash
        # and a search saved for each. Bounded: emptied when full.
        self._met: dict[str, int | None] = {}

    @classmethod
    def of(cls, vectors: Iterable[tuple[str, Sequence[float]]], width: int) -> Weights:
        """Weights from (feature name, vector) pairs, in any order."""
        rows = sorted((feature_key(name), vector) for name, vector in vectors)
        keys = array("Q", (key for key, _ in rows))
        flat = array("f")
        for _, vector in rows:
            if len(vector) != width:
                raise ValueError("task model: every weight vector must have one value per label")
            flat.extend(vector)
        return cls(keys, flat, width)

    def row(self, name: str) -> int | None:
        """Where `name`'s weights start in `flat`; None for a feature the model lacks."""
        met = self._met
        if name in met:
            return met[name]
        key = feature_key(name)
        at = bisect_left(self.keys, key)
        found = at * self.width if at < len(self.keys) and self.keys[at] == key else None
        if len(met) >= MET_KEPT:
            met.clear()
        met[name] = found
        return found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.row(name) is not None

    def __getitem__(self, name: str) -> tuple[float, ...]:
        start = self.row(name)
        if start is None:
            raise KeyError(name)
        return tuple(self.flat[start : start + self.width])

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(frozen=True)
class TaskModel:
    """Weights per feature and label; `labels` orders every weight vector."""

    labels: tuple[str, ...]
    bias: tuple[float, ...]
    weights: Weights

    @classmethod
    def from_json(cls, text: str) -> TaskModel:
        """Read a model with its weights inside: packed (`to_json`), or with a ``weights``
        object per feature."""
        return cls.of_data(json.loads(text))

    @classmethod
    def of_data(cls, data: Mapping[str, Any], weights: Weights | None = None) -> TaskModel:
        """A model from its decoded JSON; `weights` when they come from a file of their own."""
        labels = tuple(data["labels"])
        if len(data["bias"]) != len(labels):
            raise ValueError("task model: the bias must have one value per label")
        width = len(labels)
        if weights is not None:
            if weights.width != width:
                raise ValueError("task model: every weight vector must have one value per label")
        elif "keys" in data:  # packed: the features' keys, sorted, and their weights
            keys, flat = array("Q"), array("f")
            keys.frombytes(base64.b64decode(data["keys"]))
            flat.frombytes(base64.b64decode(data["packed"]))
            if sys.byteorder == "big":  # pragma: no cover - packed little-endian
                keys.byteswap()
                flat.byteswap()
            weights = Weights(keys, flat, width)
        elif "packed" in data:  # named features, packed weights (models before issue 24)
            flat = array("f")
            flat.frombytes(base64.b64decode(data["packed"]))
            if sys.byteorder == "big":  # pragma: no cover - packed little-endian
                flat.byteswap()
            names = list(data["features"])
            if len(flat) != len(names) * width:
                raise ValueError("task model: every weight vector must have one value per label")
            rows = ((n, flat[i * width : (i + 1) * width]) for i, n in enumerate(names))
            weights = Weights.of(rows, width)
        else:
            vectors: dict[str, list[float]] = data["weights"]
            weights = Weights.of(vectors.items(), width)
        return cls(labels, tuple(data["bias"]), weights)

    def to_json(self) -> str:
        """The form that ships: the features' keys as base64 of little-endian unsigned
        64-bit integers, sorted, and their weights as base64 of little-endian 32-bit floats,
        row by row in the same order."""
        keys = array("Q", self.weights.keys)
        flat = array("f", self.weights.flat)
        if flat.itemsize != 4 or keys.itemsize != 8:  # pragma: no cover - every platform
            raise ValueError("task model: 64-bit keys and 32-bit floats are needed to pack")
        if sys.byteorder == "big":  # pragma: no cover - packed little-endian
            keys.byteswap()
            flat.byteswap()
        data = {
            "labels": list(self.labels),
            "bias": list(self.bias),
            "keys": base64.b64encode(keys.tobytes()).decode("ascii"),
            "packed": base64.b64encode(flat.tobytes()).decode("ascii"),
        }
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n"

    @classmethod
    def shipped(cls) -> TaskModel:
        """The model that ships with cortexd."""
        return load(files("cortexd.routing.classifier"), MODEL_FILE)[0]

    def logits(self, features: Mapping[str, float]) -> list[float]:
        """Unnormalised scores, one per label."""
        row, flat = self.weights.row, self.weights.flat
        found = [(i, v) for name, v in features.items() if (i := row(name)) is not None]
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
        "h": f"'{value}' near the start",  # among the first words (features._HEAD_TOKENS)
        "pw": f"earlier '{value}'",
        "s": value.replace("-", " "),
        "t": value.replace("-", " "),
        "r": f"rules: {value}",
    }.get(kind, feature)


def load(folder: Traversable, name: str) -> tuple[TaskModel, dict[str, Any]]:
    """The model in `folder`'s JSON file `name`, and that JSON (a model built on the task
    model's kind keeps more in it). Its weights are mapped from the file the JSON names
    (``weights_file``), or read from the JSON itself where they are inside it."""
    data = json.loads(folder.joinpath(name).read_text("utf-8"))
    mapped = data.get("weights_file")
    if mapped is None:
        return TaskModel.of_data(data), data
    width, count = len(data["labels"]), int(data["features"])
    with as_file(folder.joinpath(mapped)) as path, open(path, "rb") as handle:
        # The mapping outlives the file handle (and a temporary copy's removal).
        view = memoryview(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
    if len(view) != count * (8 + 4 * width):
        raise ValueError(f"{mapped}: {len(view)} bytes for {count} features of {width} labels")
    keys = cast("Sequence[int]", view[: count * 8].cast("Q"))
    flat = cast("Sequence[float]", view[count * 8 :].cast("f"))
    if sys.byteorder == "big":  # pragma: no cover - the file is little-endian
        keys, flat = _swapped(array("Q", keys)), _swapped(array("f", flat))
    return TaskModel.of_data(data, Weights(keys, flat, width)), data


def _swapped(values: array[Any]) -> array[Any]:  # pragma: no cover - big-endian machines
    values.byteswap()
    return values


def split_weights(json_path: Path) -> None:
    """Rewrite a model file with its weights inside (`TaskModel.to_json` and the models
    built on it) as the shipped pair: the JSON without them, naming ``<stem>.bin`` beside
    it, which holds the keys and then the weights, little-endian, as `load` maps them."""
    data = json.loads(json_path.read_text(encoding="utf-8"))
    keys, packed = base64.b64decode(data.pop("keys")), base64.b64decode(data.pop("packed"))
    weights_file = json_path.with_suffix(".bin")
    weights_file.write_bytes(keys + packed)
    data["weights_file"] = weights_file.name
    data["features"] = len(keys) // 8
    json_path.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n")

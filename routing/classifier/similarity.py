"""Classification by similarity to example prompts: pure scoring and the blend with the model.

A prompt's vector is compared with the vectors of each task type's examples
(classifier/examples.py); a task type scores the mean of its `TOP_K` highest cosine similarities
(one stray example neither makes nor breaks it). Those scores become a distribution
(`distribution`) that the classifier blends with the learned model's probabilities
(`blend`). Plain Python over `array` vectors: the shipped 156 examples at nomic's 768
dimensions take 7 ms on Python 3.11 and 0.3 ms with 3.12's math.sumprod (docs/classification.md,
"Similarity to example prompts"), so the daemon scores in a worker thread.
"""

from __future__ import annotations

import math
import operator
from array import array
from collections.abc import Callable, Mapping, Sequence
from typing import TypeAlias

from cortexd.routing.request import Message

#: The examples per task type that count: the mean of the best few, not the single best.
TOP_K = 3
#: The model's probabilities weigh (1 - BLEND_WEIGHT), similarity BLEND_WEIGHT. Chosen on the
#: training sets with the stand-in embedder (benchmarks/similarity.py); see docs/classification.md.
BLEND_WEIGHT = 0.2
#: Sharpness of the similarity distribution, in standard deviations of the task scores: a
#: task type one spread above another is exp(1/0.5) ≈ 7 times as likely. Measured in spreads,
#: not raw cosines, because embedders differ in range (nomic's cosines sit between 0.4 and
#: 0.9, a hashed bag of words' between 0 and 0.5).
TEMPERATURE = 0.5
#: Without the model, the rules' "unsure" gives way to similarity this sure.
RULES_MIN_SHARE = 0.5
#: Characters of the latest user message embedded: its start says what is asked, and a long
#: paste (a diff, a transcript) would cost the embedder time the request cannot spare.
PROMPT_CHARS = 1000

#: A unit vector of 32-bit floats (a quarter of the memory of a list of floats).
Vector: TypeAlias = "array[float]"  # array is subscriptable only from Python 3.12


def unit(values: Sequence[float]) -> Vector:
    """`values` scaled to length 1 (all zeros stays all zeros), as 32-bit floats.

    >>> list(unit([3.0, 4.0]))
    [0.6000000238418579, 0.800000011920929]
    """
    norm = math.sqrt(math.fsum(v * v for v in values))
    return array("f", (v / norm for v in values) if norm else values)


def _sum_of_products(a: Vector, b: Vector) -> float:
    return float(sum(map(operator.mul, a, b)))


#: math.sumprod (Python 3.12) is 30 times as fast as the generic sum of products.
_dot: Callable[[Vector, Vector], float] = getattr(math, "sumprod", _sum_of_products)


def cosine(a: Vector, b: Vector) -> float:
    """The cosine of two unit vectors of the same length."""
    if len(a) != len(b):
        raise ValueError(f"vectors of different lengths: {len(a)} and {len(b)}")
    return _dot(a, b)


def task_scores(
    prompt: Vector, examples: Mapping[str, Sequence[Vector]], k: int = TOP_K
) -> dict[str, float]:
    """Each task type's mean of its `k` best cosine similarities to `prompt`.

    >>> ex = {"a": [unit([1, 0]), unit([1, 1])], "b": [unit([0, 1])]}
    >>> {t: round(s, 2) for t, s in task_scores(unit([1, 0]), ex, k=2).items()}
    {'a': 0.85, 'b': 0.0}
    """
    scores = {}
    for task, vectors in examples.items():
        if vectors:
            best = sorted((cosine(prompt, v) for v in vectors), reverse=True)[:k]
            scores[task] = sum(best) / len(best)
    return scores


def distribution(scores: Mapping[str, float], temperature: float = TEMPERATURE) -> dict[str, float]:
    """A softmax of the scores measured in standard deviations of the scores themselves.

    Shifting or stretching every score alike leaves it unchanged. Fewer than two scores, or
    equal ones, say nothing about which task type is nearer: no shares at all.

    >>> {t: round(p, 2) for t, p in distribution({"a": 0.9, "b": 0.5, "c": 0.5}).items()}
    {'a': 0.97, 'b': 0.01, 'c': 0.01}
    """
    values = list(scores.values())
    if len(values) < 2:
        return {}
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    if spread < 1e-9:
        return {}
    top = max(values)
    exps = {task: math.exp((s - top) / (spread * temperature)) for task, s in scores.items()}
    total = sum(exps.values())
    return {task: e / total for task, e in exps.items()}


def blend(
    probabilities: Mapping[str, float], shares: Mapping[str, float], weight: float = BLEND_WEIGHT
) -> dict[str, float]:
    """(1 - weight) × the model's probabilities + weight × the similarity shares.

    A task type only one side knows (a user's own task type has examples but no model
    label) gets its share from that side alone.

    >>> blend({"a": 0.6, "b": 0.4}, {"b": 1.0}, weight=0.5)
    {'a': 0.3, 'b': 0.7}
    """
    tasks = dict.fromkeys([*probabilities, *shares])
    return {
        t: (1 - weight) * probabilities.get(t, 0.0) + weight * shares.get(t, 0.0) for t in tasks
    }


def prompt_text(messages: Sequence[Message]) -> str:
    """What is embedded of a conversation: the start of the latest user message.

    >>> prompt_text([Message("user", "fix the bug"), Message("assistant", "done")])
    'fix the bug'
    """
    text = next((m.content for m in reversed(messages) if m.role == "user"), "")
    return text.strip()[:PROMPT_CHARS]

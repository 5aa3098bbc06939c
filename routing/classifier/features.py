"""Features of a conversation for the learned task model.

Words of the latest user message's prose (accents folded, so "réunion" and "reunion" meet),
their 5-letter prefixes (a cheap stem across languages), word pairs, the first words (where
the ask usually is), words of the previous user message, the shapes of the message (a diff,
a trace, a transcript, rows, code), the thread (a coding session, a short follow-up), and the
rule-based evidence of classifier/rules.py, scaled.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from cortexd.routing.classifier.rules import (
    Evidence,
    MessageView,
    analyse,
    is_coding_session,
    rule_evidence,
)
from cortexd.routing.request import Message

_TOKEN = re.compile(r"[a-z0-9]{2,}")
_MAX_TOKENS = 400
_HEAD_TOKENS = 8


def fold(text: str) -> str:
    """Lower-case without accents: "Réunion" → "reunion"."""
    # NFKD splits "é" into "e" + a combining accent; dropping non-ASCII removes the accents
    # (and letters outside the Latin script, which the model has no words for anyway).
    return unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()


def tokens(view: MessageView) -> list[str]:
    """The words of a message's prose, folded."""
    return _TOKEN.findall(fold(view.prose))[:_MAX_TOKENS]


def features_of(messages: Sequence[Message]) -> dict[str, float]:
    """Analyse a conversation and extract its features (the training script's entry)."""
    views = analyse(messages)
    return extract(messages, views, rule_evidence(messages, views))


def extract(
    messages: Sequence[Message], views: Sequence[MessageView | None], evidence: Evidence
) -> dict[str, float]:
    """The feature vector (sparse: name → value) of a conversation."""
    users = [i for i, v in enumerate(views) if v is not None]
    if not users:
        return {}
    view = views[users[-1]]
    assert view is not None
    words = tokens(view)
    f: dict[str, float] = {}
    for word in words:
        f["w:" + word] = 1.0
        if len(word) > 5:
            f["p:" + word[:5]] = 1.0
    for a, b in zip(words, words[1:], strict=False):
        f[f"b:{a}_{b}"] = 1.0
    for word in words[:_HEAD_TOKENS]:
        f["h:" + word] = 1.0
    previous = views[users[-2]] if len(users) > 1 else None
    if previous is not None:
        for word in tokens(previous)[:200]:
            f["pw:" + word] = 0.5
    _shape_features(view, words, f)
    history = messages[: users[-1]]
    if is_coding_session(history):
        f["t:coding-session"] = 1.0
        if len(words) <= 25:
            f["t:coding-followup"] = 1.0
    if len(users) > 1:
        f["t:thread"] = 1.0
    for task, score in evidence.scores.items():
        f["r:" + task] = max(-2.0, min(score, 10.0)) / 2
    return f


def _shape_features(v: MessageView, words: list[str], f: dict[str, float]) -> None:
    if v.has_diff:
        f["s:diff"] = 1.0
    if v.has_trace:
        f["s:trace"] = 1.0
    if v.speakers >= 3:
        f["s:transcript"] = 1.0
    if v.rows >= 12 or v.items >= 15:
        f["s:many-rows"] = 1.0
    elif 2 <= max(v.rows, v.items) <= 10:
        f["s:few-items"] = 1.0
    if v.code_lines >= 2:
        f["s:code"] = 1.0
    if v.operation_over_items:
        f["s:operation-over-items"] = 1.0
    n = len(words)
    f["s:len-" + ("tiny" if n <= 4 else "short" if n <= 12 else "mid" if n <= 60 else "long")] = 1.0
    if v.text.rstrip().endswith("?"):
        f["s:question"] = 1.0

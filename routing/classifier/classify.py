"""Task classification: fast, local, explainable (no network, about a millisecond).

Two layers. Rules (classifier/rules.py) add up evidence from words and message shapes in four
languages; a learned linear model (classifier/model.py) weighs those scores together with the
words themselves, trained on the labelled conversations in tests/data. Without a model the
rules decide alone. A prompt the classifier is unsure of goes to the default route
("General agent work").

A third, optional layer: when a local embedder is active, the daemon scores the prompt by
similarity to example prompts of each task type (classifier/similarity.py) and passes the scores
in. With the model, its probabilities are blended with them; with the rules alone,
similarity decides only where the rules are unsure. Without scores nothing changes.

Conventions for the borderline cases (docs/routing.md, "Task classification"):
- a general review of a diff is Code review even if it finds a vulnerability; it is
  Security audit when the request itself is about attacks, vulnerabilities or threat models;
- a few items to label is Classification / routing, many rows is Bulk operations;
- a pasted error inside an interactive coding session is Vibe coding; a standalone
  "why does this fail" with a trace is Debugging / tracing;
- a meeting recap is Meeting summary even when meant for a channel; an email from agreed
  points is Content drafting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cortexd.routing.classifier.features import extract
from cortexd.routing.classifier.model import TaskModel
from cortexd.routing.classifier.rules import (
    Evidence,
    MessageView,
    analyse,
    rule_evidence,
    score_message,
)
from cortexd.routing.classifier.similarity import RULES_MIN_SHARE, blend, distribution
from cortexd.routing.names import loose
from cortexd.routing.request import Message
from cortexd.routing.table import DEFAULT_TASK
from cortexd.routing.text_memo import TextMemo

#: Rules alone: below this much evidence the prompt goes to the default route.
MIN_SCORE = 1.5
#: With the model: below this probability (13 labels: uniform is 0.08) the prompt goes to the
#: default route. Chosen by cross-validation: 0.2 costs 0.1 point of accuracy against no
#: threshold at all, 0.3 costs 1.3 points.
MIN_PROBABILITY = 0.2
#: A task type of the user's own wins with this share of the similarity distribution, its
#: examples being the nearest, where the model picks the default route or is less sure than
#: `OWN_BEATS_BELOW` of its own choice (benchmarks/own_examples.py chose both: the other task
#: types lose under a point).
OWN_MIN_SHARE = 0.4
OWN_BEATS_BELOW = 0.7


@dataclass(frozen=True)
class Classification:
    """The task type chosen, how sure the classifier is (0–1), and why."""

    task: str
    confidence: float
    reason: str
    scores: Mapping[str, float] = field(default_factory=dict)
    #: The task types' similarity to their example prompts, when an embedder gave them.
    similarity: Mapping[str, float] = field(default_factory=dict)


class TaskClassifier:
    """Classifies conversations into the task types of one routing table."""

    def __init__(
        self,
        task_types: Iterable[str],
        default: str = DEFAULT_TASK,
        model: TaskModel | None = None,
    ) -> None:
        # The routing file may spell a task type its own way ("Security Audit"); the rules and
        # the model know the canonical spellings, so answers are mapped to the file's.
        names = [*task_types, default]
        self._spelling: dict[str, str] = {}
        for name in names:
            self._spelling.setdefault(loose(name), name)
        self._spelled: dict[str, str | None] = {}
        self._default = default
        self._model = model
        # A conversation comes back with every request, one turn longer: each turn is
        # analysed and scored once. A view's text is its clipped message, which reads the same.
        self._views = TextMemo(MessageView.of)
        self._scores = TextMemo(lambda text: score_message(self._views(text)))

    def classify(
        self, messages: Sequence[Message], similarity: Mapping[str, float] | None = None
    ) -> Classification:
        """The task type of a conversation; the latest user message weighs most.

        `similarity`: each task type's similarity to its example prompts (classifier/similarity.py's
        `task_scores`, keyed by the routing file's task types), when an embedder gave them.
        """
        if not any(m.role == "user" for m in messages):
            return Classification(self._default, 0.0, "no user message: default route")
        views = analyse(messages, self._views)
        evidence = rule_evidence(messages, views, score=self._score)
        known = set(self._spelling.values())
        similar = {t: s for t, s in (similarity or {}).items() if t in known}
        if self._model is None:
            return self._decide_by_rules(evidence, similar)
        return self._decide_by_model(self._model, extract(messages, views, evidence), similar)

    def _score(self, view: MessageView) -> Evidence:
        return self._scores(view.text)

    def _spell(self, canonical: str) -> str | None:
        """The routing file's spelling of a canonical task type, or None if it has none."""
        # The model's labels are a fixed few: remember each answer (a miss is stored too).
        try:
            return self._spelled[canonical]
        except KeyError:
            spelled = self._spelled[canonical] = self._spelling.get(loose(canonical))
            return spelled

    def _decide_by_model(
        self, model: TaskModel, features: dict[str, float], similarity: Mapping[str, float]
    ) -> Classification:
        allowed = frozenset(t for t in model.labels if self._spell(t) is not None)
        if not allowed:
            return Classification(self._default, 0.0, "no task type of the model is in the file")
        probs = model.probabilities(features, allowed)
        by_task = {self._spell(t) or t: p for p, t in zip(probs, model.labels, strict=True)}
        first = max(by_task.items(), key=lambda kv: (kv[1], kv[0]))[0]  # as sorted() ranks
        shares = distribution(similarity)
        own = self._own_type(by_task, similarity, shares)
        if own is not None:
            return own
        if shares:
            by_task = blend(by_task, shares)
        ranked = sorted(((p, t) for t, p in by_task.items()), reverse=True)
        scores = {t: round(p, 3) for p, t in ranked if p >= 0.01}
        near = {t: round(s, 3) for t, s in similarity.items()}
        p, task = ranked[0]
        label = next((lb for lb in model.labels if self._spell(lb) == task), None)
        why = ", ".join(model.evidence(features, label)) if label else ""
        why = why or "no strong cue"
        if task != first:
            # The examples tipped it: say so, and what the model alone would have chosen.
            why = (
                f"similar to the examples of '{task}' ({similarity[task]:.2f}); "
                f"the model alone: {first}"
            )
        elif similarity:
            why += f"; similarity to examples: {_best(similarity)}"
        if task == self._default or p < MIN_PROBABILITY:
            note = "" if task == self._default else f" (best: {task} at {p:.2f})"
            return Classification(
                self._default, round(p, 2), f"default route{note}: {why}", scores, near
            )
        return Classification(task, round(p, 2), why, scores, near)

    def _own_type(
        self,
        by_task: Mapping[str, float],
        similarity: Mapping[str, float],
        shares: Mapping[str, float],
    ) -> Classification | None:
        """A task type of the user's own (examples, no model label) wins when its examples
        are the nearest of all and clearly so, and the model is not sure of another: the
        model cannot vote for it, so a blend would cap it below the default route's
        threshold whatever the examples say."""
        own = [t for t in shares if t not in by_task]
        if not own:
            return None
        task = max(own, key=shares.__getitem__)
        if shares[task] < OWN_MIN_SHARE or max(similarity, key=similarity.__getitem__) != task:
            return None
        first, p = max(by_task.items(), key=lambda kv: kv[1])
        if first != self._default and p >= OWN_BEATS_BELOW:
            return None  # the model is sure of a task type it knows
        why = (
            f"similar to your examples of '{task}' ({similarity[task]:.2f}); "
            f"the model alone: {first}"
        )
        near = {t: round(v, 3) for t, v in similarity.items()}
        return Classification(task, round(shares[task], 2), why, dict(shares), near)

    def _decide_by_rules(self, ev: Evidence, similarity: Mapping[str, float]) -> Classification:
        spelled = ((s, self._spell(t)) for t, s in ev.scores.items())
        ranked = sorted(((s, t) for s, t in spelled if t is not None), reverse=True)
        scores = {t: round(s, 2) for s, t in ranked}
        if not ranked or ranked[0][0] < MIN_SCORE or ranked[0][1] == self._default:
            best = f" (best: {ranked[0][1]} at {ranked[0][0]:.1f})" if ranked else ""
            shares = distribution(similarity)
            near = {t: round(s, 3) for t, s in similarity.items()}
            task = max(shares, key=shares.__getitem__, default=self._default)
            if task != self._default and shares[task] >= RULES_MIN_SHARE:
                why = (
                    f"similar to the examples of '{task}' ({similarity[task]:.2f}); "
                    f"the rules alone: no clear task{best}"
                )
                return Classification(task, round(shares[task], 2), why, scores, near)
            why = f"no clear task{best}: default route"
            return Classification(self._default, 0.5, why, scores, near)
        top, task = ranked[0]
        second = ranked[1][0] if len(ranked) > 1 else 0.0
        confidence = round(min(1.0, (top - second) / top * 0.6 + min(top, 8) / 8 * 0.4), 2)
        canonical = next(t for t in ev.why if self._spell(t) == task)
        reason = ", ".join(ev.why[canonical][:4])
        return Classification(
            task, confidence, reason, scores, {t: round(s, 3) for t, s in similarity.items()}
        )


def _best(similarity: Mapping[str, float]) -> str:
    task = max(similarity, key=similarity.__getitem__)
    return f"nearest '{task}' ({similarity[task]:.2f})"

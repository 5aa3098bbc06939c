"""Task classification, first version: fast, local, explainable (no network, well under 1 ms).

Each task type collects evidence — words in the prose of a message and shapes of the whole
message (a diff, a stack trace, a transcript, many rows) — as small additive weights. The
latest user message counts most; earlier turns add to it, and a short follow-up that says
little on its own ("ok now make the button blue") inherits the thread's task. Below a
minimum score the prompt goes to the default route ("General agent work").

Conventions for the borderline cases (README "Task classification"):
- a general review of a diff is Code review even if it finds a vulnerability; it is
  Security audit when the request itself is about attacks, vulnerabilities or threat models;
- a few items to label is Classification / routing, many rows is Bulk operations;
- a pasted error inside an interactive coding session is Vibe coding; a standalone
  "why does this fail" with a trace is Debugging / tracing;
- a meeting recap is Meeting summary even when meant for a channel; an email from agreed
  points is Content drafting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cortexd.routing import task_signals as sig
from cortexd.routing.request import Message
from cortexd.routing.table import DEFAULT_TASK

#: Below this much evidence the prompt is "unsure" and goes to the default route.
MIN_SCORE = 1.5
#: Characters of a message looked at: the start says what is asked, the end often too.
_HEAD, _TAIL = 6000, 2000
_SECURITY_REQUEST = re.compile(
    r"security (?:review|audit|check)|threat model|pen ?test|exploitab|attack|vulnerab|"
    r"sicherheit|schwachstelle|faille|vulnérab|seguridad|privilege escalation|redos|vulns?\b|"
    r"attacker",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Classification:
    """The task type chosen, how sure the classifier is (0–1), and why."""

    task: str
    confidence: float
    reason: str
    scores: Mapping[str, float] = field(default_factory=dict)


@dataclass
class _Evidence:
    scores: dict[str, float] = field(default_factory=dict)
    why: dict[str, list[str]] = field(default_factory=dict)

    def add(self, task: str, weight: float, what: str) -> None:
        self.scores[task] = self.scores.get(task, 0.0) + weight
        self.why.setdefault(task, []).append(what)

    def scale(self, task: str, factor: float, what: str) -> None:
        if self.scores.get(task):
            self.scores[task] *= factor
            self.why.setdefault(task, []).append(what)

    def merge(self, other: _Evidence, factor: float, label: str) -> None:
        for task, score in other.scores.items():
            if score > 0:
                self.add(task, score * factor, f"{label} ({score * factor:+.1f})")


def _clip(text: str) -> str:
    return text if len(text) <= _HEAD + _TAIL else text[:_HEAD] + "\n" + text[-_TAIL:]


def _prose(text: str) -> str:
    """The message without code blocks, diff, trace and code lines: where intent words live."""
    text = sig.FENCE.sub("\n", text)
    keep = []
    for line in text.splitlines():
        if sig.DIFF.match(line) or line[:1] in "+-@" and len(line) > 1 and line[1:2] != " ":
            continue
        if sig.TRACE.search(line) or sig.CODE_LINE.match(line):
            continue
        keep.append(line)
    return "\n".join(keep)


def score_message(text: str) -> _Evidence:
    """Evidence for each task type in one message."""
    text = _clip(text)
    prose = _prose(text)
    lowered = prose.lower()
    ev = _Evidence()
    for task, signals in sig.WORDS.items():
        for pattern, weight in signals:
            m = pattern.search(lowered)
            if m:
                ev.add(task, weight, f"'{m.group(0).strip()[:30]}' (+{weight:g})")
    _shapes(text, prose, ev)
    return ev


def _shapes(text: str, prose: str, ev: _Evidence) -> None:
    has_diff = bool(sig.DIFF.search(text))
    has_trace = bool(sig.TRACE.search(text))
    speakers = len(sig.TRANSCRIPT.findall(text))
    rows = len(sig.DATA_ROW.findall(text))
    items = len(sig.LIST_ITEM.findall(text))
    code_lines = len(sig.CODE_LINE.findall(text)) + text.count("```")
    if has_diff:
        ev.add(sig.REVIEW, 3, "a diff (+3)")
    if has_trace:
        ev.add(sig.DEBUG, 3, "a stack trace or error log (+3)")
    if speakers >= 3 and not has_diff and not has_trace and code_lines < 3:
        ev.add(sig.MEETING, 3 + min(speakers, 10) * 0.2, f"a transcript of {speakers} turns")
    lowered = prose.lower()
    if _operation_over_items(lowered) and not has_trace and not 2 <= items <= 10:
        ev.add(sig.BULK, 3, "an operation over many items (+3)")
    else:
        ev.scale(sig.BULK, 0.3, "no operation over the items (x0.3)")
    many = rows >= 12 or items >= 15
    if many:
        ev.add(sig.BULK, 2.5, f"{max(rows, items)} rows (+2.5)")
    if many or sig.BULK in ev.scores and ev.scores[sig.BULK] >= 2.5:
        ev.scale(sig.CLASSIFY, 0.4, "many items: bulk, not a few labels (x0.4)")
        ev.scale(sig.CODEGEN, 0.6, "many items (x0.6)")
    if code_lines >= 2 and not has_diff and not has_trace:
        ev.add(sig.CODEGEN, 0.5, "code in the message (+0.5)")
    review_asked = any("review" in w or "+3" in w for w in ev.why.get(sig.REVIEW, ()))
    if _SECURITY_REQUEST.search(prose):
        ev.add(sig.SECURITY, 3, "the request is about attacks (+3)")
    elif has_diff or review_asked:
        ev.scale(sig.SECURITY, 0.3, "a review, not an audit (x0.3)")
    if sig.MEETING in ev.scores and ev.scores[sig.MEETING] >= 3:
        ev.scale(sig.DRAFTING, 0.5, "a meeting recap (x0.5)")
    words = len(prose.split())
    if words <= 12 and not has_trace and not has_diff and sig.CAPTURE in ev.scores:
        ev.add(sig.CAPTURE, 1, "a short note (+1)")


def _operation_over_items(lowered: str) -> bool:
    """A count of items ("600 strings", "all rows", "unas 350") with an operation verb nearby."""
    for m in sig.COUNT.finditer(lowered):
        window = lowered[max(0, m.start() - 100) : m.end() + 100]
        if sig.BULK_VERB.search(window):
            return True
    return False


def _is_coding_session(history: Sequence[Message]) -> bool:
    return any(
        m.role == "assistant" and ("```" in m.content or len(sig.CODE_LINE.findall(m.content)) >= 2)
        for m in history
    )


class TaskClassifier:
    """Classifies conversations into the task types of one routing table."""

    def __init__(self, task_types: Iterable[str], default: str = DEFAULT_TASK) -> None:
        self._tasks = frozenset(task_types) | {default}
        self._default = default

    def classify(self, messages: Sequence[Message]) -> Classification:
        """The task type of a conversation; the latest user message weighs most."""
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        if not users:
            return Classification(self._default, 0.0, "no user message: default route")
        last = users[-1]
        ev = score_message(messages[last].content)
        history = messages[:last]
        own = max((s for t, s in ev.scores.items() if t in self._tasks), default=0.0)
        thread = _Evidence()
        for depth, i in enumerate(reversed(users[:-1])):
            thread.merge(score_message(messages[i].content), 0.5**depth, "earlier turn")
        short = len(messages[last].content.split()) <= 25
        coding = _is_coding_session(history)
        if coding and short and own < 4:
            ev.add(sig.VIBE, 2.5, "a follow-up in a coding session (+2.5)")
        if coding and sig.DEBUG in ev.scores:
            ev.add(sig.VIBE, ev.scores[sig.DEBUG] * 0.8 + 1, "an error pasted mid-session")
            ev.scale(sig.DEBUG, 0.4, "mid-session (x0.4)")
        if thread.scores:
            weight = 0.8 if own < 3 and short else 0.3
            ev.merge(thread, weight, "the thread")
        return self._decide(ev)

    def _decide(self, ev: _Evidence) -> Classification:
        ranked = sorted(((s, t) for t, s in ev.scores.items() if t in self._tasks), reverse=True)
        scores = {t: round(s, 2) for s, t in ranked}
        if not ranked or ranked[0][0] < MIN_SCORE or ranked[0][1] == self._default:
            best = f" (best: {ranked[0][1]} at {ranked[0][0]:.1f})" if ranked else ""
            return Classification(self._default, 0.5, f"no clear task{best}: default route", scores)
        top, task = ranked[0]
        second = ranked[1][0] if len(ranked) > 1 else 0.0
        confidence = round(min(1.0, (top - second) / top * 0.6 + min(top, 8) / 8 * 0.4), 2)
        reason = ", ".join(ev.why.get(task, [])[:4])
        return Classification(task, confidence, reason, scores)

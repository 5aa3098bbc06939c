"""Rule-based evidence for task classification: words, message shapes, conversation context.

Each task type collects evidence — words in the prose of a message and shapes of the whole
message (a diff, a stack trace, a transcript, many rows) — as small additive weights that a
reader can add up. The latest user message counts most; earlier turns add to it, and a short
follow-up that says little on its own ("ok now make the button blue") inherits the thread's
task. The learned model (classifier/model.py) takes these scores as features.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cortexd.routing.classifier import signals as sig
from cortexd.routing.request import Message

#: Characters of a message looked at: the start says what is asked, the end often too.
_HEAD, _TAIL = 6000, 2000
#: Characters of the prose scanned for words.
_WORDS_HEAD, _WORDS_TAIL = 1500, 500
_SECURITY_REQUEST = re.compile(
    r"security (?:review|audit|check)|threat model|pen ?test|exploitab|attack|vulnerab|"
    r"sicherheit|schwachstelle|faille|vulnérab|seguridad|privilege escalation|redos|vulns?\b|"
    r"attacker",
    re.IGNORECASE,
)


@dataclass
class Evidence:
    scores: dict[str, float] = field(default_factory=dict)
    why: dict[str, list[str]] = field(default_factory=dict)

    def add(self, task: str, weight: float, what: str) -> None:
        self.scores[task] = self.scores.get(task, 0.0) + weight
        self.why.setdefault(task, []).append(what)

    def scale(self, task: str, factor: float, what: str) -> None:
        if self.scores.get(task):
            self.scores[task] *= factor
            self.why.setdefault(task, []).append(what)

    def copy(self) -> Evidence:
        """An Evidence that changes without changing this one."""
        return Evidence(dict(self.scores), {task: list(w) for task, w in self.why.items()})

    def merge(self, other: Evidence, factor: float, label: str) -> None:
        for task, score in other.scores.items():
            if score > 0:
                self.add(task, score * factor, f"{label} ({score * factor:+.1f})")


def _clip(text: str) -> str:
    return text if len(text) <= _HEAD + _TAIL else text[:_HEAD] + "\n" + text[-_TAIL:]


def prose_of(text: str) -> str:
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


@dataclass(frozen=True)
class MessageView:
    """One message analysed once — its prose and its shapes — for the rules and the features."""

    text: str
    prose: str
    lowered: str
    has_diff: bool
    has_trace: bool
    speakers: int
    rows: int
    items: int
    code_lines: int
    operation_over_items: bool

    @classmethod
    def of(cls, text: str) -> MessageView:
        """Analyse a message's text."""
        text = _clip(text)
        prose = prose_of(text)
        lowered = prose.lower()
        return cls(
            text=text,
            prose=prose,
            lowered=lowered,
            has_diff=bool(sig.DIFF.search(text)),
            has_trace=bool(sig.TRACE.search(text)),
            speakers=len(sig.TRANSCRIPT.findall(text)),
            rows=len(sig.DATA_ROW.findall(text)),
            items=len(sig.LIST_ITEM.findall(text)),
            code_lines=len(sig.CODE_LINE.findall(text)) + text.count("```"),
            operation_over_items=operation_over_items(lowered),
        )


#: The user turns classification reads, newest first: the latest and two before it.
VIEWED_TURNS = 3


def analyse(
    messages: Sequence[Message], view_of: Callable[[str], MessageView] = MessageView.of
) -> list[MessageView | None]:
    """A view of each of the last `VIEWED_TURNS` user messages (None for the others and for
    other roles), in order: only they are read, and a 50-turn conversation costs no more.

    `view_of` analyses one message (a classifier passes one that remembers its turns)."""
    users = [i for i, m in enumerate(messages) if m.role == "user"][-VIEWED_TURNS:]
    viewed = set(users)
    return [view_of(m.content) if i in viewed else None for i, m in enumerate(messages)]


def score_message(view: MessageView) -> Evidence:
    """Evidence for each task type in one message."""
    ev = Evidence()
    # The ask sits at the start or the end of the prose; the middle of a long paste is
    # material, and scanning it would cost most of the time (about 140 patterns).
    lowered = view.lowered
    if len(lowered) > _WORDS_HEAD + _WORDS_TAIL:
        lowered = lowered[:_WORDS_HEAD] + "\n" + lowered[-_WORDS_TAIL:]
    for task, signals in sig.WORDS.items():
        for pattern, weight in signals:
            m = pattern.search(lowered)
            if m:
                ev.add(task, weight, f"'{m.group(0).strip()[:30]}' (+{weight:g})")
    _shapes(view, ev)
    return ev


def _shapes(v: MessageView, ev: Evidence) -> None:
    has_diff, has_trace, items = v.has_diff, v.has_trace, v.items
    if has_diff:
        ev.add(sig.REVIEW, 3, "a diff (+3)")
    if has_trace:
        ev.add(sig.DEBUG, 3, "a stack trace or error log (+3)")
    if v.speakers >= 3 and not has_diff and not has_trace and v.code_lines < 3:
        ev.add(sig.MEETING, 3 + min(v.speakers, 10) * 0.2, f"a transcript of {v.speakers} turns")
    if v.operation_over_items and not has_trace and not 2 <= items <= 10:
        ev.add(sig.BULK, 3, "an operation over many items (+3)")
    else:
        ev.scale(sig.BULK, 0.3, "no operation over the items (x0.3)")
    many = v.rows >= 12 or items >= 15
    if many:
        ev.add(sig.BULK, 2.5, f"{max(v.rows, items)} rows (+2.5)")
    if many or sig.BULK in ev.scores and ev.scores[sig.BULK] >= 2.5:
        ev.scale(sig.CLASSIFY, 0.4, "many items: bulk, not a few labels (x0.4)")
        ev.scale(sig.CODEGEN, 0.6, "many items (x0.6)")
    if v.code_lines >= 2 and not has_diff and not has_trace:
        ev.add(sig.CODEGEN, 0.5, "code in the message (+0.5)")
    review_asked = any("review" in w or "+3" in w for w in ev.why.get(sig.REVIEW, ()))
    if _SECURITY_REQUEST.search(v.prose):
        ev.add(sig.SECURITY, 3, "the request is about attacks (+3)")
    elif has_diff or review_asked:
        ev.scale(sig.SECURITY, 0.3, "a review, not an audit (x0.3)")
    if sig.MEETING in ev.scores and ev.scores[sig.MEETING] >= 3:
        ev.scale(sig.DRAFTING, 0.5, "a meeting recap (x0.5)")
    words = len(v.prose.split())
    if words <= 12 and not has_trace and not has_diff and sig.CAPTURE in ev.scores:
        ev.add(sig.CAPTURE, 1, "a short note (+1)")


def operation_over_items(lowered: str) -> bool:
    """A count of items ("600 strings", "all rows", "unas 350") with an operation verb nearby."""
    for m in sig.COUNT.finditer(lowered):
        window = lowered[max(0, m.start() - 100) : m.end() + 100]
        if sig.BULK_VERB.search(window):
            return True
    return False


def is_coding_session(history: Sequence[Message]) -> bool:
    """Whether the assistant has been writing code in this conversation (its replies hold code)."""
    for m in history:
        if m.role == "assistant":
            text = m.content[:_HEAD]  # a reply's first screens tell; all of it could be huge
            if "```" in text or len(sig.CODE_LINE.findall(text)) >= 2:
                return True
    return False


def rule_evidence(
    messages: Sequence[Message],
    views: Sequence[MessageView | None] | None = None,
    known: frozenset[str] | None = None,
    score: Callable[[MessageView], Evidence] = score_message,
) -> Evidence:
    """The evidence for each task type in a conversation (the latest user message weighs most).

    `score` is `score_message` or one that remembers its answers; what it returns is not
    changed here."""
    views = analyse(messages) if views is None else views
    users = [i for i, v in enumerate(views) if v is not None]
    if not users:
        return Evidence()
    last = users[-1]
    current = views[last]
    assert current is not None
    ev = score(current).copy()
    own = max((s for t, s in ev.scores.items() if known is None or t in known), default=0.0)
    thread = Evidence()
    for depth, i in enumerate(reversed(users[-3:-1])):  # two earlier turns are context enough
        earlier = views[i]
        assert earlier is not None
        thread.merge(score(earlier), 0.5**depth, "earlier turn")
    short = len(messages[last].content.split()) <= 25
    coding = is_coding_session(messages[:last])
    if coding and short and own < 4:
        ev.add(sig.VIBE, 2.5, "a follow-up in a coding session (+2.5)")
    if coding and sig.DEBUG in ev.scores:
        ev.add(sig.VIBE, ev.scores[sig.DEBUG] * 0.8 + 1, "an error pasted mid-session")
        ev.scale(sig.DEBUG, 0.4, "mid-session (x0.4)")
    if thread.scores:
        weight = 0.8 if own < 3 and short else 0.3
        ev.merge(thread, weight, "the thread")
    return ev

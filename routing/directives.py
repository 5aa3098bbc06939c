"""The person's directives over a whole conversation: which turn's directive decides.

Every request carries its conversation, so a session directive needs no server state: the
latest turn is read first (a directive there decides: for its own turn, for the rest of
the session, or to re-answer the previous request), then earlier turns, newest first, for
a session directive ("from now on use codex") that no later turn revoked ("back to normal
routing") or replaced. Only the last `MAX_TURNS` turns are read, and each only at its edges
(override_spans.py), so a long conversation costs a bounded few milliseconds at most.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cortexd.routing.overrides import Override, OverrideDetector, UnknownModel
from cortexd.routing.request import Message

#: The most user turns read for a session directive (newest first).
MAX_TURNS = 50
#: Revocations are a closed, small class ("back to normal routing" and its kin in the four
#: languages we read); they name no model, so the span model has nothing to score.
_REVOKE = re.compile(
    r"\b(?:back\s+to\s+(?:normal\s+|auto(?:matic)?\s+|default\s+)?(?:routing|model\s+choice|auto)"
    r"|(?:normal|auto(?:matic)?|default)\s+routing|route\s+normally|let\s+the\s+router\s+decide"
    r"|(?:reset|set)\s+(?:the\s+)?model\s+(?:to\s+)?auto"
    r"|(?:pick|choose|select)\s+(?:you\s+)?(?:the\s+)?models?\s+(?:yourself|on\s+your\s+own|again|like\s+before)"
    r"|stop\s+(?:forcing|pinning)|unpin\s+the\s+model|no\s+more\s+forced\s+model"
    r"|zurück\s+zu[mr]?\s+(?:normalen|automatischen)\s+(?:routing|modellwahl|auswahl)"
    r"|normales?\s+routing|wieder\s+automatisch|kein\s+festes\s+modell"
    r"|(?:such|wähl)\s+(?:dir\s+)?(?:das|ein)\s+modell\s+(?:wieder\s+)?selbst"
    r"|routage\s+(?:normal|automatique)|choisis\s+(?:toi-même\s+)?le\s+modèle"
    r"|arr[eê]te\s+de\s+forcer|modèle\s+forcé|mode\s+auto\b"
    r"|enrutad[oa]\s+(?:normal|autom[aá]tic[oa])|enrutamiento\s+(?:normal|autom[aá]tico)"
    r"|(?:eleg[ií]|elige)\s+(?:t[uú]|vos)\s+el\s+modelo|elegir\s+el\s+modelo\s+t[uú]|el\s+modelo\s+t[uú]\s+solo"
    r"|deja\s+de\s+forzar|vuelve\s+al?\s+(?:modo\s+)?(?:autom[aá]tico|enrutamiento|enrutado))",
    re.IGNORECASE,
)

#: Every revocation holds one of these (a substring test before the pattern).
_REVOKE_WORDS = ("normal", "auto", "rout", "model", "modèle", "forc", "forz", "pin", "enrut")


@dataclass(frozen=True)
class Directive:
    """The directive that decides a request's model, and where it was said.

    `turn` counts the conversation's user turns from 1; `turns` is how many there are.
    `messages` are the request's messages as the model should get them: the directive cut
    from the latest turn, or, for a re-answer, the conversation up to the request re-asked.
    """

    override: Override
    turn: int
    turns: int
    messages: tuple[Message, ...]

    @property
    def reason(self) -> str:
        """The plan's words for it."""
        where = f"turn {self.turn} of {self.turns}"
        if self.override.scope == "session":
            return f"session override '{self.override.phrase}' ({where}): no fallback"
        if self.override.scope == "redo":
            return f"re-answer with {self.override.model} ('{self.override.phrase}', {where})"
        return f"override '{self.override.phrase}' in the prompt: no fallback"


@dataclass(frozen=True)
class Reading:
    """What the conversation directs: the deciding directive (or none), and a directive to
    a model the catalog lacks, which is reported and not followed."""

    directive: Directive | None = None
    unknown: UnknownModel | None = None
    revoked_at: int | None = None


def revokes(text: str) -> bool:
    """Whether a turn revokes a session directive ("back to normal routing")."""
    head = text[:300].casefold()
    if not any(word in head for word in _REVOKE_WORDS):
        return False  # most turns: no word any revocation is made of
    # Said by the person, first: not in a pasted document or a question about it.
    first = re.split(r"(?<=[.!?])\s|\n", text.lstrip(), maxsplit=1)[0][:200]
    found = _REVOKE.search(first)
    quoted = found is not None and first[: found.start()].count("'") % 2 == 1
    return found is not None and not quoted and not first.endswith("?")


def read_conversation(messages: Sequence[Message], detector: OverrideDetector) -> Reading:
    """The directive that decides the next answer in `messages`, reading the person's turns
    newest first."""
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    if not users:
        return Reading()
    latest = messages[users[-1]].content
    found = detector.read(latest)
    unknown = found if isinstance(found, UnknownModel) else None
    if isinstance(found, Override):
        kept = _without(messages, users[-1], found)
        if found.scope == "redo":
            kept = _redone(messages, users) or kept
        return Reading(Directive(found, len(users), len(users), kept))
    if revokes(latest):
        return Reading(unknown=unknown, revoked_at=len(users))
    oldest = max(0, len(users) - MAX_TURNS)
    for number in range(len(users) - 1, oldest, -1):
        text = messages[users[number - 1]].content
        earlier = detector.read(text)
        if isinstance(earlier, Override) and earlier.scope == "session":
            directive = Directive(earlier, number, len(users), tuple(messages))
            return Reading(directive, unknown)
        if revokes(text):
            return Reading(unknown=unknown, revoked_at=number)
    return Reading(unknown=unknown)


def _without(messages: Sequence[Message], at: int, found: Override) -> tuple[Message, ...]:
    return (*messages[:at], replace(messages[at], content=found.text), *messages[at + 1 :])


def _redone(messages: Sequence[Message], users: list[int]) -> tuple[Message, ...] | None:
    """The conversation up to the previous request, which a re-answer asks again; None
    when there is no earlier request to re-answer."""
    if len(users) < 2:
        return None
    return tuple(messages[: users[-2] + 1])

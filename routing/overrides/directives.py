"""The person's directives over a whole conversation: which turn's directive decides.

Every request carries its conversation, so a session directive needs no server state: the
latest turn is read first (a directive there decides: for its own turn, for the rest of
the session, or to re-answer the previous request), then earlier turns, newest first, for
a session directive ("from now on use codex") that no later turn revoked ("back to normal
routing") or replaced. Only the last `MAX_TURNS` turns are read, and each only at its edges
(overrides/spans.py), so a long conversation costs a bounded few milliseconds at most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from cortexd.routing.overrides.detector import Override, OverrideDetector, UnknownModel
from cortexd.routing.request import Message

#: The most user turns read for a session directive (newest first).
MAX_TURNS = 50


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


def read_conversation(messages: Sequence[Message], detector: OverrideDetector) -> Reading:
    """The directive that decides the next answer in `messages`, reading the person's turns
    newest first."""
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    if not users:
        return Reading()
    latest = messages[users[-1]].content
    found = detector.read(latest)
    unknown = found if isinstance(found, UnknownModel) else None
    if isinstance(found, Override) and _restates(found, messages, users, detector, latest):
        # "Anula lo de Codex para el resto de la charla" under "from now on use codex": a
        # session directive to the model already in force would change nothing, and the
        # turn reads as a revocation — it is one.
        return Reading(revoked_at=len(users))
    if isinstance(found, Override):
        kept = _without(messages, users[-1], found)
        if found.scope == "redo" and found.text == latest:
            # Nothing but the re-answer's words: the earlier request is asked afresh. With
            # more ("redo that with opus but in Python") the turn goes as a turn's directive,
            # its new words kept.
            kept = _redone(messages, users, detector) or kept
        return Reading(Directive(found, len(users), len(users), kept))
    if detector.revokes(latest):
        return Reading(unknown=unknown, revoked_at=len(users))
    earlier = _in_force(messages, users, detector)
    return replace(earlier, unknown=unknown or earlier.unknown)


def _in_force(messages: Sequence[Message], users: list[int], detector: OverrideDetector) -> Reading:
    """What the turns before the latest leave in force: a session directive no later turn
    revoked or replaced, read newest first over the last `MAX_TURNS`."""
    oldest = max(0, len(users) - MAX_TURNS)
    for number in range(len(users) - 1, oldest, -1):
        text = messages[users[number - 1]].content
        earlier = detector.read(text)
        if isinstance(earlier, Override) and earlier.scope == "session":
            if _drops(earlier, text, detector):
                return Reading(revoked_at=number)
            return Reading(Directive(earlier, number, len(users), tuple(messages)))
        if isinstance(earlier, UnknownModel) and earlier.scope == "session":
            # A switch to a model the file lacks replaced any before it: routed, and said.
            return Reading(unknown=earlier)
        if detector.revokes(text):
            return Reading(revoked_at=number)
    return Reading()


def _restates(
    found: Override,
    messages: Sequence[Message],
    users: list[int],
    detector: OverrideDetector,
    latest: str,
) -> bool:
    """Whether `found`, a session directive in a latest turn that reads as a revocation, is
    the revocation's own model: the session model already in force, or the one model its
    first sentence names ("Hör bitte auf, für den Rest des Chats Codex zu nehmen" stops
    codex; "switch to sonnet, stop using opus" names two, and pins sonnet)."""
    if found.scope != "session" or not detector.revokes(latest):
        return False
    if _drops(found, latest, detector):
        return True
    before = _in_force(messages, users, detector).directive
    return before is not None and before.override.model == found.model


def _drops(found: Override, text: str, detector: OverrideDetector) -> bool:
    """Whether the turn `text`, read as the session directive `found`, revokes that very
    model: it reads as a revocation and its first sentence names no other model."""
    return detector.revokes(text) and detector.models_named(text) == {found.model}


def _without(messages: Sequence[Message], at: int, found: Override) -> tuple[Message, ...]:
    return (*messages[:at], replace(messages[at], content=found.text), *messages[at + 1 :])


def _redone(
    messages: Sequence[Message], users: list[int], detector: OverrideDetector
) -> tuple[Message, ...] | None:
    """The conversation up to the request a re-answer asks again — the newest earlier turn
    that is not itself a re-answer, its own directive cut — or None when there is none."""
    for at in reversed(users[:-1]):
        found = detector.read(messages[at].content)
        if (
            isinstance(found, Override)
            and found.scope == "redo"
            and found.text == messages[at].content
        ):
            continue
        if isinstance(found, Override):
            return _without(messages[: at + 1], at, found)
        return tuple(messages[: at + 1])
    return None

"""Implicit signals that a call did not achieve its task, read from what happened next.

Pure functions over call sequences; the writer applies them as each call is recorded.

- ``asked_again``: the same client sent the same prompt again within minutes.
- ``overridden``: right after, the same client overrode the route (an override phrase or a
  named model that differs from the one that answered) for the same prompt or task.
- ``invalid_json``: JSON was asked for and the answer does not parse, or does not match the
  schema it was asked to follow.
- ``second_opinion_disagrees``: the cross-check's judge found the answers differ on substance.

A rating from the user outweighs every signal (see `queries.ACHIEVED_SQL`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cortexd.ledger.records import CallRecord

#: How soon after a call a repeat or an override still speaks about it.
REPEAT_WINDOW_S = 300.0
OVERRIDE_WINDOW_S = 300.0
#: How a call that overrides the route was decided.
OVERRIDES = ("override", "explicit-model")


@dataclass(frozen=True, slots=True)
class Seen:
    """A recorded call, as far as the signal rules look at it."""

    id: str
    started_at: float
    client: str | None
    task: str
    decided_by: str
    model: str | None
    prompt_key: str | None


@dataclass(frozen=True, slots=True)
class Signal:
    """A sign against `call_id`'s answer."""

    call_id: str
    kind: str
    detail: str


def prompt_key(prompt: str | None, secret: bytes) -> str | None:
    """A keyed hash of a prompt, equal for prompts that differ only in case and spacing.

    >>> prompt_key("Fix  the bug", b"k") == prompt_key("fix the bug ", b"k")
    True
    """
    if not prompt or not prompt.strip():
        return None
    normal = re.sub(r"\s+", " ", prompt).strip().casefold()
    return hashlib.blake2b(normal.encode(), key=secret, digest_size=16).hexdigest()


def own_signals(call: CallRecord) -> list[Signal]:
    """What a call says about itself."""
    found = []
    if call.json_requested and call.json_valid is False:
        found.append(Signal(call.id, "invalid_json", "the answer is not the JSON asked for"))
    if call.verdict_agree is False:
        found.append(Signal(call.id, "second_opinion_disagrees", "a second model's answer differs"))
    return found


def signals_from_next(new: Seen, earlier: Iterable[Seen]) -> list[Signal]:
    """What `new` says about the same client's calls just before it."""
    before: Sequence[Seen] = sorted(
        (
            e
            for e in earlier
            if e.id != new.id and e.client == new.client and e.started_at <= new.started_at
        ),
        key=lambda e: e.started_at,
        reverse=True,
    )
    found = []
    if new.prompt_key is not None:
        repeated = next(
            (
                e
                for e in before
                if e.prompt_key == new.prompt_key
                and new.started_at - e.started_at <= REPEAT_WINDOW_S
            ),
            None,
        )
        if repeated is not None:
            gap = new.started_at - repeated.started_at
            found.append(
                Signal(repeated.id, "asked_again", f"asked again {gap:.0f} s later ({new.id})")
            )
    if new.decided_by in OVERRIDES and before:
        last = before[0]
        same = (new.prompt_key is not None and last.prompt_key == new.prompt_key) or (
            last.task == new.task
        )
        if (
            same
            and last.decided_by not in OVERRIDES
            and last.model != new.model
            and new.started_at - last.started_at <= OVERRIDE_WINDOW_S
        ):
            found.append(
                Signal(last.id, "overridden", f"overridden to {new.model} right after ({new.id})")
            )
    return found

"""Silence is not thinking: how long a model may say nothing, told apart by what it said.

Each wire format says "I am alive" before it has content: Anthropic's ``message_start`` and
``ping``, the Responses API's ``response.created`` and ``in_progress`` (and reasoning events),
a Chat Completions stream's first chunk (the role), an Ollama stream's first line. A model
that sent none of these within a few seconds of the request is hung, whatever kind of model
it is; one that did is thinking, and gets its own long budget (a reasoning model's); one
whose content flows is only ended by a stall. The provider adapters surface the first of
those events to dispatch (`Alive`, or a forwarded stream's opening `RawEvent`); this module
is the pure rule on top.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Phase = Literal["waiting", "alive", "content"]

#: A model with no sign of life after this long (plus a little per prompt token: a long
#: prompt is read before some APIs send their first event) is taken to be hung.
HANG_S = 5.0
#: Prompt tokens read per second before the first event, at the slowest (a 150k-token
#: agent context adds 7.5 s).
PREFILL_TOKENS_PER_S = 20_000


@dataclass(frozen=True)
class Limits:
    """The waits of one attempt, in seconds."""

    hang_s: float  # before any sign of life
    first_s: float  # after a sign of life, before content (a reasoning model's is long)
    stall_s: float  # between events once content flows


def hang_wait(prompt_tokens: int, hang_s: float = HANG_S) -> float:
    """How long a model may show no sign of life for a prompt of this size.

    >>> hang_wait(1_000), hang_wait(150_000)
    (5.05, 12.5)
    """
    return round(hang_s + prompt_tokens / PREFILL_TOKENS_PER_S, 3)


def wait_for(phase: Phase, limits: Limits) -> float:
    """How long the next event may take, in this phase of the attempt.

    >>> limits = Limits(hang_s=5.0, first_s=120.0, stall_s=30.0)
    >>> wait_for("waiting", limits), wait_for("alive", limits), wait_for("content", limits)
    (5.0, 120.0, 30.0)
    >>> wait_for("waiting", Limits(hang_s=5.0, first_s=0.5, stall_s=30.0))
    0.5
    """
    if phase == "content":
        return limits.stall_s
    if phase == "alive":
        return limits.first_s
    return min(limits.hang_s, limits.first_s)


def silence(phase: Phase, waited: float) -> str:
    """What a timeout in this phase means, in words for the error and the ledger.

    >>> silence("waiting", 5.0)
    'no sign of life in 5.0 s (no opening event, no byte of an answer)'
    >>> silence("alive", 120.0)
    'it began but sent no content in 120.0 s'
    """
    if phase == "content":
        return f"the stream stalled for {waited:.1f} s"
    if phase == "alive":
        return f"it began but sent no content in {waited:.1f} s"
    return f"no sign of life in {waited:.1f} s (no opening event, no byte of an answer)"

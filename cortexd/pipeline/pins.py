"""Sessions pinned to a provider: a coding agent's session stays where its last call was
answered, and moves only when the person says so, the routing table sends a new turn
elsewhere (routed mode), the agent's own provider is back (pass-through), or the pinned
provider is down. A hedge never moves it (`pipeline/hedging`).

Why pin at all: a move costs the prompt cache the old provider held (an agent's prompt is
tens of thousands of tokens) and, moving back to Claude inside a tool loop, that turn's
thinking. So a turn's tool loop (its calls share the person's words and so the turn id)
finishes where it began, and a new turn moves only for a reason that is said.

Where the pin lives: in memory, in front of the ledger. Each answered call's row says who
answered it, so a restarted daemon reads back each session's last answer of the last
`PIN_TTL_S` (`ledger.sessions.last_answers`) and carries on as if it had never stopped.
After a day without a call the pin is gone: the provider's cache is long cold by then and
the session starts over where the agent's settings send it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from cortexd.ledger import CallRecord, SessionMove
from cortexd.pipeline.family import family_of
from cortexd.routing import Catalog, Price, RoutePlan
from cortexd.routing.dispatch import Attempt

#: A pin is forgotten after this long without a call in its session.
PIN_TTL_S = 24 * 3600.0
#: Sessions kept in memory at most (the least recently answered are let go first).
PINS_KEPT = 10_000

#: (client, session, the agent's configured model): Claude Code's side calls to its small
#: model share the session id but are not its conversation, and must not move its pin.
PinKey = tuple[str | None, str, str | None]


def pin_key(client: str | None, session: str | None, agent_model: str | None) -> PinKey | None:
    """The key of a session's pin; None for a call that names no session."""
    return None if not session else (client, session, agent_model)


@dataclass(frozen=True, slots=True)
class Pin:
    """Where a session's last call was answered, and what that provider had cached then."""

    provider: str
    model: str
    turn: str | None
    at: float
    cached_tokens: int = 0
    first_token_s: float | None = None


class SessionPins:
    """The sessions' pins, bounded in number and age.

    >>> pins = SessionPins(clock=lambda: 100.0)
    >>> pins.set(("claude-cli", "s1", "opus"), Pin("openai", "gpt-4o", "s1:1", 100.0))
    >>> pins.get(("claude-cli", "s1", "opus")).model
    'gpt-4o'
    >>> SessionPins(clock=lambda: 100.0 + PIN_TTL_S + 1).get(("claude-cli", "s1", "opus"))
    """

    def __init__(
        self,
        *,
        ttl_s: float = PIN_TTL_S,
        kept: int = PINS_KEPT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ttl_s = ttl_s
        self._kept = kept
        self._clock = clock
        self._pins: OrderedDict[PinKey, Pin] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pins)

    def get(self, key: PinKey | None) -> Pin | None:
        """The session's pin, if it has one still alive."""
        if key is None or (pin := self._pins.get(key)) is None:
            return None
        if self._clock() - pin.at > self.ttl_s:
            del self._pins[key]
            return None
        return pin

    def set(self, key: PinKey, pin: Pin) -> None:
        """Pin the session where its latest call was answered."""
        self._pins[key] = pin
        self._pins.move_to_end(key)
        while len(self._pins) > self._kept:
            self._pins.popitem(last=False)

    def seed(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Start from the ledger's last answers (`ledger.sessions.last_answers`, newest
        first), so that a restarted daemon keeps every session where it was."""
        now = self._clock()
        for client, session, agent, provider, model, turn, at, cached, ttft in reversed(list(rows)):
            if now - at <= self.ttl_s:
                self.set((client, session, agent), Pin(provider, model, turn, at, cached, ttft))


def stay_pinned(plan: RoutePlan, pin: Pin | None, turn: str | None, catalog: Catalog) -> RoutePlan:
    """`plan`, with a turn's later calls kept on the provider that answered its last one.

    A turn's tool loop finishes where it began: it would otherwise cross back the moment
    the agent's own provider recovers, losing the cache and, back on Claude, the turn's
    thinking. A person's override is the one thing that moves it mid-turn, and since the
    turn's words are the same, it is the same override as at the turn's start."""
    if pin is None or turn is None or turn != pin.turn or not plan.chain:
        return plan
    if plan.decided_by == "override" and plan.override is not None:
        return plan
    if family_of(plan.chain[0], catalog) == pin.provider:
        return plan
    same = tuple(n for n in plan.chain if family_of(n, catalog) == pin.provider)
    chain = tuple(dict.fromkeys((pin.model, *same, *plan.chain)))
    said = (
        f"the session stays on {pin.provider} ({pin.model}) for the rest of this turn: "
        "it answered the turn's last call"
    )
    return replace(plan, chain=chain, reasons=(*plan.reasons, said))


def planned_move(
    plan: RoutePlan, pin: Pin | None, *, routed: bool, catalog: Catalog
) -> tuple[RoutePlan, str | None]:
    """Why the session leaves its pinned provider with this call, said in the plan's
    reasons (None: it stays, or has no pin yet). `plan` is the final one, the models
    health holds back taken out; `routed` whether the routing table chose (routed mode)
    rather than the agent's own model (pass-through)."""
    if pin is None or not plan.chain:
        return plan, None
    first = family_of(plan.chain[0], catalog)
    if first == pin.provider:
        return plan, None
    held = [f"{n}: {why}" for n, why in plan.skipped if family_of(n, catalog) == pin.provider]
    if plan.decided_by == "override" and plan.override is not None:
        why = f"the person said so ('{plan.override.phrase}')"
    elif held:
        why = f"{pin.provider} is held back ({'; '.join(held)})"
    elif routed:
        why = f"the routing table sends '{plan.task}' to {plan.chain[0]}"
    else:
        why = f"back to the agent's own provider ({plan.chain[0]})"
    said = f"the session moves from {pin.provider} to {first}: {why}"
    return replace(plan, reasons=(*plan.reasons, said)), why


def session_move(
    pin: Pin | None,
    planned: str | None,
    planned_provider: str | None,
    answered: Attempt | None,
    attempts: Iterable[Attempt],
    price: Price | None = None,
) -> SessionMove | None:
    """The move this call made, if its answer came from another provider than the
    session's pin: why (the plan's reason, or the pinned provider failing on the way: a
    fallback), and what it cost (the cache the old provider held, its last time to first
    token beside this one's); `price` is the answering model's."""
    if pin is None or answered is None or answered.provider == pin.provider:
        return None
    why = planned if planned is not None and answered.provider == planned_provider else None
    if why is None:
        failed = [
            f"{a.model}: {a.error_class or a.outcome}"
            for a in attempts
            if a.role == "answer" and a.provider != answered.provider
            and a.outcome not in ("ok", "skipped")
        ]  # fmt: skip
        why = f"{pin.provider} failed ({'; '.join(failed)})" if failed else "a fallback"
    lost = max(0, pin.cached_tokens - answered.usage.cache_read_tokens)
    usd = None
    if price is not None:
        # Without a cache price the whole prompt costs the input price anyway: nothing lost.
        cached = price.cache_read_mtok if price.cache_read_mtok is not None else price.input_mtok
        usd = float((price.input_mtok - cached) * lost / 1_000_000)
    return SessionMove(
        pin.provider, pin.model, answered.provider, answered.model, why, lost, usd,
        pin.first_token_s,
    )  # fmt: skip


def pin_after(record: CallRecord) -> Pin | None:
    """The session's pin after `record`: where its answer came from, and what that
    provider has cached now (None: the call had no answer, and the pin stays)."""
    answered = [a for a in record.attempts if a.role == "answer" and a.outcome in ("ok", "partial")]
    if not answered or record.outcome not in ("ok", "partial"):
        return None
    last = answered[-1]
    u = last.usage
    return Pin(
        last.provider,
        last.model,
        record.turn,
        record.started_at,
        u.cache_read_tokens + u.cache_write_tokens,
        last.first_token_s,
    )

"""Circuit breakers: a model that keeps failing is skipped for a while, then probed once."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

#: Consecutive failures that open a model's circuit.
FAILURES_TO_OPEN = 3
#: The first cooldown; it doubles each time a probe fails, up to `MAX_COOLDOWN_S`.
BASE_COOLDOWN_S = 10.0
MAX_COOLDOWN_S = 300.0


@dataclass
class _State:
    failures: int = 0
    cooldown_s: float = 0.0
    open_until: float | None = None
    probing: bool = False


class CircuitBreakers:
    """One breaker per model name.

    Closed: requests pass; `FAILURES_TO_OPEN` consecutive failures open it. Open: the model is
    skipped until its cooldown ends. Then half-open: one request (the probe) passes; its
    success closes the circuit, its failure opens it again with a doubled cooldown.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._states: dict[str, _State] = {}

    def blocked(self, model: str) -> str | None:
        """Why the model must be skipped now, or None (which may make this call the probe)."""
        state = self._states.get(model)
        if state is None or state.open_until is None:
            return None
        now = self._clock()
        if now < state.open_until:
            wait = state.open_until - now
            return f"circuit open after {state.failures} failures (retry in {wait:.0f} s)"
        if state.probing:
            return "circuit half-open: a probe request is under way"
        state.probing = True
        return None

    def success(self, model: str) -> None:
        """The model answered: close its circuit."""
        self._states.pop(model, None)

    def failure(self, model: str) -> None:
        """The model failed (a transient failure or one that makes it unavailable)."""
        state = self._states.setdefault(model, _State())
        state.failures += 1
        if state.probing or state.failures >= FAILURES_TO_OPEN:
            if state.probing:
                state.cooldown_s = min(MAX_COOLDOWN_S, max(BASE_COOLDOWN_S, state.cooldown_s * 2))
            else:
                state.cooldown_s = state.cooldown_s or BASE_COOLDOWN_S
            state.open_until = self._clock() + state.cooldown_s
            state.probing = False

    def release(self, model: str) -> None:
        """A probe ended without a verdict (cancelled): let another request probe."""
        state = self._states.get(model)
        if state is not None:
            state.probing = False

    def half_opens_in(self, model: str) -> float | None:
        """Seconds until the model's open circuit half-opens, or None if it is not open."""
        state = self._states.get(model)
        if state is None or state.open_until is None:
            return None
        wait = state.open_until - self._clock()
        return wait if wait > 0 else None

    def is_open(self, model: str) -> bool:
        """Whether the model's circuit is open now (a half-open one is not: it may be probed)."""
        state = self._states.get(model)
        return (
            state is not None and state.open_until is not None and self._clock() < state.open_until
        )

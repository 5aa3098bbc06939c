"""What dispatch remembers between requests: open circuits, unavailable models, paused providers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from cortexd.routing.catalog import ModelSpec
from cortexd.routing.dispatch.circuit import CircuitBreakers
from cortexd.routing.dispatch.policy import Action, action_for, counts_against_model, pause_for
from cortexd.routing.providers.errors import AuthenticationError, ProviderError


class ModelHealth:
    """Per-model circuit breakers and pauses, per-provider pauses (a spend limit, a bad key).

    All times come from `clock`, so tests move time instead of waiting.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.breakers = CircuitBreakers(clock)
        self._model_pauses: dict[str, tuple[float, str]] = {}
        self._provider_pauses: dict[str, tuple[float, str]] = {}

    def _paused(self, table: dict[str, tuple[float, str]], key: str) -> str | None:
        entry = table.get(key)
        if entry is None:
            return None
        until, why = entry
        if self._clock() >= until:
            del table[key]
            return None
        return why

    def skip_reason(self, spec: ModelSpec) -> str | None:
        """Why this model must not be tried now, or None (which may start a circuit probe)."""
        why = self._paused(self._provider_pauses, spec.provider.value)
        if why is not None:
            return why
        why = self._paused(self._model_pauses, spec.name)
        if why is not None:
            return why
        return self.breakers.blocked(spec.name)

    def succeeded(self, spec: ModelSpec) -> None:
        """The model answered."""
        self.breakers.success(spec.name)

    def failed(self, spec: ModelSpec, error: ProviderError) -> None:
        """Remember what a failure means for later requests."""
        action = action_for(error)
        until = self._clock() + pause_for(error)
        if action is Action.DISABLE_PROVIDER:
            why = f"{spec.provider.value} spend limit reached: {error.detail}"
            self._provider_pauses[spec.provider.value] = (until, why)
        elif isinstance(error, AuthenticationError) and error.status == 401:
            # A rejected key fails every model of the provider; a 403 may be this model only.
            why = f"{spec.provider.value} refused the key: {error.detail}"
            self._provider_pauses[spec.provider.value] = (until, why)
        elif action is Action.MARK_UNAVAILABLE:
            self._model_pauses[spec.name] = (until, f"unavailable: {error.detail}")
        if counts_against_model(error):
            self.breakers.failure(spec.name)
        else:
            # The request's fault, a window too small, a spend limit: no verdict on the model.
            self.breakers.release(spec.name)

    def abandoned(self, spec: ModelSpec) -> None:
        """An attempt ended without a verdict (the client went away)."""
        self.breakers.release(spec.name)

    def unavailable(self, specs: Mapping[str, ModelSpec]) -> dict[str, str]:
        """The models that would be skipped now, with why (for the router's `Availability`)."""
        out = {}
        for name, spec in specs.items():
            why = self._paused(self._provider_pauses, spec.provider.value) or self._paused(
                self._model_pauses, name
            )
            if why is None and self.breakers.is_open(name):
                why = "circuit open"
            if why is not None:
                out[name] = why
        return out

    def _pause_left(self, table: dict[str, tuple[float, str]], key: str) -> float:
        entry = table.get(key)
        return max(0.0, entry[0] - self._clock()) if entry is not None else 0.0

    def free_in(self, specs: Iterable[ModelSpec]) -> float | None:
        """Seconds until the first of `specs` that health holds back may be tried again (its
        circuit half-opens, its pauses end); None when health holds none of them back.

        A client refused because every circuit is open is told this as its Retry-After.
        Nothing changes: a half-open circuit is not claimed for a probe here.
        """
        waits = []
        for spec in specs:
            wait = max(
                self._pause_left(self._provider_pauses, spec.provider.value),
                self._pause_left(self._model_pauses, spec.name),
                self.breakers.half_opens_in(spec.name) or 0.0,
            )
            if wait > 0:
                waits.append(wait)
        return min(waits, default=None)

    def held_back(self, specs: Mapping[str, ModelSpec]) -> list[tuple[str, str, float]]:
        """The models held back now, each with why and the seconds until it may be tried
        again (its circuit half-opens, its pause ends), soonest first: what ``cortex health``
        shows. Read-only, like `free_in`: no probe is claimed, no pause expired."""
        held = []
        for name, spec in specs.items():
            reasons = [
                (self._pause_left(self._provider_pauses, spec.provider.value), "provider"),
                (self._pause_left(self._model_pauses, name), "model"),
                (self.breakers.half_opens_in(name) or 0.0, "circuit"),
            ]
            wait, kind = max(reasons)
            if wait <= 0:
                continue
            if kind == "provider":
                why = self._provider_pauses[spec.provider.value][1]
            elif kind == "model":
                why = self._model_pauses[name][1]
            else:
                why = "circuit open: it failed several times in a row"
            held.append((name, why, wait))
        return sorted(held, key=lambda h: h[2])

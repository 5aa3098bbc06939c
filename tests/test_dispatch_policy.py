"""The retry policy and circuit breakers as pure functions: a table for every error class."""

from __future__ import annotations

import random

import pytest

from cortexd.routing.dispatch import Action, CircuitBreakers, action_for, retry_delay, should_retry
from cortexd.routing.dispatch.circuit import BASE_COOLDOWN_S, FAILURES_TO_OPEN
from cortexd.routing.providers import (
    AuthenticationError,
    ContextLengthError,
    InvalidRequestError,
    ModelLoadError,
    ModelNotFoundError,
    NotConfiguredError,
    OverloadedError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    UnsupportedRequestError,
)

TABLE: list[tuple[type[ProviderError], Action, bool]] = [
    (ProviderConnectionError, Action.RETRY, True),
    (ProviderTimeoutError, Action.RETRY, True),
    (RateLimitError, Action.RETRY, True),
    (OverloadedError, Action.RETRY, True),
    (ServerError, Action.RETRY, True),
    (StreamInterruptedError, Action.RETRY, True),
    (QuotaExceededError, Action.DISABLE_PROVIDER, False),
    (ContextLengthError, Action.LARGER_WINDOW, False),
    (AuthenticationError, Action.MARK_UNAVAILABLE, False),
    (ModelNotFoundError, Action.MARK_UNAVAILABLE, False),
    (NotConfiguredError, Action.MARK_UNAVAILABLE, False),
    (ModelLoadError, Action.MARK_UNAVAILABLE, False),
    (InvalidRequestError, Action.FAIL, False),
    (UnsupportedRequestError, Action.SKIP, False),
    (ProviderError, Action.NEXT, False),
]


@pytest.mark.parametrize(("kind", "action", "retried"), TABLE)
def test_every_error_class(kind: type[ProviderError], action: Action, retried: bool) -> None:
    error = kind("x", provider="p")
    assert action_for(error) is action
    assert should_retry(error, 0) is retried
    assert should_retry(error, 1) is False  # at most one retry


@pytest.mark.parametrize(
    ("retries", "retry_after", "remaining", "expected"),
    [
        (0, 2.0, 30.0, 2.0),  # honoured
        (0, 0.0, 30.0, 0.0),
        (0, 10.0, 30.0, 10.0),  # the longest we wait
        (0, 10.5, 30.0, None),  # longer: another model is the better bet
        (0, 5.0, 4.0, None),  # does not fit the deadline
        (0, None, 0.1, None),  # not even the jittered pause fits
    ],
)
def test_retry_delay_with_a_hint(
    retries: int, retry_after: float | None, remaining: float, expected: float | None
) -> None:
    assert retry_delay(retries, retry_after, remaining) == expected


def test_retry_delay_is_jittered_within_bounds() -> None:
    rng = random.Random(7)
    delays = [retry_delay(0, None, 60.0, rng) for _ in range(200)]
    assert all(d is not None and 0.125 <= d <= 0.375 for d in delays)
    assert len({round(d or 0, 4) for d in delays}) > 100  # jittered, not a constant
    second = retry_delay(1, None, 60.0, random.Random(7))
    assert second is not None and 0.25 <= second <= 0.75  # doubles per retry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_circuit_opens_after_consecutive_failures_and_probes_once() -> None:
    clock = Clock()
    breakers = CircuitBreakers(clock)
    for _ in range(FAILURES_TO_OPEN - 1):
        breakers.failure("m")
    assert breakers.blocked("m") is None
    breakers.success("m")  # a success resets the count
    for _ in range(FAILURES_TO_OPEN):
        breakers.failure("m")
    assert "circuit open" in (breakers.blocked("m") or "")
    clock.now += BASE_COOLDOWN_S
    assert breakers.blocked("m") is None  # this caller is the probe
    assert "probe" in (breakers.blocked("m") or "")  # everyone else still waits
    breakers.failure("m")  # the probe failed: open again, twice as long
    clock.now += BASE_COOLDOWN_S
    assert "circuit open" in (breakers.blocked("m") or "")
    clock.now += BASE_COOLDOWN_S
    assert breakers.blocked("m") is None
    breakers.success("m")
    assert breakers.blocked("m") is None and not breakers.is_open("m")


def test_a_cancelled_probe_lets_the_next_caller_probe() -> None:
    clock = Clock()
    breakers = CircuitBreakers(clock)
    for _ in range(FAILURES_TO_OPEN):
        breakers.failure("m")
    clock.now += BASE_COOLDOWN_S
    assert breakers.blocked("m") is None
    breakers.release("m")
    assert breakers.blocked("m") is None


def test_the_cooldown_grows_to_a_cap() -> None:
    clock = Clock()
    breakers = CircuitBreakers(clock)
    for _ in range(FAILURES_TO_OPEN):
        breakers.failure("m")
    waits = []
    for _ in range(8):
        start = clock.now
        while breakers.blocked("m") is not None:
            clock.now += 1
        waits.append(clock.now - start)
        breakers.failure("m")  # each probe fails
    assert waits[:4] == [10, 20, 40, 80] and max(waits) == 300

"""What to do after a failed attempt, as pure functions of the error, the attempt and time.

DESIGN.md's "Failure handling": transient failures (connection, timeout, 408, 409, 429, 5xx,
529, an in-stream overload) get at most one jittered retry of the same model, then the next
model; a `Retry-After` is honoured when it fits the deadline; an exhausted spend limit takes
the provider out until it resets; a full context window skips to a model with a larger one;
401/403/404 mark the model unavailable; a wrong request (400, 413, 422) is neither retried nor
sent elsewhere.
"""

from __future__ import annotations

import random
from enum import StrEnum

from cortexd.routing.providers.errors import (
    AuthenticationError,
    ContextLengthError,
    InvalidRequestError,
    ModelUnavailableError,
    ProviderError,
    QuotaExceededError,
    TransientError,
    UnsupportedRequestError,
)

#: Retries of one model after its first attempt.
MAX_RETRIES = 1
#: The jittered pause before a retry: base × 2^(retry-1), times a factor in [0.5, 1.5].
RETRY_BASE_S = 0.25
#: A Retry-After longer than this is not waited for: another model answers sooner.
MAX_RETRY_AFTER_S = 10.0
#: How long a provider whose spend limit is reached stays out when it does not say.
QUOTA_PAUSE_S = 3600.0
#: How long a model that answered 401/403/404 is skipped before it is tried again.
UNAVAILABLE_PAUSE_S = 900.0


class Action(StrEnum):
    """What dispatch does next after an error."""

    RETRY = "retry"  # transient: retry this model once, then the next
    NEXT = "next"  # this model failed; the next one may serve
    LARGER_WINDOW = "larger-window"  # only a model with a larger context window may serve
    MARK_UNAVAILABLE = "mark-unavailable"  # skip this model for a while, then the next
    DISABLE_PROVIDER = "disable-provider"  # spend limit: the whole provider is out
    FAIL = "fail"  # the request is wrong: the client gets the provider's message
    SKIP = "skip"  # this model cannot take this request (a capability it lacks): the next


def action_for(error: ProviderError) -> Action:
    """The class of an error decides; never its message.

    >>> from cortexd.routing.providers.errors import OverloadedError
    >>> action_for(OverloadedError("busy", provider="anthropic"))
    <Action.RETRY: 'retry'>
    """
    if isinstance(error, UnsupportedRequestError):
        return Action.SKIP
    if isinstance(error, InvalidRequestError):
        return Action.FAIL
    if isinstance(error, ContextLengthError):
        return Action.LARGER_WINDOW
    if isinstance(error, QuotaExceededError):
        return Action.DISABLE_PROVIDER
    if isinstance(error, AuthenticationError | ModelUnavailableError):
        return Action.MARK_UNAVAILABLE
    if isinstance(error, TransientError):
        return Action.RETRY
    return Action.NEXT


def counts_against_model(error: ProviderError) -> bool:
    """Whether `error` is a verdict on the model, for its circuit breaker.

    A failure the request caused (a wrong or unencodable request, a prompt too long for the
    window, a capability the model lacks) says nothing about the model: counted, one client's
    bad input would take a model offline for every client. Nor does a spend limit, which
    pauses the whole provider instead.

    >>> from cortexd.routing.providers.errors import InvalidRequestError, ServerError
    >>> counts_against_model(InvalidRequestError("bad", provider="openai", status=400))
    False
    >>> counts_against_model(ServerError("boom", provider="openai", status=500))
    True
    """
    return action_for(error) in (Action.RETRY, Action.NEXT, Action.MARK_UNAVAILABLE)


def should_retry(error: ProviderError, retries_done: int) -> bool:
    """Whether to try the same model again: transient errors, at most `MAX_RETRIES` times."""
    return action_for(error) is Action.RETRY and retries_done < MAX_RETRIES


def retry_delay(
    retries_done: int,
    retry_after: float | None,
    remaining_s: float,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds to wait before the next retry, or None when waiting does not fit the deadline.

    A provider's `retry_after` is honoured when it is short and fits what is left of the
    deadline; otherwise the next model is the better bet.

    >>> retry_delay(0, 2.0, remaining_s=30.0)
    2.0
    >>> retry_delay(0, 20.0, remaining_s=30.0) is None
    True
    >>> 0.125 <= retry_delay(0, None, remaining_s=30.0, rng=random.Random(1)) <= 0.375
    True
    """
    if retry_after is not None:
        if retry_after > MAX_RETRY_AFTER_S or retry_after >= remaining_s:
            return None
        return retry_after
    factor = 0.5 + (rng or random.Random()).random()
    delay = RETRY_BASE_S * (2**retries_done) * factor
    return delay if delay < remaining_s else None


def pause_for(error: ProviderError) -> float:
    """How long a model (or, for a spend limit, its provider) is left out after `error`."""
    if isinstance(error, QuotaExceededError):
        return error.retry_after if error.retry_after else QUOTA_PAUSE_S
    return UNAVAILABLE_PAUSE_S

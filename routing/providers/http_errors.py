"""From an HTTP error (status, the provider's error type and code, its message) to our error.

Providers hide meaning in odd places: a full context window is a 400 whose message says so,
an exhausted spend limit is a 429 (OpenAI's ``insufficient_quota``) or a 400 (Anthropic's
"credit balance is too low"), and overload arrives as 529, 503 or an ``overloaded_error``
event inside a 200 stream. These pure functions read all of that in one place, so each
adapter only extracts the fields from its SDK's exception.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any

from cortexd.routing.providers.errors import (
    AuthenticationError,
    ContextLengthError,
    InvalidRequestError,
    ModelNotFoundError,
    OverloadedError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)

_CONTEXT_LENGTH = re.compile(
    r"context[_ ]length[_ ]exceeded|maximum context length|context window|prompt is too long"
    r"|exceed(?:s|ed)? (?:the )?context|input length and `?max_tokens`? exceed"
    r"|too many tokens|reduce the length of the messages",
    re.IGNORECASE,
)
_QUOTA = re.compile(
    r"insufficient_quota|exceeded your current quota|credit balance is too low"
    r"|reached your specified (?:api )?usage limits|billing_hard_limit|spend(?:ing)? limit",
    re.IGNORECASE,
)
_OVERLOADED_TYPES = frozenset({"overloaded_error", "overloaded", "server_overloaded"})
_RATE_LIMIT_TYPES = frozenset({"rate_limit_error", "rate_limit_exceeded", "tokens", "requests"})
_SERVER_TYPES = frozenset({"api_error", "server_error", "internal_error"})
_TIMEOUT_TYPES = frozenset({"timeout_error"})


def error_fields(body: object) -> tuple[str | None, str | None, str | None]:
    """(type, code, message) from an error body, wrapped in ``{"error": …}`` or not.

    >>> error_fields({"type": "error", "error": {"type": "overloaded_error", "message": "Busy"}})
    ('overloaded_error', None, 'Busy')
    >>> error_fields({"message": "Quota", "type": "insufficient_quota", "code": "quota"})
    ('insufficient_quota', 'quota', 'Quota')
    >>> error_fields("upstream said no")
    (None, None, 'upstream said no')
    """
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, str):
            return None, None, inner  # Ollama's {"error": "…"}
        data = inner if isinstance(inner, Mapping) else body

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) and value else None

        return text("type"), text("code"), text("message")
    return None, None, (body if isinstance(body, str) and body else None)


def is_context_length(message: str, code: str | None = None) -> bool:
    """Whether an error says the prompt does not fit the model's context window.

    >>> is_context_length("prompt is too long: 210000 tokens > 200000 maximum")
    True
    >>> is_context_length("This model's maximum context length is 128000 tokens.")
    True
    >>> is_context_length("messages: at least one message is required")
    False
    """
    return code == "context_length_exceeded" or bool(_CONTEXT_LENGTH.search(message))


def is_quota(message: str, code: str | None = None) -> bool:
    """Whether an error says the account's spend limit or credit is used up.

    >>> is_quota("You exceeded your current quota, please check your plan and billing details.")
    True
    >>> is_quota("Rate limit reached for requests")
    False
    """
    return code == "insufficient_quota" or bool(_QUOTA.search(message))


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``retry-after`` (seconds or an HTTP date).

    >>> parse_retry_after({"retry-after": "2"})
    2.0
    >>> parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"})
    1.5
    >>> parse_retry_after({"retry-after": "soon"}) is None
    True
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_for_status(
    status: int,
    message: str,
    *,
    provider: str,
    model: str | None,
    error_type: str | None = None,
    code: str | None = None,
    retry_after: float | None = None,
) -> ProviderError:
    """The error for an HTTP error answer; `status` 200 is an error event inside a stream."""
    kind = (error_type or "").lower()
    tag = code or error_type
    args: dict[str, Any] = {
        "provider": provider,
        "model": model,
        "code": tag,
        "retry_after": retry_after,
    }
    shown = None if status == 200 else status
    if is_quota(message, code) or is_quota(message, error_type):
        return QuotaExceededError(message, status=shown, **args)
    if status in (400, 413) and is_context_length(message, code):
        return ContextLengthError(message, status=shown, **args)
    if status == 200:  # an error event inside a stream: only its type tells what it was
        if kind in _OVERLOADED_TYPES:
            return OverloadedError(message, **args)
        if kind in _RATE_LIMIT_TYPES or "rate_limit" in kind:
            return RateLimitError(message, **args)
        if kind in _TIMEOUT_TYPES:
            return ProviderTimeoutError(message, **args)
        if is_context_length(message, code):
            return ContextLengthError(message, **args)
        if kind in ("invalid_request_error", "invalid_request"):
            return InvalidRequestError(message, **args)
        if kind in _SERVER_TYPES:
            return ServerError(message, **args)
        return StreamInterruptedError(message, **args)
    if status == 402:
        return QuotaExceededError(message, status=status, **args)
    if status in (401, 403):
        return AuthenticationError(message, status=status, **args)
    if status == 404:
        return ModelNotFoundError(message, status=status, **args)
    if status == 408:
        return ProviderTimeoutError(message, status=status, **args)
    if status == 429:
        return RateLimitError(message, status=status, **args)
    if status in (503, 529) or kind in _OVERLOADED_TYPES:
        return OverloadedError(message, status=status, **args)
    if status == 409 or status >= 500:
        return ServerError(message, status=status, **args)
    return InvalidRequestError(message, status=status, **args)

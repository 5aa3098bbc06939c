"""The error policy: every status and in-stream error type lands on the right class."""

from __future__ import annotations

import pytest

from cortexd.routing.providers import (
    AuthenticationError,
    ContextLengthError,
    InvalidRequestError,
    ModelNotFoundError,
    ModelUnavailableError,
    OverloadedError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    TransientError,
)
from cortexd.routing.providers.errors import redact
from cortexd.routing.providers.http_errors import error_for_status, parse_retry_after


@pytest.mark.parametrize(
    ("status", "message", "error_type", "code", "expected"),
    [
        (
            400,
            "messages: text content blocks must be non-empty",
            "invalid_request_error",
            None,
            InvalidRequestError,
        ),
        (
            400,
            "prompt is too long: 210000 tokens > 200000 maximum",
            "invalid_request_error",
            None,
            ContextLengthError,
        ),
        (
            400,
            "input length and `max_tokens` exceed context limit: 198000 + 8192 > 200000",
            None,
            None,
            ContextLengthError,
        ),
        (
            400,
            "This model's maximum context length is 128000 tokens.",
            "invalid_request_error",
            "context_length_exceeded",
            ContextLengthError,
        ),
        (
            400,
            "Your credit balance is too low to access the Anthropic API.",
            "invalid_request_error",
            None,
            QuotaExceededError,
        ),
        (
            400,
            "You have reached your specified API usage limits.",
            "invalid_request_error",
            None,
            QuotaExceededError,
        ),
        (401, "invalid x-api-key", "authentication_error", None, AuthenticationError),
        (402, "payment required", None, None, QuotaExceededError),
        (403, "no access", "permission_error", None, AuthenticationError),
        (404, "model: claude-x", "not_found_error", None, ModelNotFoundError),
        (408, "request timeout", None, None, ProviderTimeoutError),
        (409, "conflict", None, None, ServerError),
        (413, "request too large", "request_too_large", None, InvalidRequestError),
        (422, "unprocessable", None, None, InvalidRequestError),
        (429, "Rate limit reached", "rate_limit_error", None, RateLimitError),
        (
            429,
            "You exceeded your current quota",
            "insufficient_quota",
            "insufficient_quota",
            QuotaExceededError,
        ),
        (500, "internal", "api_error", None, ServerError),
        (502, "bad gateway", None, None, ServerError),
        (503, "unavailable", None, None, OverloadedError),
        (529, "Overloaded", "overloaded_error", None, OverloadedError),
        # Inside a 200 stream only the error's type tells what happened.
        (200, "Overloaded", "overloaded_error", None, OverloadedError),
        (200, "slow down", "rate_limit_error", None, RateLimitError),
        (200, "boom", "api_error", None, ServerError),
        (200, "boom", "server_error", None, ServerError),
        (200, "bad", "invalid_request_error", None, InvalidRequestError),
        (200, "something odd", None, None, StreamInterruptedError),
    ],
)
def test_error_for_status(
    status: int,
    message: str,
    error_type: str | None,
    code: str | None,
    expected: type[ProviderError],
) -> None:
    error = error_for_status(
        status, message, provider="p", model="m", error_type=error_type, code=code
    )
    assert type(error) is expected
    assert error.detail == message and error.provider == "p" and error.model == "m"
    assert error.status == (None if status == 200 else status)


def test_the_tree_groups_what_dispatch_decides_on() -> None:
    for transient in (
        RateLimitError,
        OverloadedError,
        ServerError,
        ProviderTimeoutError,
        StreamInterruptedError,
    ):
        assert issubclass(transient, TransientError)
    for unavailable in (AuthenticationError, ModelNotFoundError):
        assert issubclass(unavailable, ModelUnavailableError)
    for final in (InvalidRequestError, ContextLengthError, QuotaExceededError):
        assert not issubclass(final, TransientError | ModelUnavailableError)


def test_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert (
        parse_retry_after({"retry-after": "Wed, 02 Dec 2026 19:00:10 GMT"}, now=1796238000.0)
        == 10.0
    )
    assert parse_retry_after({"retry-after": "-3"}) == 0.0
    assert parse_retry_after({}) is None


def test_redact_masks_keys_and_given_secrets() -> None:
    text = redact(
        "key sk-proj-abcdefghijklmnop and sk-ant-api03-xyzxyzxyzxyz and hunter22", ["hunter22"]
    )
    assert "abcdefghijklmnop" not in text and "xyzxyzxyzxyz" not in text and "hunter22" not in text

"""What can go wrong when a provider is called, as one tree that dispatch decides on by type.

Each adapter translates its SDK's exceptions into this tree in one place (its ``map_error``);
nothing above the adapters ever looks at an SDK exception or parses a message. The
`ProviderError` branch of the one tree (cortexd/errors.py) says what each class means and
what dispatch does with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cortexd.routing.errors import CortexError

#: Key-shaped strings that must never reach a message, even when a provider echoes them.
_KEY_SHAPES = re.compile(r"\b(sk-(?:ant-)?[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,})")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the given secrets and anything shaped like an API key masked.

    >>> redact("Incorrect API key provided: sk-abc123456789xyz.")
    'Incorrect API key provided: sk-***.'
    >>> redact("token hunter2 rejected", ["hunter2"])
    'token *** rejected'
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _KEY_SHAPES.sub(lambda m: m.group(0)[:3] + "***", text)


class ProviderError(CortexError):
    """A call to a provider failed. `status` is the HTTP status when there was one."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.status = status
        self.retry_after = retry_after
        self.code = code  # the provider's own error type or code, e.g. "overloaded_error"
        self.detail = message
        where = f"{provider}/{model}" if model else provider
        status_text = f" (HTTP {status})" if status else ""
        super().__init__(f"{where}: {message}{status_text}")


class TransientError(ProviderError):
    """A failure that may pass: retry once, then fall back."""


class ProviderConnectionError(TransientError):
    """The provider could not be reached, or the connection (or worker) died."""


class ProviderTimeoutError(TransientError):
    """The provider did not answer in time."""


class RateLimitError(TransientError):
    """Too many requests (429); `retry_after` is the provider's hint in seconds, if any."""


class OverloadedError(TransientError):
    """The provider is overloaded (529, 503, or an `overloaded_error` event mid-stream)."""


class ServerError(TransientError):
    """The provider failed on its side (5xx other than overload, 409)."""


class StreamInterruptedError(TransientError):
    """A stream ended before its end event, or sent data that cannot be parsed."""


class QuotaExceededError(ProviderError):
    """The account's spend limit or credit is used up; retrying before it resets is futile."""


class ContextLengthError(ProviderError):
    """The prompt (plus max_tokens) does not fit this model's context window."""


class ModelUnavailableError(ProviderError):
    """This model cannot serve requests now; skip it, do not retry it."""


class AuthenticationError(ModelUnavailableError):
    """The key is missing, wrong, or lacks permission (401, 403)."""


class ModelNotFoundError(ModelUnavailableError):
    """The provider does not know the model (404), or Ollama has not pulled it."""


class NotConfiguredError(ModelUnavailableError):
    """The provider cannot be used: no key, or its library is not installed."""


class ModelLoadError(ModelUnavailableError):
    """A local model file could not be loaded (malformed, unsupported, out of memory)."""


class InvalidRequestError(ProviderError):
    """The request is wrong (400, 413, 422); the message is the provider's, for the client."""


class UnsupportedRequestError(ProviderError):
    """This model cannot take this request (a capability it lacks); another model may."""


class BatchItemError(ProviderError):
    """A request of a provider's batch that came back unanswered: errored, expired, canceled."""

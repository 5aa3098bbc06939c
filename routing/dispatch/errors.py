"""Dispatch's own errors: the whole chain failed, or a stream failed after its first token."""

from __future__ import annotations

from collections.abc import Sequence

from cortexd.routing.errors import CortexError
from cortexd.routing.providers.errors import ProviderError

#: Seconds a client is told to wait when no model could answer and none said when to retry.
DEFAULT_RETRY_AFTER_S = 30.0


class ChainExhaustedError(CortexError):
    """No model of the plan could answer; `failures` says, per model, why (HTTP 503)."""

    def __init__(self, failures: Sequence[tuple[str, str]], retry_after: float | None) -> None:
        self.failures = tuple(failures)
        self.retry_after = retry_after if retry_after is not None else DEFAULT_RETRY_AFTER_S
        lines = "; ".join(f"{model}: {why}" for model, why in self.failures) or "no model to try"
        super().__init__(f"no model could answer — {lines}")


class PartialAnswerError(CortexError):
    """A stream failed after content reached the client: it must end with an error event.

    No other model may continue it (that would splice two models' text); the call is
    recorded as partial.
    """

    def __init__(self, model: str, cause: ProviderError) -> None:
        self.model = model
        self.cause = cause
        super().__init__(f"the answer from {model} broke off: {cause}")

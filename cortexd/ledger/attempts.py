"""Dispatch's attempts, gathered per call until the call is recorded.

Dispatch reports every try through one sink; a call's second opinion and judge report under
``<call id>:second`` and ``<call id>:judge``, so they are gathered with the call.
"""

from __future__ import annotations

import logging

from cortexd.routing.dispatch import Attempt

log = logging.getLogger("cortexd")


class AttemptLog:
    """The dispatch sink: attempts of the calls being recorded, logged as they come."""

    def __init__(self) -> None:
        self._open: dict[str, list[Attempt]] = {}

    def __call__(self, attempt: Attempt) -> None:
        # An answer is the ledger's to show (`cortex calls`); a failure or a skip is news.
        level = logging.DEBUG if attempt.outcome == "ok" else logging.INFO
        log.log(
            level,
            "attempt %s #%d %s/%s %s%s",
            attempt.request_id,
            attempt.number,
            attempt.provider,
            attempt.model,
            attempt.outcome,
            f" ({attempt.error_class or attempt.skip_reason})" if attempt.outcome != "ok" else "",
        )
        gathered = self._open.get(attempt.request_id.partition(":")[0])
        if gathered is not None:
            gathered.append(attempt)

    def open(self, call_id: str) -> list[Attempt]:
        """Start gathering `call_id`'s attempts into the list returned."""
        gathered: list[Attempt] = []
        self._open[call_id] = gathered
        return gathered

    def close(self, call_id: str) -> None:
        """Stop gathering (idempotent)."""
        self._open.pop(call_id, None)

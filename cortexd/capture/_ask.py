"""Asking a model through cortexd's own chat route, in process.

The capture goes through ``POST /v1/chat/completions`` like any client's call, so routing,
budgets, fallbacks and the ledger all apply to it; the call is made over an ASGI transport,
not the socket, so it needs no connection and works before the socket is handed out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx2

from cortexd.capture._errors import FilingError

#: The routing file's task type that capture is sent as.
CAPTURE_TASK = "Quick capture / filing"
#: The client name the ledger records for capture's calls.
CAPTURE_CLIENT = "capture"
#: A whole fallback chain gets this long; dispatch has its own deadline within it.
ASK_TIMEOUT = httpx2.Timeout(600.0, connect=5.0)


@dataclass(frozen=True)
class Answer:
    """A model's answer: its text and the model that gave it."""

    text: str
    model: str | None = None


class Ask(Protocol):
    """Send chat messages, asking for a JSON object; raises `FilingError` on failure."""

    async def __call__(self, messages: Sequence[Mapping[str, str]]) -> Answer: ...


def chat_body(messages: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """The chat completions body for a capture: JSON wanted, sent as the capture task."""
    return {
        "model": "auto",
        "messages": [dict(m) for m in messages],
        "response_format": {"type": "json_object"},
        "cortex": {"task": CAPTURE_TASK, "client": CAPTURE_CLIENT},
    }


def answer_of(status: int, payload: Any) -> Answer:
    """The answer in a chat completions response, or `FilingError` with the daemon's message."""
    if status >= 400:
        message = "no error message"
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            message = str(payload["error"].get("message") or message)
        raise FilingError(f"the model call failed (HTTP {status}): {message}", status)
    try:
        text = payload["choices"][0]["message"]["content"]
        model = (payload.get("cortex") or {}).get("model") or payload.get("model")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise FilingError("the model's answer has no message", 502) from None
    if not isinstance(text, str):
        raise FilingError("the model's answer has no text", 502)
    return Answer(text, model if isinstance(model, str) else None)


class AppAsk:
    """`Ask` over an ASGI app (cortexd's own), through its chat completions route."""

    def __init__(self, app: Any) -> None:
        self._http = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://cortexd", timeout=ASK_TIMEOUT
        )

    async def __call__(self, messages: Sequence[Mapping[str, str]]) -> Answer:
        """Ask through ``POST /v1/chat/completions``."""
        response = await self._http.post("/v1/chat/completions", json=chat_body(messages))
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return answer_of(response.status_code, payload)

    async def aclose(self) -> None:
        """Close the in-process client."""
        await self._http.aclose()

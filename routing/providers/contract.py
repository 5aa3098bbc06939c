"""The one contract every backend meets, and what a backend says about itself.

A provider instance serves one endpoint (a base URL, or the local llama.cpp worker) and any
model on it; the request names the concrete model. Every method raises only errors from
`cortexd.routing.providers.errors`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cortexd.routing.providers.chat import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    StreamEvent,
)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a model can do; dispatch skips a model that lacks what a request needs.

    `context_window` is in tokens (None: unknown); `max_output_tokens` likewise.
    """

    context_window: int | None = None
    max_output_tokens: int | None = None
    chat: bool = True
    tools: bool = False
    images: bool = False
    json_mode: bool = False
    json_schema: bool = False
    reasoning: bool = False
    embeddings: bool = False
    prompt_caching: bool = False


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """Whether a provider can be used, and if not, why — in words a user can act on.

    `reachable` is None when it was not checked (no key: there is nothing to check).
    `endpoint` is shown to users, so it never contains credentials.
    """

    provider: str
    configured: bool
    key_present: bool
    reachable: bool | None
    endpoint: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Warmth:
    """Whether a local model is in memory now, and how long loading it takes: measured at
    its last load, or estimated from its size until it has loaded once (`measured` False)."""

    loaded: bool
    load_seconds: float
    measured: bool


#: Until a model has loaded once, its load time is estimated from its size at this rate
#: (a laptop SSD read into memory; a GPU upload is of the same order).
LOAD_BYTES_PER_S = 1.5e9


@runtime_checkable
class Warming(Protocol):
    """A local backend that can say whether a model is warm, and load it ahead of a call."""

    async def warmth(self, model: str) -> Warmth | None:
        """`model`'s state; None when it cannot be told (the backend is unreachable)."""
        ...

    async def warm(self, model: str) -> None:
        """Load `model` now, so the next call finds it in memory."""
        ...


@runtime_checkable
class ChatProvider(Protocol):
    """A backend that answers chat requests and, where it can, embeds text."""

    name: str

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """The whole answer at once."""
        ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """The answer as deltas; the last event is a `StreamEnd` with usage and timing.

        A stream that breaks raises a `ProviderError` from the iteration instead.
        """
        ...

    async def embed(self, request: EmbedRequest) -> EmbedResponse:
        """One vector per input; providers without embeddings raise `NotConfiguredError`."""
        ...

    async def status(self) -> ProviderStatus:
        """Configured? Key present? Reachable (a cheap, short request)?"""
        ...

    async def capabilities(self, model: str) -> Capabilities:
        """What `model` can do on this provider."""
        ...

    async def aclose(self) -> None:
        """Release connections (and, for llama.cpp, the worker process)."""
        ...

"""The providers' Batch APIs, as one small contract: submit many requests, poll, take results.

Anthropic's Message Batches and OpenAI's Batch API answer at half price within 24 hours.
Both are reached through the official SDKs (anthropic_batches.py, openai_batches.py), and
each answers in our terms: a `RemoteBatch` (where the batch stands) and its `BatchResult`s
(one per request, matched by ``custom_id``: they come back in any order).

A submission carries cortexd's `key` so that a batch created by a call whose answer never
came (a crash, a connection cut after the provider took it) can be found again by `find`,
and never submitted twice.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from cortexd.routing.providers.chat import ChatRequest, ChatResponse

#: How a request of a batch ended (the providers' words, OpenAI's mapped onto Anthropic's).
ResultKind = Literal["succeeded", "errored", "expired", "canceled"]


@dataclass(frozen=True)
class BatchRequest:
    """One request of a batch: its id within the batch, the endpoint (OpenAI's batches are
    per endpoint) and the provider's own request body."""

    custom_id: str
    url: str
    body: dict[str, Any]


#: What a client's body may carry that a batch request may not: the batch is never streamed,
#: and cortexd's own options stay with cortexd.
NOT_SENT = ("stream", "stream_options", "cortex")


def as_written(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """A client's own body sent as a batch request to `model`.

    >>> as_written({"model": "auto", "stream": True, "messages": []}, "gpt-4o")
    {'model': 'gpt-4o', 'messages': []}
    """
    out = {k: v for k, v in body.items() if k not in NOT_SENT}
    out["model"] = model
    return out


@dataclass(frozen=True)
class RemoteBatch:
    """A provider's batch as it stands: `ended` once its results can be read."""

    id: str
    status: str
    ended: bool
    created_at: float
    counts: dict[str, int]


@dataclass(frozen=True)
class BatchResult:
    """One request's result: the provider's answer body when it succeeded, else why not."""

    custom_id: str
    kind: ResultKind
    body: dict[str, Any] | None = None
    status: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class BatchLimits:
    """The most one batch may hold, as the provider documents it."""

    max_requests: int
    max_bytes: int


@runtime_checkable
class BatchApi(Protocol):
    """A provider's Batch API. Every method raises the provider's `ProviderError`s."""

    provider: str
    limits: BatchLimits

    def wire_request(self, request: ChatRequest) -> tuple[str, dict[str, Any], tuple[str, ...]]:
        """`request` (its `model` the provider's id) as a batch request: the endpoint, the
        provider's body, and what translation could not carry over."""
        ...

    def wire_response(self, url: str, body: dict[str, Any]) -> ChatResponse:
        """A succeeded result's body (from `url`) as our response."""
        ...

    async def create(self, key: str, requests: Sequence[BatchRequest]) -> RemoteBatch:
        """Submit `requests` (one endpoint) as one batch tagged with `key`."""
        ...

    async def find(
        self, key: str, since: float, count: int, known: Collection[str]
    ) -> RemoteBatch | None:
        """The batch a `create` tagged `key` made at or after `since` (Unix time) with
        `count` requests, if the provider has one (a create whose answer was lost); never
        one of the batches `known` to be another submission's."""
        ...

    async def retrieve(self, batch_id: str) -> RemoteBatch:
        """Where the batch stands now."""
        ...

    async def results(self, batch_id: str) -> list[BatchResult]:
        """The results of an ended batch, one per request it holds."""
        ...

    async def cancel(self, batch_id: str) -> None:
        """Ask the provider to stop the batch (what is done stays done)."""
        ...


@runtime_checkable
class OffersBatches(Protocol):
    """A chat provider whose API also takes batches."""

    def batch_api(self) -> BatchApi:
        """Its Batch API, on the provider's own SDK client (raises `NotConfiguredError`
        without a key)."""
        ...


def split(
    requests: Sequence[BatchRequest], limits: BatchLimits, size_of: Any = None
) -> list[list[BatchRequest]]:
    """`requests` cut into batches within `limits` (count and bytes), in order.

    >>> r = [BatchRequest(str(i), "/v1/messages", {"x": "y" * 10}) for i in range(5)]
    >>> [len(part) for part in split(r, BatchLimits(2, 10_000))]
    [2, 2, 1]
    >>> [len(part) for part in split(r, BatchLimits(100, 300))]  # 137 bytes each, framed
    [2, 2, 1]
    """
    measure = size_of or (lambda r: len(json.dumps(r.body, ensure_ascii=False).encode()) + 120)
    parts: list[list[BatchRequest]] = []
    current: list[BatchRequest] = []
    size = 0
    for request in requests:
        grows = measure(request)
        if current and (len(current) >= limits.max_requests or size + grows > limits.max_bytes):
            parts.append(current)
            current, size = [], 0
        current.append(request)
        size += grows
    if current:
        parts.append(current)
    return parts

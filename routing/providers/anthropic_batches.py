"""Anthropic's Message Batches API through the official SDK (``client.messages.batches``).

A batch holds at most 100,000 requests or 256 MB. Its requests carry no metadata, so the
`key` that finds a batch again rides in every ``custom_id`` (``<key>-<n>``); `find` looks
among the batches created since the submission began for one of the same size that no
other submission of ours holds, and the caller confirms it by the ids of its results.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

import anthropic

from cortexd.routing.providers.anthropic_wire import from_anthropic, to_anthropic
from cortexd.routing.providers.batch_api import (
    BatchLimits,
    BatchRequest,
    BatchResult,
    RemoteBatch,
    ResultKind,
    as_written,
)
from cortexd.routing.providers.chat import ChatRequest, ChatResponse
from cortexd.routing.providers.errors import ProviderError
from cortexd.routing.providers.http_errors import error_fields

LIMITS = BatchLimits(max_requests=100_000, max_bytes=256 * 1024 * 1024)
#: Seconds the provider's clock may run behind ours when `find` compares creation times.
CLOCK_SLACK_S = 300.0
_KINDS: tuple[ResultKind, ...] = ("succeeded", "errored", "expired", "canceled")


def _when(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return 0.0


def _remote(batch: Any) -> RemoteBatch:
    counts = batch.request_counts.model_dump() if batch.request_counts else {}
    status = str(batch.processing_status)
    return RemoteBatch(batch.id, status, status == "ended", _when(batch.created_at), counts)


class AnthropicBatches:
    """Message Batches on an `AsyncAnthropic` client; `error` maps the SDK's exceptions."""

    provider = "anthropic"
    limits = LIMITS

    def __init__(
        self,
        client: anthropic.AsyncAnthropic,
        error: Callable[[BaseException], ProviderError],
        caught: tuple[type[BaseException], ...],
    ) -> None:
        self._client = client
        self._error = error
        self._caught = caught

    def wire_request(self, request: ChatRequest) -> tuple[str, dict[str, Any], tuple[str, ...]]:
        """Messages params: the client's own Messages body as written, else translated."""
        forward = request.forward
        if forward is not None and forward.wire == "messages":
            return "/v1/messages", as_written(forward.body, request.model), ()
        body, warnings = to_anthropic(request)
        body.pop("stream", None)
        return "/v1/messages", body, warnings

    def wire_response(self, url: str, body: dict[str, Any]) -> ChatResponse:
        """A succeeded result's message."""
        del url
        return from_anthropic(body)

    async def create(self, key: str, requests: Sequence[BatchRequest]) -> RemoteBatch:
        """One Message Batch of `requests` (their bodies are Messages params)."""
        del key  # it is in every custom_id already
        params: Any = [{"custom_id": r.custom_id, "params": r.body} for r in requests]
        try:
            return _remote(await self._client.messages.batches.create(requests=params))
        except self._caught as exc:
            raise self._error(exc) from None

    async def find(
        self, key: str, since: float, count: int, known: Collection[str]
    ) -> RemoteBatch | None:
        """The newest batch of `count` requests created since `since` that is not `known`."""
        del key
        try:
            page = await self._client.messages.batches.list(limit=100)
        except self._caught as exc:
            raise self._error(exc) from None
        for batch in page.data:
            found = _remote(batch)
            if found.created_at < since - CLOCK_SLACK_S or found.id in known:
                continue
            if sum(found.counts.values()) == count:
                return found
        return None

    async def retrieve(self, batch_id: str) -> RemoteBatch:
        """Where the batch stands."""
        try:
            return _remote(await self._client.messages.batches.retrieve(batch_id))
        except self._caught as exc:
            raise self._error(exc) from None

    async def results(self, batch_id: str) -> list[BatchResult]:
        """Every result of the ended batch, from its JSON Lines."""
        out: list[BatchResult] = []
        try:
            decoder = await self._client.messages.batches.results(batch_id)
            async for entry in decoder:
                out.append(_result(entry.model_dump()))
        except self._caught as exc:
            raise self._error(exc) from None
        return out

    async def cancel(self, batch_id: str) -> None:
        """Ask Anthropic to stop the batch."""
        try:
            await self._client.messages.batches.cancel(batch_id)
        except self._caught as exc:
            raise self._error(exc) from None


def _result(entry: dict[str, Any]) -> BatchResult:
    """One line of a batch's results in our terms.

    >>> _result({"custom_id": "k-1", "result": {"type": "errored", "error": {"type": "error",
    ...     "error": {"type": "overloaded_error", "message": "Overloaded"}}}})
    ... # doctest: +NORMALIZE_WHITESPACE
    BatchResult(custom_id='k-1', kind='errored', body=None, status=529,
                error='overloaded_error: Overloaded')
    """
    result = entry.get("result") or {}
    kind = result.get("type")
    custom_id = str(entry.get("custom_id"))
    if kind == "succeeded" and isinstance(result.get("message"), dict):
        return BatchResult(custom_id, "succeeded", result["message"], 200)
    if kind == "errored":
        kind_name, _, message = error_fields(result.get("error"))
        status = _STATUS.get(kind_name or "", 500)
        return BatchResult(custom_id, "errored", status=status, error=f"{kind_name}: {message}")
    found: ResultKind = kind if kind in _KINDS else "errored"
    return BatchResult(custom_id, found, error=f"the request {found} before it was answered")


#: Anthropic's error types and the HTTP status each stands for.
_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}

"""OpenAI's Batch API through the official SDK: the requests uploaded as a JSON Lines file
(``purpose="batch"``), a batch made of it for one endpoint, and its output and error files
read back when it ends.

A batch holds at most 50,000 requests, and its file at most 200 MB. The batch carries
cortexd's `key` in its metadata, which is how `find` knows it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from typing import Any

import openai

from cortexd.routing.providers.batch_api import (
    BatchLimits,
    BatchRequest,
    BatchResult,
    RemoteBatch,
    as_written,
)
from cortexd.routing.providers.chat import ChatRequest, ChatResponse
from cortexd.routing.providers.errors import ProviderError
from cortexd.routing.providers.http_errors import error_fields
from cortexd.routing.providers.openai_responses_wire import (
    from_responses,
    to_responses,
    uses_responses,
)
from cortexd.routing.providers.openai_wire import from_chat, to_chat

LIMITS = BatchLimits(max_requests=50_000, max_bytes=200 * 1024 * 1024)
#: The metadata key a batch of ours carries.
KEY = "cortexd_key"
#: The statuses after which a batch's files are final.
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})


def _remote(batch: Any) -> RemoteBatch:
    counts = batch.request_counts.model_dump() if batch.request_counts else {}
    status = str(batch.status)
    return RemoteBatch(batch.id, status, status in ENDED, float(batch.created_at or 0), counts)


def input_file(requests: Sequence[BatchRequest]) -> bytes:
    """The batch's input file: one ``{"custom_id", "method", "url", "body"}`` per line.

    >>> input_file([BatchRequest("k-0", "/v1/chat/completions", {"model": "gpt-4o"})])
    b'{"custom_id":"k-0","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o"}}\\n'
    """
    lines = (
        json.dumps(
            {"custom_id": r.custom_id, "method": "POST", "url": r.url, "body": r.body},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for r in requests
    )
    return "".join(line + "\n" for line in lines).encode()


class OpenAIBatches:
    """The Files and Batch APIs on an `AsyncOpenAI` client; `error` maps its exceptions."""

    provider = "openai"
    limits = LIMITS

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        error: Callable[[BaseException], ProviderError],
        caught: tuple[type[BaseException], ...],
        responses_models: Collection[str] = (),
    ) -> None:
        self._client = client
        self._error = error
        self._caught = caught
        self._responses_models = responses_models

    def wire_request(self, request: ChatRequest) -> tuple[str, dict[str, Any], tuple[str, ...]]:
        """A Responses body for the models served only there, else Chat Completions; the
        client's own body as written where it is already that wire."""
        forward = request.forward
        if uses_responses(request.model, self._responses_models):
            if forward is not None and forward.wire == "responses":
                return "/v1/responses", as_written(forward.body, request.model), ()
            body, warnings = to_responses(request)
            body.pop("stream", None)
            return "/v1/responses", body, warnings
        if forward is not None and forward.wire == "chat":
            return "/v1/chat/completions", as_written(forward.body, request.model), ()
        return "/v1/chat/completions", to_chat(request), ()

    def wire_response(self, url: str, body: dict[str, Any]) -> ChatResponse:
        """A succeeded result's body, read as the endpoint it came from."""
        return from_responses(body) if url.endswith("/responses") else from_chat(body)

    async def create(self, key: str, requests: Sequence[BatchRequest]) -> RemoteBatch:
        """Upload the requests and make a batch of them (they share one endpoint)."""
        endpoints = {r.url for r in requests}
        if len(endpoints) != 1:
            raise ValueError(f"an OpenAI batch has one endpoint; these have {sorted(endpoints)}")
        endpoint: Any = endpoints.pop()
        try:
            uploaded = await self._client.files.create(
                file=(f"{key}.jsonl", input_file(requests), "application/jsonl"), purpose="batch"
            )
            batch = await self._client.batches.create(
                input_file_id=uploaded.id,
                endpoint=endpoint,
                completion_window="24h",
                metadata={KEY: key},
            )
        except self._caught as exc:
            raise self._error(exc) from None
        return _remote(batch)

    async def find(
        self, key: str, since: float, count: int, known: Collection[str]
    ) -> RemoteBatch | None:
        """Our batch tagged `key`, among the latest (the key alone tells it)."""
        del since, count, known
        try:
            page = await self._client.batches.list(limit=100)
        except self._caught as exc:
            raise self._error(exc) from None
        for batch in page.data:
            if (batch.metadata or {}).get(KEY) == key:
                return _remote(batch)
        return None

    async def retrieve(self, batch_id: str) -> RemoteBatch:
        """Where the batch stands."""
        try:
            return _remote(await self._client.batches.retrieve(batch_id))
        except self._caught as exc:
            raise self._error(exc) from None

    async def results(self, batch_id: str) -> list[BatchResult]:
        """The lines of its output and error files; a request in neither was not done (the
        batch expired or was cancelled first)."""
        try:
            batch = await self._client.batches.retrieve(batch_id)
            texts = []
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    texts.append((await self._client.files.content(file_id)).text)
        except self._caught as exc:
            raise self._error(exc) from None
        out = [_result(json.loads(line)) for text in texts for line in text.splitlines() if line]
        return out

    async def cancel(self, batch_id: str) -> None:
        """Ask OpenAI to stop the batch."""
        try:
            await self._client.batches.cancel(batch_id)
        except self._caught as exc:
            raise self._error(exc) from None


def _result(line: dict[str, Any]) -> BatchResult:
    """One line of an output or error file in our terms.

    >>> _result({"custom_id": "k-2", "response": {"status_code": 429, "body": {"error":
    ...     {"message": "Slow down", "type": "rate_limit_error"}}}, "error": None})
    ... # doctest: +NORMALIZE_WHITESPACE
    BatchResult(custom_id='k-2', kind='errored', body=None, status=429,
                error='rate_limit_error: Slow down')
    """
    custom_id = str(line.get("custom_id"))
    response = line.get("response") or {}
    status = response.get("status_code")
    body = response.get("body")
    if isinstance(status, int) and status < 400 and isinstance(body, dict):
        return BatchResult(custom_id, "succeeded", body, status)
    kind, code, message = error_fields(body if body is not None else line.get("error"))
    what = kind or code or "error"
    return BatchResult(custom_id, "errored", status=status or 500, error=f"{what}: {message}")

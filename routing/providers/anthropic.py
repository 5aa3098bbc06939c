"""Anthropic through the official SDK (`AsyncAnthropic`, Messages API).

Retries are off (`max_retries=0`): dispatch owns them. Every SDK and transport exception is
translated in one place: `SDK` names its exception classes for `sdk_errors.map_sdk_error`.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from typing import Any

import anthropic
import httpx2

from cortexd.routing.price_table import PriceTable
from cortexd.routing.providers.anthropic_batches import AnthropicBatches
from cortexd.routing.providers.anthropic_wire import (
    AnthropicStreamDecoder,
    from_anthropic,
    to_anthropic,
)
from cortexd.routing.providers.chat import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    StreamEvent,
    Timing,
)
from cortexd.routing.providers.cloud import CloudProvider, call_timeout, post_json
from cortexd.routing.providers.errors import (
    NotConfiguredError,
)
from cortexd.routing.providers.sdk_errors import SdkExceptions
from cortexd.routing.providers.settings import CONNECT_TIMEOUT_S, DEFAULT_TIMEOUT_S, Endpoint
from cortexd.routing.providers.stream import run_stream

NAME = "anthropic"


class JsonEvents(anthropic.AsyncStream[object]):
    """The SDK's event stream (SSE framing, pings skipped, ``error`` events raised as its
    exceptions) yielding each event's JSON as it came, without a pydantic model per event."""


CAUGHT: tuple[type[BaseException], ...] = (anthropic.AnthropicError, httpx2.HTTPError, ValueError)


def endpoint_from_env(
    api_key: str | None = None,
    base_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Endpoint:
    """Anthropic's endpoint from explicit values, then ``ANTHROPIC_API_KEY``/``_BASE_URL``."""
    return Endpoint.resolve(
        NAME,
        key_variable="ANTHROPIC_API_KEY",
        url_variable="ANTHROPIC_BASE_URL",
        api_key=api_key,
        base_url=base_url,
        env=env,
    )


SDK = SdkExceptions(
    NAME,
    "Anthropic",
    timeout=anthropic.APITimeoutError,
    connection=anthropic.APIConnectionError,
    status=anthropic.APIStatusError,
    validation=anthropic.APIResponseValidationError,
    api=anthropic.APIError,
)


class AnthropicProvider(CloudProvider[anthropic.AsyncAnthropic]):
    """Claude models through the Messages API; no embeddings (Anthropic has none)."""

    name = NAME
    sdk = SDK
    caught = CAUGHT

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        http_client: httpx2.AsyncClient | None = None,
        tls: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
        prices: PriceTable | None = None,
    ) -> None:
        """`tls`: the process's TLS context, shared (see `ProviderRegistry`)."""
        super().__init__(endpoint, clock, prices)
        if endpoint.api_key:
            timeout = httpx2.Timeout(DEFAULT_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
            if http_client is None and tls is not None:
                # The SDK's own defaults (pool limits, keep-alive), with the shared context.
                http_client = anthropic.DefaultAsyncHttpxClient(verify=tls, timeout=timeout)
            self._client = anthropic.AsyncAnthropic(
                api_key=endpoint.api_key,
                base_url=endpoint.base_url,
                max_retries=0,
                timeout=timeout,
                http_client=http_client,
            )

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """One Messages call; the first token arrives with the whole answer."""
        client = self._require(request.model)
        body, warnings = to_anthropic(request)
        started = self._clock()
        try:
            data = await post_json(client, "/v1/messages", body, call_timeout(request.timeout))
        except CAUGHT as exc:
            raise self._error(exc, request.model) from None
        elapsed = self._clock() - started
        response = from_anthropic(data)
        return replace(response, timing=Timing(elapsed, elapsed), warnings=warnings)

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Deltas as Anthropic streams them, then `StreamEnd`; a break raises our error.

        A client's own Messages request (`request.forward`) goes through as it was
        written, and its events are relayed (see `forward`)."""
        client = self._require(request.model)
        if request.forward is not None and request.forward.wire == "messages":
            return self._forward("/v1/messages", request, AnthropicStreamDecoder(), from_anthropic)
        body, warnings = to_anthropic(request)

        async def open_events() -> AsyncIterator[Any]:
            # `post` is the SDK's documented request method: the typed `create` would first
            # walk the body against its TypedDicts, and the SDK's stream would build a
            # pydantic model per event for our decoder to read back as a dict.
            events: AsyncIterator[Any] = await client.post(
                "/v1/messages",
                body={**body, "stream": True},
                cast_to=object,
                options={"timeout": call_timeout(request.timeout)},
                stream=True,
                stream_cls=JsonEvents,
            )
            return events

        return run_stream(
            open_events,
            AnthropicStreamDecoder(),
            provider=NAME,
            model=request.model,
            map_error=lambda exc: self._error(exc, request.model),
            caught=CAUGHT,
            warnings=warnings,
            clock=self._clock,
        )

    async def count_tokens(self, request: ChatRequest) -> int:
        """Anthropic's own count of the client's request (`request.forward`) on
        `request.model`: free, and exact for its tokenizer."""
        client = self._require(request.model)
        assert request.forward is not None
        body = {**request.forward.body, "model": request.model}
        body.pop("stream", None)
        options: Any = {
            "headers": {"Content-Type": "application/json", **request.forward.headers},
            "timeout": call_timeout(request.timeout or CONNECT_TIMEOUT_S * 2),
        }
        if request.forward.query:
            options["params"] = dict(request.forward.query)
        try:
            response = await client.post(
                "/v1/messages/count_tokens",
                cast_to=httpx2.Response,
                content=json.dumps(body, ensure_ascii=False).encode(),
                options=options,
            )
            return int(json.loads(await response.aread())["input_tokens"])
        except (anthropic.AnthropicError, httpx2.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise self._error(exc, request.model) from None

    async def embed(self, request: EmbedRequest) -> EmbedResponse:
        """Anthropic has no embeddings API."""
        raise NotConfiguredError(
            "Anthropic has no embeddings API: use an OpenAI or local embedding model",
            provider=NAME,
            model=request.model,
        )

    def batch_api(self) -> AnthropicBatches:
        """Message Batches on this adapter's client (its key, its base URL)."""
        client = self._require("message batches")
        return AnthropicBatches(client, lambda exc: self._error(exc, None), CAUGHT)

    async def _ping(self) -> None:
        if self._client is not None:
            await self._client.models.list(limit=1, timeout=CONNECT_TIMEOUT_S)

    async def aclose(self) -> None:
        """Close the SDK's connection pool."""
        if self._client is not None:
            await self._client.close()

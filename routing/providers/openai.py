"""OpenAI through the official SDK (`AsyncOpenAI`): Chat Completions, Responses, Embeddings.

Codex models are served only by the Responses API; every other chat model goes through Chat
Completions. Retries are off (`max_retries=0`): dispatch owns them. `SDK` names the SDK's
exception classes for `sdk_errors.map_sdk_error`, the one place that reads them.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from dataclasses import replace
from typing import Any

import httpx2
import openai

from cortexd.routing.price_table import PriceTable
from cortexd.routing.providers.chat import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    StreamEvent,
    Timing,
    Usage,
)
from cortexd.routing.providers.cloud import CloudProvider, call_timeout, post_json
from cortexd.routing.providers.openai_batches import OpenAIBatches
from cortexd.routing.providers.openai_responses_wire import (
    ResponsesStreamDecoder,
    from_responses,
    to_responses,
    uses_responses,
)
from cortexd.routing.providers.openai_wire import ChatStreamDecoder, from_chat, to_chat
from cortexd.routing.providers.sdk_errors import SdkExceptions
from cortexd.routing.providers.settings import CONNECT_TIMEOUT_S, DEFAULT_TIMEOUT_S, Endpoint
from cortexd.routing.providers.stream import StreamDecoder, run_stream

NAME = "openai"


class JsonEvents(openai.AsyncStream[object]):
    """The SDK's event stream (SSE framing, ``[DONE]``, in-stream errors raised as its
    exceptions) yielding each event's JSON as it came: building a pydantic model per chunk
    only for our decoders to read it back as a dict cost more CPU than the rest of a call."""


async def _post_stream(
    client: openai.AsyncOpenAI, path: str, body: dict[str, Any], timeout: httpx2.Timeout
) -> AsyncIterator[Any]:
    # `post` is the SDK's documented request method; the typed `create` wrappers would first
    # walk the whole body against its TypedDicts, which our wire module already built exactly.
    events: AsyncIterator[Any] = await client.post(
        path,
        body={**body, "stream": True},
        cast_to=object,
        options={"timeout": timeout},
        stream=True,
        stream_cls=JsonEvents,
    )
    return events


CAUGHT: tuple[type[BaseException], ...] = (openai.OpenAIError, httpx2.HTTPError, ValueError)


def endpoint_from_env(
    api_key: str | None = None,
    base_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Endpoint:
    """OpenAI's endpoint from explicit values, then ``OPENAI_API_KEY``/``OPENAI_BASE_URL``."""
    return Endpoint.resolve(
        NAME,
        key_variable="OPENAI_API_KEY",
        url_variable="OPENAI_BASE_URL",
        api_key=api_key,
        base_url=base_url,
        env=env,
    )


SDK = SdkExceptions(
    NAME,
    "OpenAI",
    timeout=openai.APITimeoutError,
    connection=openai.APIConnectionError,
    status=openai.APIStatusError,
    validation=openai.APIResponseValidationError,
    api=openai.APIError,
)


class OpenAIProvider(CloudProvider[openai.AsyncOpenAI]):
    """GPT and Codex models, and OpenAI embeddings.

    `responses_models` names model ids that must go through the Responses API besides the
    Codex ones (the catalog's ``api: responses`` entries).
    """

    name = NAME
    sdk = SDK
    caught = CAUGHT

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        responses_models: Collection[str] = (),
        http_client: httpx2.AsyncClient | None = None,
        tls: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
        prices: PriceTable | None = None,
    ) -> None:
        """`tls`: the process's TLS context, shared (see `ProviderRegistry`)."""
        super().__init__(endpoint, clock, prices)
        self._responses_models = frozenset(responses_models)
        if endpoint.api_key:
            timeout = httpx2.Timeout(DEFAULT_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
            if http_client is None and tls is not None:
                # The SDK's own defaults (pool limits, keep-alive), with the shared context.
                http_client = openai.DefaultAsyncHttpxClient(verify=tls, timeout=timeout)
            self._client = openai.AsyncOpenAI(
                api_key=endpoint.api_key,
                base_url=endpoint.base_url,
                max_retries=0,
                timeout=timeout,
                http_client=http_client,
            )

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """One call; the first token arrives with the whole answer."""
        client = self._require(request.model)
        timeout = call_timeout(request.timeout)
        started = self._clock()
        try:
            if uses_responses(request.model, self._responses_models):
                body, warnings = to_responses(request)
                response = from_responses(await post_json(client, "/responses", body, timeout))
            else:
                body, warnings = to_chat(request), ()
                response = from_chat(await post_json(client, "/chat/completions", body, timeout))
        except CAUGHT as exc:
            raise self._error(exc, request.model) from None
        elapsed = self._clock() - started
        return replace(response, timing=Timing(elapsed, elapsed), warnings=warnings)

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Deltas as OpenAI streams them, then `StreamEnd`; a break raises our error.

        A client's own Responses request (`request.forward`), or its own Chat Completions
        request to a chat model, goes through as it was written, and its events are relayed
        (see `forward`)."""
        client = self._require(request.model)
        if request.forward is not None and request.forward.wire == "responses":
            return self._forward("/responses", request, ResponsesStreamDecoder(), from_responses)
        chat_model = not uses_responses(request.model, self._responses_models)
        if request.forward is not None and request.forward.wire == "chat" and chat_model:
            return self._forward("/chat/completions", request, ChatStreamDecoder(), from_chat)
        timeout = call_timeout(request.timeout)
        decoder: StreamDecoder
        if uses_responses(request.model, self._responses_models):
            body, warnings = to_responses(request)
            decoder = ResponsesStreamDecoder()

            async def open_events() -> AsyncIterator[Any]:
                return await _post_stream(client, "/responses", body, timeout)
        else:
            body, warnings = to_chat(request, stream=True), ()
            decoder = ChatStreamDecoder()

            async def open_events() -> AsyncIterator[Any]:
                return await _post_stream(client, "/chat/completions", body, timeout)

        return run_stream(
            open_events,
            decoder,
            provider=NAME,
            model=request.model,
            map_error=lambda exc: self._error(exc, request.model),
            caught=CAUGHT,
            warnings=warnings,
            clock=self._clock,
        )

    async def embed(self, request: EmbedRequest) -> EmbedResponse:
        """Vectors from the Embeddings API, in input order."""
        client = self._require(request.model)
        extra: dict[str, Any] = {}
        if request.dimensions is not None:
            extra["dimensions"] = request.dimensions
        started = self._clock()
        try:
            result = await client.embeddings.create(
                model=request.model,
                input=list(request.inputs),
                timeout=call_timeout(request.timeout),
                **extra,
            )
        except CAUGHT as exc:
            raise self._error(exc, request.model) from None
        elapsed = self._clock() - started
        rows = sorted(result.data, key=lambda d: d.index)
        tokens = result.usage.prompt_tokens if result.usage else 0
        return EmbedResponse(
            model=result.model or request.model,
            vectors=tuple(tuple(float(x) for x in row.embedding) for row in rows),
            usage=Usage(input_tokens=tokens),
            timing=Timing(elapsed, elapsed),
        )

    def batch_api(self) -> OpenAIBatches:
        """The Files and Batch APIs on this adapter's client (its key, its base URL)."""
        client = self._require("batches")
        error = lambda exc: self._error(exc, None)  # noqa: E731 - a one-line mapper
        return OpenAIBatches(client, error, CAUGHT, self._responses_models)

    async def _ping(self) -> None:
        if self._client is not None:
            await self._client.models.list(timeout=CONNECT_TIMEOUT_S)

    async def aclose(self) -> None:
        """Close the SDK's connection pool."""
        if self._client is not None:
            await self._client.close()

"""What the two cloud adapters share: a key or nothing, timeouts, status and capabilities."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Generic, TypeVar

import httpx2

from cortexd.routing.price_table import PriceTable
from cortexd.routing.providers.capabilities import cloud_capabilities
from cortexd.routing.providers.chat import ChatRequest, ChatResponse, StreamEvent
from cortexd.routing.providers.contract import Capabilities, ProviderStatus
from cortexd.routing.providers.errors import (
    NotConfiguredError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
)
from cortexd.routing.providers.forward import forward
from cortexd.routing.providers.sdk_errors import SdkExceptions, map_sdk_error
from cortexd.routing.providers.settings import (
    Endpoint,
    call_timeout,
)
from cortexd.routing.providers.stream import StreamDecoder

__all__ = ["CloudProvider", "call_timeout", "post_json"]

ClientT = TypeVar("ClientT")


async def post_json(client: Any, path: str, body: Mapping[str, Any], timeout: Any) -> Any:
    """A whole answer's JSON object through the SDK's documented ``post``: its key, headers
    and exceptions, without what its typed ``create`` adds — a walk of the body against its
    TypedDicts (our wire modules built it exactly) and a pydantic model built from the
    answer only to be dumped back to a dict (about 190 µs of a call's CPU together)."""
    response = await client.post(
        path, body=body, cast_to=httpx2.Response, options={"timeout": timeout}
    )
    data = json.loads(await response.aread())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the answer is not a JSON object")
    return data


class CloudProvider(Generic[ClientT]):
    """Base of the SDK adapters: subclasses set `name`, `sdk` and `caught`, and build
    `_client` (None without a key)."""

    name: str
    #: The SDK's exception classes, read by `map_sdk_error`.
    sdk: SdkExceptions
    #: What each adapter catches around an SDK call (its SDK's base error, httpx2's, JSON's).
    caught: tuple[type[BaseException], ...]

    def __init__(
        self,
        endpoint: Endpoint,
        clock: Callable[[], float] = time.monotonic,
        prices: PriceTable | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._clock = clock
        self._prices = prices or PriceTable()
        self._secrets = (endpoint.api_key,) if endpoint.api_key else ()
        self._client: ClientT | None = None
        # Asked on every call; genai-prices' lookup behind it is the slow part and never
        # changes while the daemon runs.
        self._capabilities: dict[str, Capabilities] = {}

    def _require(self, model: str) -> ClientT:
        if self._client is None:
            raise NotConfiguredError(
                f"no API key: set {self.endpoint.key_variable} or add a key file",
                provider=self.name,
                model=model,
            )
        return self._client

    def _error(self, exc: BaseException, model: str | None) -> ProviderError:
        return map_sdk_error(exc, self.sdk, model=model, secrets=self._secrets)

    def _forward(
        self,
        path: str,
        request: ChatRequest,
        decoder: StreamDecoder,
        from_json: Callable[[Mapping[str, Any]], ChatResponse],
    ) -> AsyncIterator[StreamEvent]:
        """The client's own request sent as written (`forward.forward`) to `path`."""
        return forward(
            self._client,
            path,
            request,
            decoder,
            from_json,
            provider=self.name,
            map_error=lambda exc: self._error(exc, request.model),
            caught=self.caught,
            clock=self._clock,
        )

    async def _ping(self) -> None:
        """The cheapest authenticated request the API has."""
        raise NotImplementedError

    async def status(self) -> ProviderStatus:
        """A short authenticated request tells a missing, rejected or unreachable endpoint apart."""
        shown = self.endpoint.shown
        if self._client is None:
            detail = f"no API key ({self.endpoint.key_variable} is not set)"
            return ProviderStatus(self.name, False, False, None, shown, detail)
        try:
            await self._ping()
        except self.caught as exc:
            error = self._error(exc, None)
            reachable = not isinstance(error, ProviderConnectionError | ProviderTimeoutError)
            return ProviderStatus(self.name, True, True, reachable, shown, error.detail)
        return ProviderStatus(self.name, True, True, True, shown, "ok")

    async def capabilities(self, model: str) -> Capabilities:
        """From the model family table and genai-prices' context window."""
        caps = self._capabilities.get(model)
        if caps is None:
            caps = self._capabilities[model] = cloud_capabilities(self.name, model, self._prices)
        return caps

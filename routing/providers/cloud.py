"""What the two cloud adapters share: a key or nothing, timeouts, status and capabilities."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx2

from cortexd.routing.providers.capabilities import cloud_capabilities
from cortexd.routing.providers.contract import Capabilities, ProviderStatus
from cortexd.routing.providers.errors import (
    NotConfiguredError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
)
from cortexd.routing.providers.settings import CONNECT_TIMEOUT_S, DEFAULT_TIMEOUT_S, Endpoint


def call_timeout(seconds: float | None) -> httpx2.Timeout:
    """The SDK timeout for one attempt: `seconds` in all (dispatch's share of the deadline)."""
    total = seconds or DEFAULT_TIMEOUT_S
    return httpx2.Timeout(total, connect=min(CONNECT_TIMEOUT_S, total))


class CloudProvider:
    """Base of the SDK adapters; subclasses set `name`, build `_client`, and map errors."""

    name: str
    #: What each adapter catches around an SDK call (its SDK's base error, httpx2's, JSON's).
    caught: tuple[type[BaseException], ...]

    def __init__(self, endpoint: Endpoint, clock: Callable[[], float] = time.monotonic) -> None:
        self.endpoint = endpoint
        self._clock = clock
        self._secrets = (endpoint.api_key,) if endpoint.api_key else ()

    def _has_client(self) -> bool:
        raise NotImplementedError

    def _missing_key(self, model: str | None) -> NotConfiguredError:
        return NotConfiguredError(
            f"no API key: set {self.endpoint.key_variable} or add a key file",
            provider=self.name,
            model=model,
        )

    def _error(self, exc: BaseException, model: str | None) -> ProviderError:
        raise NotImplementedError

    async def _ping(self) -> None:
        """The cheapest authenticated request the API has."""
        raise NotImplementedError

    async def status(self) -> ProviderStatus:
        """A short authenticated request tells a missing, rejected or unreachable endpoint apart."""
        shown = self.endpoint.shown
        if not self._has_client():
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
        return cloud_capabilities(self.name, model)

"""Whether each provider answers, for ``GET /v1/health``: asked at most every 30 s.

A status is a request to the provider (an authenticated model list, Ollama's tags), so a
dashboard or a shell prompt polling the health endpoint would otherwise cost upstream requests
at every poll. Each provider endpoint is asked once per `REACHABILITY_TTL_S`, the endpoints of a
round concurrently; polls that arrive meanwhile wait for that round and share its answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from cortexd.routing import ModelSpec, Provider

if TYPE_CHECKING:
    from cortexd.routing.providers import ProviderRegistry
    from cortexd.routing_generation import Routing

#: How long a provider's reachability is reused.
REACHABILITY_TTL_S = 30.0
#: How long one provider may take to say whether it is reachable.
STATUS_TIMEOUT_S = 3.0

Endpoint = tuple[Provider, str | None]


class Reachability:
    """The providers' last statuses, each reused for `ttl_s` seconds of `clock`."""

    def __init__(
        self, ttl_s: float = REACHABILITY_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._known: dict[Endpoint, tuple[float, dict[str, object]]] = {}
        self._round = asyncio.Lock()

    async def statuses(
        self, registry: ProviderRegistry, routing: Routing, *, load: bool = False
    ) -> list[dict[str, object]]:
        """One status per provider endpoint of `routing`'s catalog, asked of its adapter in
        `registry`, with ``checked_s_ago``. An endpoint whose SDK no call has loaded yet is
        said to be so, unless `load` (``cortex health``): then it is loaded (off the loop)
        and asked like the others."""
        endpoints: dict[Endpoint, ModelSpec] = {}
        unused: dict[Endpoint, ModelSpec] = {}
        for spec in routing.catalog:
            if spec.provider is Provider.LLAMACPP and not routing.table.local_files:
                continue
            key = (spec.provider, spec.base_url)
            if load or registry.built(spec):
                endpoints.setdefault(key, spec)
            elif key not in endpoints:
                unused.setdefault(key, spec)
        async with self._round:
            now = self._clock()
            stale = [
                (key, spec)
                for key, spec in endpoints.items()
                if key not in self._known or now - self._known[key][0] >= self._ttl_s
            ]
            # Asking a provider loads its SDK (off the loop): the status needs its client.
            await registry.ready(spec for _, spec in stale)
            found = await asyncio.gather(*(_status(registry, spec) for _, spec in stale))
            checked = self._clock()
            for (key, _), status in zip(stale, found, strict=True):
                self._known[key] = (checked, status)
        now = self._clock()
        asked = [
            {**self._known[key][1], "checked_s_ago": round(now - self._known[key][0], 1)}
            for key in endpoints
        ]
        return asked + [_not_loaded(spec) for key, spec in unused.items() if key not in endpoints]


def _not_loaded(spec: ModelSpec) -> dict[str, object]:
    """An endpoint no call has used: not asked (that would load its SDK for nothing)."""
    return {
        "provider": spec.provider.value,
        "reachable": None,
        "endpoint": spec.base_url,
        "detail": "not used yet: its SDK loads with its first call (cortex health asks)",
    }


async def _status(registry: ProviderRegistry, spec: ModelSpec) -> dict[str, object]:
    try:
        async with asyncio.timeout(STATUS_TIMEOUT_S):
            status = await registry(spec).status()
    except TimeoutError:
        return {
            "provider": spec.provider.value,
            "reachable": False,
            "detail": f"no answer in {STATUS_TIMEOUT_S:.0f} s",
        }
    return {
        "provider": status.provider,
        "configured": status.configured,
        "key_present": status.key_present,
        "reachable": status.reachable,
        "endpoint": status.endpoint,
        "detail": status.detail,
    }

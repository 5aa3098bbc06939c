"""Which adapter serves a model: one per provider and endpoint, built on first use.

An adapter imports its SDK (anthropic's takes over a second, openai's half of one) and
builds its client (an SSL context): `ready(specs)` does both in a thread, once per
endpoint, for the models a call is about to use, so that a call waits for its own
provider's SDK and no other, and an SDK whose provider is never used is never loaded (its
memory neither). `cortex` never builds a registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import os
import ssl
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx2

from cortexd.routing.catalog import ModelSpec, Provider
from cortexd.routing.price_table import PriceTable
from cortexd.routing.providers.contract import ChatProvider
from cortexd.routing.providers.errors import NotConfiguredError
from cortexd.routing.providers.settings import OLLAMA_DEFAULT_HOST

_MODULES = {
    Provider.ANTHROPIC: "cortexd.routing.providers.anthropic",
    Provider.OPENAI: "cortexd.routing.providers.openai",
    Provider.OLLAMA: "cortexd.routing.providers.ollama",
    Provider.LLAMACPP: "cortexd.routing.providers.llamacpp",
}


class ProviderRegistry:
    """Adapters by (provider, base URL). `keys` maps provider → API key (else the environment);
    `ollama_host` is Ollama's address as the daemon decided it (``OLLAMA_HOST``, else the
    routing file's: `cortexd.context.environment` reads the variable, and nothing else does);
    `gguf_files` maps local model names to files; `llamacpp_options` go to the provider."""

    def __init__(
        self,
        *,
        keys: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        ollama_host: str | None = None,
        gguf_files: Mapping[str, Path] | None = None,
        responses_models: Collection[str] = (),
        llamacpp_options: Mapping[str, Any] | None = None,
        prices: PriceTable | None = None,
    ) -> None:
        self._keys = dict(keys or {})
        self._env = os.environ if env is None else env
        self._ollama_host = ollama_host
        self._gguf = dict(gguf_files or {})
        self._responses = frozenset(responses_models)
        self._llamacpp_options = dict(llamacpp_options or {})
        self._prices = prices
        self._built: dict[tuple[Provider, str | None], ChatProvider] = {}
        self._tls_context: ssl.SSLContext | None = None
        self._building: dict[tuple[Provider, str | None], asyncio.Future[None]] = {}
        # Adapters are built in worker threads (`ready`) and, rarely, on the loop.
        self._lock = threading.Lock()
        self._pause_lock = threading.Lock()
        self._pauses = 0  # adapter builds under way
        self._resume = False  # whether the collector ran before the first of them

    def preload(self) -> None:
        """Import every adapter (and its SDK) now, in the calling thread (tests use it)."""
        for module in _MODULES.values():
            importlib.import_module(module)

    @property
    def loaded(self) -> list[str]:
        """The providers whose adapter (and SDK) is built, in the order they were."""
        return list(dict.fromkeys(provider.value for provider, _ in list(self._built)))

    def ollama_address(self, spec: ModelSpec) -> str:
        """The address `spec`'s Ollama adapter would use, without building it: its alias's
        base URL, else the daemon's Ollama address, else Ollama's default."""
        return self._ollama_at(spec.base_url)

    def _ollama_at(self, base_url: str | None) -> str:
        return base_url or self._ollama_host or OLLAMA_DEFAULT_HOST

    def built(self, spec: ModelSpec) -> bool:
        """Whether `spec`'s adapter is built (`self(spec)` will not import anything)."""
        return (spec.provider, spec.base_url) in self._built

    async def ready(self, specs: Iterable[ModelSpec]) -> None:
        """Build the adapters of `specs` that are not built yet, in a thread each (at most
        once per endpoint, however many calls wait), so that `self(spec)` is immediate. A
        build that fails is left for `self(spec)` to report, as `NotConfiguredError`."""
        waiting = []
        for spec in specs:
            key = (spec.provider, spec.base_url)
            if key in self._built:
                continue
            building = self._building.get(key)
            if building is None:
                building = asyncio.ensure_future(asyncio.to_thread(self._quietly, spec))
                self._building[key] = building
            waiting.append(building)
        if waiting:
            await asyncio.gather(*(asyncio.shield(w) for w in waiting))

    def _quietly(self, spec: ModelSpec) -> None:
        with self._collector_paused():
            try:
                self(spec)
            except NotConfiguredError:
                pass  # said again, to the call, when it asks for the adapter

    @contextlib.contextmanager
    def _collector_paused(self) -> Iterator[None]:
        """No cyclic collection while SDKs import, and what they made frozen out of later
        passes: modules and their classes are never garbage, and the passes over them took
        tens of milliseconds of a first call (an SDK makes hundreds of thousands of
        objects). Nested and concurrent builds share one pause."""
        with self._pause_lock:
            if self._pauses == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._pauses += 1
        try:
            yield
        finally:
            with self._pause_lock:
                self._pauses -= 1
                if self._pauses == 0 and self._resume:
                    gc.freeze()
                    gc.enable()

    def __call__(self, spec: ModelSpec) -> ChatProvider:
        """The adapter for `spec`'s provider and endpoint (built now if `ready` has not)."""
        key = (spec.provider, spec.base_url)
        found = self._built.get(key)
        if found is not None:
            return found
        with self._lock:
            if key not in self._built:
                try:
                    self._built[key] = self._build(spec.provider, spec.base_url)
                except ImportError as error:
                    self._building.pop(key, None)  # asked again, it is tried again
                    raise NotConfiguredError(
                        f"the {spec.provider.value} SDK cannot be imported: {error}",
                        provider=spec.provider.value,
                        model=spec.name,
                    ) from None
            return self._built[key]

    def _tls(self) -> ssl.SSLContext:
        """One TLS context for every adapter (under `_lock`, like `_build`): each client
        would otherwise load the system's CA store into a context of its own, 0.8 MiB held
        and 20–50 ms spent for each. httpcore sets the context's ALPN protocols on each
        connection: sharing it holds while every adapter speaks HTTP/1.1 (an HTTP/2 one
        would need a context of its own)."""
        if self._tls_context is None:
            self._tls_context = httpx2.create_ssl_context()
        return self._tls_context

    def _build(self, provider: Provider, base_url: str | None) -> ChatProvider:
        module: Any = importlib.import_module(_MODULES[provider])
        if provider is Provider.ANTHROPIC or provider is Provider.OPENAI:
            endpoint = module.endpoint_from_env(
                self._keys.get(provider.value), base_url, env=self._env
            )
            if provider is Provider.OPENAI:
                built: ChatProvider = module.OpenAIProvider(
                    endpoint, responses_models=self._responses, prices=self._prices, tls=self._tls()
                )
            else:
                built = module.AnthropicProvider(endpoint, prices=self._prices, tls=self._tls())
            return built
        if provider is Provider.OLLAMA:
            ollama: ChatProvider = module.OllamaProvider(self._ollama_at(base_url), tls=self._tls())
            return ollama
        supervisor = importlib.import_module("cortexd.routing.providers.llamacpp_supervisor")
        worker = supervisor.LlamaCppWorker(env=self._env)
        local: ChatProvider = module.LlamaCppProvider(self._gguf, worker, **self._llamacpp_options)
        return local

    async def aclose(self) -> None:
        """Close every adapter built (connection pools, the llama.cpp worker)."""
        built, self._built = list(self._built.values()), {}
        for provider in built:
            await provider.aclose()

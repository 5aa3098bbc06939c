"""Which adapter serves a model: one per provider and endpoint, built on first use.

The adapters import their SDKs (over a second in all), so the daemon calls `preload()` in a
thread at start-up, off the request path; `cortex` never builds a registry.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from cortexd.routing.catalog import ModelSpec, Provider
from cortexd.routing.providers.contract import ChatProvider

_MODULES = {
    Provider.ANTHROPIC: "cortexd.routing.providers.anthropic",
    Provider.OPENAI: "cortexd.routing.providers.openai",
    Provider.OLLAMA: "cortexd.routing.providers.ollama",
    Provider.LLAMACPP: "cortexd.routing.providers.llamacpp",
}


class ProviderRegistry:
    """Adapters by (provider, base URL). `keys` maps provider → API key (else the environment);
    `ollama_host` is the routing file's address (``OLLAMA_HOST`` wins, as the SDK does);
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
    ) -> None:
        self._keys = dict(keys or {})
        self._env = os.environ if env is None else env
        self._ollama_host = self._env.get("OLLAMA_HOST", "").strip() or ollama_host
        self._gguf = dict(gguf_files or {})
        self._responses = frozenset(responses_models)
        self._llamacpp_options = dict(llamacpp_options or {})
        self._built: dict[tuple[Provider, str | None], ChatProvider] = {}

    def preload(self) -> None:
        """Import every adapter (and its SDK) now; meant for a thread at start-up."""
        for module in _MODULES.values():
            importlib.import_module(module)

    def __call__(self, spec: ModelSpec) -> ChatProvider:
        """The adapter for `spec`'s provider and endpoint."""
        key = (spec.provider, spec.base_url)
        if key not in self._built:
            self._built[key] = self._build(spec.provider, spec.base_url)
        return self._built[key]

    def _build(self, provider: Provider, base_url: str | None) -> ChatProvider:
        module: Any = importlib.import_module(_MODULES[provider])
        if provider is Provider.ANTHROPIC or provider is Provider.OPENAI:
            endpoint = module.endpoint_from_env(
                self._keys.get(provider.value), base_url, env=self._env
            )
            if provider is Provider.OPENAI:
                built: ChatProvider = module.OpenAIProvider(
                    endpoint, responses_models=self._responses
                )
            else:
                built = module.AnthropicProvider(endpoint)
            return built
        if provider is Provider.OLLAMA:
            host = base_url or self._ollama_host
            ollama: ChatProvider = module.OllamaProvider(host, env=self._env)
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

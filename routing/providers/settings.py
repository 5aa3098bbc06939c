"""Where a cloud provider is and how it authenticates, resolved once when the adapter is built.

Each SDK documents its variables (``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``,
``OPENAI_API_KEY``, ``OPENAI_BASE_URL``); we read them here and hand the SDK explicit values,
so an adapter never depends on what the process environment holds later, and a base URL from
the routing file's Model Aliases wins over the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx2

from cortexd.routing.urls import redact_url

#: Connecting is quick or not at all; the rest of a call is bounded per request by dispatch.
CONNECT_TIMEOUT_S = 5.0
#: A call's limit when dispatch sets none: long enough for a reasoning model, far below the
#: SDKs' own ten minutes.
DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Endpoint:
    """A provider endpoint: the key (kept out of repr) and the base URL (None: the SDK's)."""

    provider: str
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    key_variable: str = ""

    @property
    def shown(self) -> str:
        """The endpoint as users may see it: credentials in the URL masked."""
        return redact_url(self.base_url) if self.base_url else "(the SDK's default)"

    @classmethod
    def resolve(
        cls,
        provider: str,
        *,
        key_variable: str,
        url_variable: str,
        api_key: str | None = None,
        base_url: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Endpoint:
        """Explicit values first, then the SDK's documented variables."""
        env = os.environ if env is None else env
        key = api_key or env.get(key_variable, "").strip() or None
        url = base_url or env.get(url_variable, "").strip() or None
        return cls(provider, key, url, key_variable)


def call_timeout(seconds: float | None) -> httpx2.Timeout:
    """The SDK timeout for one attempt: `seconds` in all (dispatch's share of the deadline)."""
    total = seconds or DEFAULT_TIMEOUT_S
    return httpx2.Timeout(total, connect=min(CONNECT_TIMEOUT_S, total))


#: Where Ollama listens when neither the routing file nor ``OLLAMA_HOST`` says.
OLLAMA_DEFAULT_HOST = "http://127.0.0.1:11434"

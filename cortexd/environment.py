"""Every environment variable cortexd reads, in one place, read once into a typed snapshot.

| variable            | meaning                                                          |
|---------------------|------------------------------------------------------------------|
| CORTEX_HOME         | put every cortexd file (context, state, runtime) under this folder |
| CORTEX_SOCKET       | the daemon's Unix socket path (wins over CORTEX_HOME)            |
| CORTEX_ROUTING_FILE | the routing file to use instead of <context>/model-routing.md    |
| CORTEX_TCP          | the loopback TCP listener: HOST:PORT, or off (``--tcp`` wins)    |
| ANTHROPIC_API_KEY   | key for Anthropic (never printed, logged or stored)              |
| OPENAI_API_KEY      | key for OpenAI (never printed, logged or stored)                 |
| ANTHROPIC_BASE_URL  | Anthropic endpoint (read by the SDK in the provider adapters)    |
| OPENAI_BASE_URL     | OpenAI endpoint (read by the SDK in the provider adapters)       |
| OLLAMA_HOST         | Ollama address; wins over the routing file's providers table     |
| CORTEX_KEY_FILE     | a key file (NAME=value lines, mode 0600) instead of the default  |
| CREDENTIALS_DIRECTORY | systemd credentials (LoadCredential=anthropic:…), read for keys |
| NOTIFY_SOCKET, WATCHDOG_USEC | set by systemd: readiness and watchdog notifications   |
| LISTEN_FDS, LISTEN_PID | set by systemd socket activation: serve the socket handed over |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Each provider's key variable; a key's *value* never leaves `Environment`.
KEY_VARIABLES = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}


@dataclass(frozen=True)
class Environment:
    """The variables above as read at start-up."""

    home: Path | None = None
    socket: Path | None = None
    routing_file: Path | None = None
    ollama_host: str | None = None
    keys_present: frozenset[str] = frozenset()
    key_file: Path | None = None
    credentials_dir: Path | None = None
    tcp: str | None = None  # as written; resolved by `cortexd.listener.tcp_address`

    @classmethod
    def read(cls, env: Mapping[str, str] | None = None) -> Environment:
        """Read the variables from `env` (the process environment by default)."""
        env = os.environ if env is None else env

        def path(name: str) -> Path | None:
            value = env.get(name, "").strip()
            return Path(value).expanduser() if value else None

        keys = frozenset(p for p, var in KEY_VARIABLES.items() if env.get(var, "").strip())
        return cls(
            home=path("CORTEX_HOME"),
            socket=path("CORTEX_SOCKET"),
            routing_file=path("CORTEX_ROUTING_FILE"),
            ollama_host=env.get("OLLAMA_HOST", "").strip() or None,
            keys_present=keys,
            key_file=path("CORTEX_KEY_FILE"),
            credentials_dir=path("CREDENTIALS_DIRECTORY"),
            tcp=env.get("CORTEX_TCP", "").strip() or None,
        )

"""Every environment variable cortexd reads, in one place, read once into a typed snapshot.

`VARIABLES` is the list, with who sets each and what it does; docs/environment.md shows
it, and a test holds the two to each other and the code's reads to the list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Every variable read anywhere in cortexd: name → (who sets it, what it does).
VARIABLES: dict[str, tuple[str, str]] = {
    "CORTEX_HOME": ("you", "put every cortexd file (context, state, runtime) under this folder"),
    "CORTEX_SOCKET": ("you", "the daemon's Unix socket path (wins over CORTEX_HOME)"),
    "CORTEX_ROUTING_FILE": ("you", "the routing file, instead of <context>/model-routing.md"),
    "CORTEX_TCP": ("you", "the loopback TCP listener: HOST:PORT, or off (`--tcp` wins)"),
    "CORTEX_KEY_FILE": ("you", "a key file (NAME=value lines, mode 0600) instead of the default"),
    "ANTHROPIC_API_KEY": ("you", "the key for Anthropic (never printed, logged or stored)"),
    "OPENAI_API_KEY": ("you", "the key for OpenAI (never printed, logged or stored)"),
    "ANTHROPIC_BASE_URL": ("you", "Anthropic's endpoint (read by its SDK in the adapter)"),
    "OPENAI_BASE_URL": ("you", "OpenAI's endpoint (read by its SDK in the adapter)"),
    "OLLAMA_HOST": ("you", "Ollama's address; wins over the routing file's providers table"),
    "CLAUDE_CONFIG_DIR": ("you", "where `cortex connect` finds Claude Code's settings.json"),
    "CODEX_HOME": ("you", "where `cortex connect` finds Codex's config.toml"),
    "CREDENTIALS_DIRECTORY": ("systemd", "credentials (LoadCredential=anthropic:…), for keys"),
    "NOTIFY_SOCKET": ("systemd", "where readiness, status and reloads are reported"),
    "WATCHDOG_USEC": ("systemd", "the watchdog's interval: the daemon pings at half of it"),
    "WATCHDOG_PID": ("systemd", "which process the watchdog is for"),
    "LISTEN_FDS": ("systemd", "socket activation: how many sockets were handed over"),
    "LISTEN_PID": ("systemd", "socket activation: which process they are for"),
    "JOURNAL_STREAM": ("systemd", "stderr's device:inode when it is the journal (log format)"),
    "XDG_RUNTIME_DIR": ("the session", "the runtime folder: the socket's default place"),
    "XDG_CONFIG_HOME": ("the session", "the config folder: the key file's default place"),
    "HOME": ("the session", "the home folder, for the defaults under it"),
    "PATH": ("the session", "where `cortex service` finds systemctl and launchctl"),
    "GLIBC_TUNABLES": ("you", "glibc malloc tunables: those named win over the daemon's own"),
    "CORTEX_LLAMACPP_IDLE_S": ("cortexd", "set for its llama.cpp worker: unload after idle"),
}

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
    tcp: str | None = None  # as written; resolved by `cortexd.daemon.listener.tcp_address`

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

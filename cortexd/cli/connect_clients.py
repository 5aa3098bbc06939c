"""What ``cortex connect`` sets in each client: pure functions from cortexd's TCP listener to
the lines to show and, for Claude Code and Codex, the edit of their settings file.

Nothing here reads or writes a file or the network (``connect_cmd`` does), and nothing here
ever holds the token: settings name the token *file*, through a command that prints it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cortexd.errors import CortexError

CLIENTS = ("claude-code", "codex", "continue", "zed", "aider")
#: Claude Code's model variables; `auto` in them lets cortexd's router pick.
CLAUDE_MODEL_KEYS = (
    "ANTHROPIC_MODEL",
    "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
)
CODEX_PROVIDER = "cortexd"
CODEX_TOKEN_VARIABLE = "CORTEXD_TOKEN"
ROUTED_MODEL = "auto"


class SettingsFileError(CortexError):
    """A client's settings file cannot be edited safely (not valid JSON or TOML, or a key of
    an unexpected type): nothing was written."""


@dataclass(frozen=True)
class Endpoint:
    """cortexd's loopback TCP listener as a client reaches it."""

    address: str  # HOST:PORT, as the daemon bound it
    token_file: Path

    @property
    def url(self) -> str:
        """The listener's base URL (no path)."""
        return f"http://{self.address}"

    @property
    def token_command(self) -> str:
        """A shell command that prints the token (the token itself is never written).

        >>> Endpoint("127.0.0.1:7462", Path("/home/a b/tcp-token")).token_command
        "cat '/home/a b/tcp-token'"
        """
        return f"cat {shlex.quote(str(self.token_file))}"


#: An edit of a settings file: its text (None: no file yet) to the new text.
Edit = Callable[[str | None], str]


@dataclass(frozen=True)
class Setup:
    """One client's settings: the lines to show, and the file ``--write`` edits (None: the
    client's settings are only printed, `why_print_only` says why)."""

    client: str
    lines: list[str]
    path: Path | None = None
    edit: Edit | None = None
    why_print_only: str = ""
    notes: list[str] = field(default_factory=list)  # shown after a write too


def claude_settings_path(env: Mapping[str, str], home: Path) -> Path:
    """Claude Code's user settings: ``$CLAUDE_CONFIG_DIR/settings.json`` or
    ``~/.claude/settings.json``."""
    folder = env.get("CLAUDE_CONFIG_DIR", "").strip()
    return (Path(folder).expanduser() if folder else home / ".claude") / "settings.json"


def codex_config_path(env: Mapping[str, str], home: Path) -> Path:
    """Codex's configuration: ``$CODEX_HOME/config.toml`` or ``~/.codex/config.toml``."""
    folder = env.get("CODEX_HOME", "").strip()
    return (Path(folder).expanduser() if folder else home / ".codex") / "config.toml"


def edit_claude_settings(text: str | None, endpoint: Endpoint, routed: bool) -> str:
    """`text` (Claude Code's settings.json, None when missing) with cortexd's base URL and
    token helper merged in; every other key is kept in its place.

    Routed: the model variables say ``auto``. Pass-through: model variables that say
    ``auto`` (a routed set-up before) are removed, the user's own model choices stay.
    """
    settings: Any = {}
    if text is not None and text.strip():
        try:
            settings = json.loads(text)
        except json.JSONDecodeError as error:
            raise SettingsFileError(
                f"it is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg});"
                " fix it first, nothing was written"
            ) from None
    if not isinstance(settings, dict):
        raise SettingsFileError("it holds no JSON object; nothing was written")
    env = settings.setdefault("env", {})
    if not isinstance(env, dict):
        raise SettingsFileError('its "env" is not an object; nothing was written')
    env["ANTHROPIC_BASE_URL"] = endpoint.url
    for key in CLAUDE_MODEL_KEYS:
        if routed:
            env[key] = ROUTED_MODEL
        elif env.get(key) == ROUTED_MODEL:
            del env[key]
    settings["apiKeyHelper"] = endpoint.token_command
    return json.dumps(settings, indent=2, ensure_ascii=False) + "\n"


def edit_codex_config(text: str | None, endpoint: Endpoint, routed: bool) -> str:
    """`text` (Codex's config.toml, None when missing) with a ``[model_providers.cortexd]``
    table and ``model_provider = "cortexd"``; comments, formatting and every other table are
    kept (tomlkit), and a key already right is not touched, so a second run changes nothing.
    """
    import tomlkit  # here: only this command needs it
    from tomlkit.exceptions import TOMLKitError

    try:
        doc = tomlkit.parse(text or "")
    except TOMLKitError as error:
        raise SettingsFileError(
            f"it is not valid TOML ({error}); fix it first, nothing was written"
        ) from None
    _set(doc, "model_provider", CODEX_PROVIDER)
    if routed:
        _set(doc, "model", ROUTED_MODEL)
    elif doc.get("model") == ROUTED_MODEL:
        del doc["model"]
    providers = doc.get("model_providers")
    if providers is None:
        # A super-table: written as `[model_providers.cortexd]` alone, as Codex's docs do.
        providers = tomlkit.table(is_super_table=True)
        doc["model_providers"] = providers
    if not isinstance(providers, dict):
        raise SettingsFileError("its model_providers is not a table; nothing was written")
    ours = providers.get(CODEX_PROVIDER)
    if ours is None:
        ours = tomlkit.table()
        providers[CODEX_PROVIDER] = ours
    if not isinstance(ours, dict):
        raise SettingsFileError(
            f"its model_providers.{CODEX_PROVIDER} is not a table; nothing was written"
        )
    for key, value in codex_provider(endpoint).items():
        _set(ours, key, value)
    return tomlkit.dumps(doc)


def _set(table: Any, key: str, value: str) -> None:
    """Set `key` unless it already holds `value` (rewriting it would drop its comment)."""
    if table.get(key) != value:
        table[key] = value


def codex_provider(endpoint: Endpoint) -> dict[str, str]:
    """The ``[model_providers.cortexd]`` table: Codex speaks only the Responses API, and sends
    the variable `env_key` names as a bearer token."""
    return {
        "name": CODEX_PROVIDER,
        "base_url": f"{endpoint.url}/v1",
        "wire_api": "responses",
        "env_key": CODEX_TOKEN_VARIABLE,
    }


def export_token_line(endpoint: Endpoint) -> str:
    """The shell line that gives Codex its token from the token file.

    >>> export_token_line(Endpoint("127.0.0.1:7462", Path("/s/tcp-token")))
    'export CORTEXD_TOKEN="$(cat /s/tcp-token)"'
    """
    return f'export {CODEX_TOKEN_VARIABLE}="$({endpoint.token_command})"'


def setup_for(
    client: str, endpoint: Endpoint, *, env: Mapping[str, str], home: Path, routed: bool
) -> Setup:
    """What `client` needs to reach cortexd at `endpoint`."""
    builders = {
        "claude-code": _claude,
        "codex": _codex,
        "continue": _continue,
        "zed": _zed,
        "aider": _aider,
    }
    return builders[client](endpoint, env, home, routed)


def _claude(endpoint: Endpoint, env: Mapping[str, str], home: Path, routed: bool) -> Setup:
    path = claude_settings_path(env, home)
    merged = {"env": {"ANTHROPIC_BASE_URL": endpoint.url}, "apiKeyHelper": endpoint.token_command}
    tiers = [f'  "{key}": "{ROUTED_MODEL}"' for key in CLAUDE_MODEL_KEYS]
    mode = (
        "routed (--routed): these model variables are written too, so cortexd's router picks"
        " the model of every request:"
        if routed
        else "pass-through (the default): Claude Code names its models and cortexd serves the"
        ' one asked for. For routed mode (cortexd picks), --routed also writes into "env":'
    )
    lines = [
        f"Claude Code: into {path} (--write merges this in, keeping every other key)",
        json.dumps(merged, indent=2),
        "",
        mode,
        *tiers,
    ]
    return Setup(
        "claude-code",
        lines,
        path,
        lambda text: edit_claude_settings(text, endpoint, routed),
        notes=["Claude Code runs apiKeyHelper for the token; restart it to take the settings."],
    )


def _codex(endpoint: Endpoint, env: Mapping[str, str], home: Path, routed: bool) -> Setup:
    path = codex_config_path(env, home)
    table = [f'{key} = "{value}"' for key, value in codex_provider(endpoint).items()]
    top = [f'model_provider = "{CODEX_PROVIDER}"'] + (
        [f'model = "{ROUTED_MODEL}"'] if routed else []
    )
    mode = (
        'routed (--routed): model = "auto", so cortexd\'s router picks the model.'
        if routed
        else "pass-through (the default): Codex names its model and cortexd serves it; --routed"
        ' also writes model = "auto" so that cortexd\'s router picks.'
    )
    export = export_token_line(endpoint)
    lines = [
        f"Codex: into {path} (--write adds this, keeping comments and other tables)",
        *top,
        "",
        f"[model_providers.{CODEX_PROVIDER}]",
        *table,
        "",
        mode,
        "",
        "Codex reads the token from the environment; add this line to your shell's profile:",
        f"  {export}",
    ]
    return Setup(
        "codex",
        lines,
        path,
        lambda text: edit_codex_config(text, endpoint, routed),
        notes=[f"Codex needs {CODEX_TOKEN_VARIABLE} in its environment:  {export}"],
    )


def _continue(endpoint: Endpoint, env: Mapping[str, str], home: Path, routed: bool) -> Setup:
    path = home / ".continue" / "config.yaml"
    dotenv = home / ".continue" / ".env"
    lines = [
        f"Continue: add this model to the models: list of {path}",
        "models:",
        "  - name: cortexd (routed)",
        "    provider: openai",
        f"    model: {ROUTED_MODEL}",
        f"    apiBase: {endpoint.url}/v1",
        f"    apiKey: ${{{{ secrets.{CODEX_TOKEN_VARIABLE} }}}}",
        "",
        f"Continue reads secrets.{CODEX_TOKEN_VARIABLE} from {dotenv}; put the token there with:",
        f"  printf '{CODEX_TOKEN_VARIABLE}=%s\\n' \"$({endpoint.token_command})\""
        f" >> {shlex.quote(str(dotenv))}",
        f"model: {ROUTED_MODEL} lets cortexd route; an alias (sonnet, opus, gpt-4o) pins a model.",
    ]
    return Setup(
        "continue",
        lines,
        why_print_only=f"{path} is YAML of Continue's own making; paste the block yourself",
    )


def _zed(endpoint: Endpoint, env: Mapping[str, str], home: Path, routed: bool) -> Setup:
    path = home / ".config" / "zed" / "settings.json"
    block = {
        "language_models": {
            "openai_compatible": {
                CODEX_PROVIDER: {
                    "api_url": f"{endpoint.url}/v1",
                    "available_models": [
                        {
                            "name": ROUTED_MODEL,
                            "display_name": "cortexd (routed)",
                            "max_tokens": 200000,
                        }
                    ],
                }
            }
        }
    }
    lines = [
        f"Zed: merge this into {path}",
        json.dumps(block, indent=2),
        "",
        "Zed takes the key from CORTEXD_API_KEY (a provider named cortexd) or from its Agent"
        " settings; start Zed with:",
        f'  CORTEXD_API_KEY="$({endpoint.token_command})" zed',
        f"model {ROUTED_MODEL} lets cortexd route; add aliases (sonnet, opus) to pin a model.",
    ]
    return Setup(
        "zed",
        lines,
        why_print_only=f"{path} may hold comments (JSON with comments) that a rewrite would lose",
    )


def _aider(endpoint: Endpoint, env: Mapping[str, str], home: Path, routed: bool) -> Setup:
    lines = [
        "aider: on the command line",
        f'  OPENAI_API_KEY="$({endpoint.token_command})" aider'
        f" --openai-api-base {endpoint.url}/v1 --model openai/{ROUTED_MODEL}",
        "or in .aider.conf.yml (the key still from the environment, as above):",
        f"  openai-api-base: {endpoint.url}/v1",
        f"  model: openai/{ROUTED_MODEL}",
        f"openai/{ROUTED_MODEL} lets cortexd route; openai/sonnet or openai/opus pins a model.",
    ]
    return Setup(
        "aider",
        lines,
        why_print_only="aider is set up per project or per shell; use the lines above",
    )

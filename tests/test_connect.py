"""``cortex connect``: the settings it prints and writes for each client, with a scratch HOME,
CLAUDE_CONFIG_DIR and CODEX_HOME, against a real daemon with its TCP listener on a free
port. The token never appears in what it prints; settings name the token file."""

from __future__ import annotations

import json
import socket
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import Ran, cortex
from support.daemon import Daemon, remove_home, short_home, start_daemon

from cortexd.cli.connect_clients import (
    Endpoint,
    SettingsFileError,
    edit_claude_settings,
    edit_codex_config,
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    """One real cortexd with its TCP listener on a free port, for this module."""
    home = short_home()
    running = start_daemon(home, {}, "--tcp", f"127.0.0.1:{_free_port()}")
    yield running
    running.stop()
    remove_home(home)


@pytest.fixture
def places(tmp_path: Path) -> dict[str, str]:
    """A scratch HOME and the clients' folders in it."""
    return {
        "HOME": str(tmp_path),
        "CLAUDE_CONFIG_DIR": str(tmp_path / "claude"),
        "CODEX_HOME": str(tmp_path / "codex"),
    }


def _address(daemon: Daemon) -> str:
    listener = daemon.client().get("/v1/health").json()["listener"]
    address: str = listener["tcp"]
    return address


def _token_file(daemon: Daemon) -> Path:
    return daemon.home / "state" / "tcp-token"


def _connect(daemon: Daemon, places: dict[str, str], *args: str, stdin: str = "") -> Ran:
    result = cortex(daemon.socket, "connect", *args, env=places, stdin=stdin)
    token = _token_file(daemon).read_text().strip()
    assert token not in result.stdout and token not in result.stderr
    return result


def test_claude_code_settings_are_merged_keeping_every_other_key(
    daemon: Daemon, places: dict[str, str]
) -> None:
    settings = Path(places["CLAUDE_CONFIG_DIR"]) / "settings.json"
    settings.parent.mkdir()
    theirs = {
        "model": "opus",
        "env": {"DISABLE_TELEMETRY": "1", "ANTHROPIC_MODEL": "claude-opus-4-8"},
        "permissions": {"allow": ["Bash(ls:*)"]},
    }
    settings.write_text(json.dumps(theirs, indent=2) + "\n")
    result = _connect(daemon, places, "claude-code", "--write", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    written = json.loads(settings.read_text())
    assert written["model"] == "opus" and written["permissions"] == theirs["permissions"]
    assert written["env"] == {
        "DISABLE_TELEMETRY": "1",
        "ANTHROPIC_MODEL": "claude-opus-4-8",  # pass-through: the user's own choice stays
        "ANTHROPIC_BASE_URL": f"http://{_address(daemon)}",
    }
    assert written["apiKeyHelper"] == f"cat {_token_file(daemon)}"
    # The diff was shown before the write, and the listener answered with the token.
    assert f"--- {settings}\n+++ {settings}\n" in result.stdout
    assert f'+    "ANTHROPIC_BASE_URL": "http://{_address(daemon)}"' in result.stdout
    assert "listener check: ok" in result.stdout
    # The helper Claude Code runs prints the token.
    helper = subprocess.run(
        ["sh", "-c", written["apiKeyHelper"]], capture_output=True, text=True, check=True
    )
    assert helper.stdout.strip() == _token_file(daemon).read_text().strip()


def test_claude_code_routed_sets_every_tier_to_auto_and_pass_through_takes_them_back(
    daemon: Daemon, places: dict[str, str]
) -> None:
    settings = Path(places["CLAUDE_CONFIG_DIR"]) / "settings.json"
    assert _connect(daemon, places, "claude-code", "--write", "--yes", "--routed").returncode == 0
    env = json.loads(settings.read_text())["env"]
    for key in ("MODEL", "DEFAULT_OPUS_MODEL", "DEFAULT_SONNET_MODEL", "DEFAULT_HAIKU_MODEL"):
        assert env[f"ANTHROPIC_{key}"] == "auto"
    assert _connect(daemon, places, "claude-code", "--write", "--yes").returncode == 0
    assert json.loads(settings.read_text())["env"] == {
        "ANTHROPIC_BASE_URL": f"http://{_address(daemon)}"
    }


def test_claude_code_without_write_prints_the_tier_lines_and_writes_nothing(
    daemon: Daemon, places: dict[str, str]
) -> None:
    result = _connect(daemon, places, "claude-code")
    assert result.returncode == 0
    assert '"ANTHROPIC_DEFAULT_SONNET_MODEL": "auto"' in result.stdout
    assert f'"apiKeyHelper": "cat {_token_file(daemon)}"' in result.stdout
    assert not Path(places["CLAUDE_CONFIG_DIR"]).exists()


def test_a_settings_json_that_is_not_json_is_refused_and_left_alone(
    daemon: Daemon, places: dict[str, str]
) -> None:
    settings = Path(places["CLAUDE_CONFIG_DIR"]) / "settings.json"
    settings.parent.mkdir()
    broken = b'{"env": {"A": "1",}\n'
    settings.write_bytes(broken)
    result = _connect(daemon, places, "claude-code", "--write", "--yes")
    assert result.returncode == 1
    assert f"{settings}: it is not valid JSON (line 1" in result.stderr
    assert "nothing was written" in result.stderr
    assert settings.read_bytes() == broken


@pytest.mark.parametrize(
    ("text", "message"),
    [("[1, 2]", "no JSON object"), ('{"env": "x"}', '"env" is not an object')],
)
def test_settings_of_the_wrong_shape_are_refused(text: str, message: str) -> None:
    with pytest.raises(SettingsFileError, match=message):
        edit_claude_settings(text, Endpoint("127.0.0.1:7462", Path("/t")), routed=False)


CODEX_CONFIG = """\
# My Codex settings
model = "o3"  # the one I like
approval_policy = "on-request"

[profiles.fast]
model = "gpt-4o-mini"

# a local model server
[model_providers.ollama]
name = "Ollama"
base_url = "http://localhost:11434/v1"
"""


def test_codex_config_keeps_comments_and_tables_and_a_second_write_changes_nothing(
    daemon: Daemon, places: dict[str, str]
) -> None:
    config = Path(places["CODEX_HOME"]) / "config.toml"
    config.parent.mkdir()
    config.write_text(CODEX_CONFIG)
    first = _connect(daemon, places, "codex", "--write", "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    text = config.read_text()
    for kept in ("# My Codex settings", '"o3"  # the one I like', "# a local model server"):
        assert kept in text
    parsed = tomllib.loads(text)
    assert parsed["model"] == "o3"  # pass-through
    assert parsed["model_provider"] == "cortexd"
    assert parsed["profiles"] == {"fast": {"model": "gpt-4o-mini"}}
    assert parsed["model_providers"]["ollama"]["name"] == "Ollama"
    assert parsed["model_providers"]["cortexd"] == {
        "name": "cortexd",
        "base_url": f"http://{_address(daemon)}/v1",
        "wire_api": "responses",
        "env_key": "CORTEXD_TOKEN",
    }
    assert f"+++ {config}" in first.stdout and '+model_provider = "cortexd"' in first.stdout
    assert f'export CORTEXD_TOKEN="$(cat {_token_file(daemon)})"' in first.stdout
    second = _connect(daemon, places, "codex", "--write", "--yes")
    assert second.returncode == 0
    assert "already has these settings" in second.stdout
    assert config.read_text() == text


def test_codex_routed_sets_model_auto() -> None:
    endpoint = Endpoint("127.0.0.1:7462", Path("/t"))
    routed = tomllib.loads(edit_codex_config(CODEX_CONFIG, endpoint, routed=True))
    assert routed["model"] == "auto" and routed["model_provider"] == "cortexd"
    again = edit_codex_config(edit_codex_config(None, endpoint, True), endpoint, False)
    assert "model" not in tomllib.loads(again)  # pass-through takes back its own `auto`


def test_a_config_toml_that_is_not_toml_is_refused() -> None:
    with pytest.raises(SettingsFileError, match="not valid TOML"):
        edit_codex_config("model = \n[[", Endpoint("127.0.0.1:7462", Path("/t")), False)


def test_no_at_the_question_writes_nothing(daemon: Daemon, places: dict[str, str]) -> None:
    result = _connect(daemon, places, "codex", "--write", stdin="n\n")
    assert result.returncode == 1
    assert "--- /dev/null" in result.stdout and "Write " in result.stdout
    assert "nothing written" in result.stdout
    assert not (Path(places["CODEX_HOME"]) / "config.toml").exists()
    yes = _connect(daemon, places, "codex", "--write", stdin="y\n")
    assert yes.returncode == 0 and (Path(places["CODEX_HOME"]) / "config.toml").exists()


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        ("continue", "apiBase: http://{address}/v1"),
        ("zed", '"api_url": "http://{address}/v1"'),
        ("aider", "--openai-api-base http://{address}/v1"),
    ],
)
def test_editors_get_their_settings_printed_and_write_says_it_only_prints(
    daemon: Daemon, places: dict[str, str], client: str, expected: str
) -> None:
    result = _connect(daemon, places, client, "--write", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert expected.format(address=_address(daemon)) in result.stdout
    assert f"cortex connect {client} only prints its settings" in result.stdout
    assert f"cat {_token_file(daemon)}" in result.stdout
    assert list(Path(places["HOME"]).iterdir()) == []  # nothing written anywhere


def test_the_check_says_clearly_that_nothing_listens(tmp_path: Path) -> None:
    home = short_home()
    try:
        port = _free_port()
        env = {
            "HOME": str(tmp_path),
            "CODEX_HOME": str(tmp_path / "codex"),
            "CORTEX_HOME": str(home),
            "CORTEX_TCP": f"127.0.0.1:{port}",
        }
        result = cortex(tmp_path / "none.sock", "connect", "codex", env=env)
        assert result.returncode == 1
        assert "cortexd is not running" in result.stderr
        assert f'base_url = "http://127.0.0.1:{port}/v1"' in result.stdout
        assert f"listener check: FAILED: nothing listens on 127.0.0.1:{port}" in result.stdout
    finally:
        remove_home(home)


def test_the_check_names_a_token_the_listener_refuses(
    daemon: Daemon, places: dict[str, str], tmp_path: Path
) -> None:
    # The daemon's port, but another home's token (another cortexd's settings).
    other = tmp_path / "other"
    (other / "state").mkdir(parents=True)
    (other / "state" / "tcp-token").write_text("x" * 43 + "\n")
    env = places | {"CORTEX_HOME": str(other), "CORTEX_TCP": _address(daemon)}
    result = cortex(tmp_path / "none.sock", "connect", "aider", env=env)
    assert result.returncode == 1
    assert f"refused the token in {other / 'state' / 'tcp-token'}" in result.stdout


def test_the_doctests_of_the_settings_module_hold() -> None:
    import doctest

    from cortexd.cli import connect_clients

    assert doctest.testmod(connect_clients).failed == 0

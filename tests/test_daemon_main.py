"""`cortexd` today: install the default routing file, validate it, show the table and keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cortexd.context.environment import Environment
from cortexd.context.paths import Paths, default_routing_text
from cortexd.daemon.main import main

CANARY = "sk-ant-test-canary-0123456789abcdefghij"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CORTEX_HOME", str(tmp_path))
    for var in ("CORTEX_SOCKET", "CORTEX_ROUTING_FILE", "OPENAI_API_KEY", "OLLAMA_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def test_first_run_installs_the_default_routing_file(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--check"]) == 0
    installed = home / "context" / "model-routing.md"
    assert installed.read_text(encoding="utf-8") == default_routing_text()
    out = capsys.readouterr().out
    assert "created" in out and "Meeting summary" in out and "sonnet → opus" in out


def test_the_users_file_is_never_overwritten(home: Path) -> None:
    mine = home / "context" / "model-routing.md"
    mine.parent.mkdir(parents=True)
    mine.write_text(
        default_routing_text().replace("| haiku | sonnet | Fast", "| opus | sonnet | Fast")
    )
    assert main(["--check"]) == 0
    assert "| opus | sonnet | Fast" in mine.read_text()


def test_keys_are_reported_present_never_printed(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--check"]) == 0
    captured = capsys.readouterr()
    assert "ANTHROPIC_API_KEY set" in captured.out
    assert "OPENAI_API_KEY unset" in captured.out
    assert CANARY not in captured.out + captured.err


def test_a_bad_routing_file_exits_1_with_its_line(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text(
        default_routing_text().replace(
            "| Meeting summary | sonnet |", "| Meeting summary | sonet |"
        )
    )
    assert main(["--routing-file", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:28:" in err and "did you mean 'sonnet'" in err


def test_cortex_home_puts_every_folder_under_it(tmp_path: Path) -> None:
    paths = Paths.resolve(Environment.read({"CORTEX_HOME": str(tmp_path)}))
    assert paths.routing_file == tmp_path / "context" / "model-routing.md"
    assert paths.socket == tmp_path / "run" / "cortexd.sock"
    assert paths.state_dir == tmp_path / "state"


def test_cortex_socket_wins_over_cortex_home(tmp_path: Path) -> None:
    env = Environment.read({"CORTEX_HOME": str(tmp_path), "CORTEX_SOCKET": "/tmp/x.sock"})
    assert Paths.resolve(env).socket == Path("/tmp/x.sock")


def test_the_console_script_runs(home: Path) -> None:
    # The installed entry point, as `uv run cortexd` starts it.
    script = Path(sys.executable).parent / "cortexd"
    result = subprocess.run([str(script), "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "routing file valid" in result.stdout


def test_markup_in_the_routing_file_is_shown_as_text(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "odd.md"
    odd.write_text(
        "## Routing Table\n| Task Type | Primary |\n|---|---|\n| Bulk [/red] ops | haiku |\n"
    )
    assert main(["--check", "--routing-file", str(odd)]) == 0
    assert "Bulk [/red] ops" in capsys.readouterr().out


def test_a_mistyped_routing_file_variable_is_reported_not_created(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "nope" / "typo.md"
    monkeypatch.setenv("CORTEX_ROUTING_FILE", str(typo))
    assert main([]) == 1
    assert not typo.exists()
    assert "does not exist" in capsys.readouterr().err


def test_secrets_in_the_ollama_address_are_not_printed(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "http://me:hunter2@gpu-box.lan:11434")
    assert main(["--check"]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out and "gpu-box.lan:11434" in out

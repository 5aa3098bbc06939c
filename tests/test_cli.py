"""The ``cortex`` CLI, called in-process: route, config check, models."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.cli import CORTEX

from cortexd.cli import main

SHIPPED = "<shipped default model-routing.md>"


@pytest.fixture(autouse=True)
def cortex_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own CORTEX_HOME, so no user routing file is ever read."""
    home = tmp_path / "cortex-home"
    monkeypatch.setenv("CORTEX_HOME", str(home))
    monkeypatch.delenv("CORTEX_ROUTING_FILE", raising=False)
    return home


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


# ---------------------------------------------------------------------------------------------
# cortex route


def test_route_json_classifies_a_standup_summary(capsys: pytest.CaptureFixture[str]) -> None:
    plan = run_json(
        capsys,
        "route",
        "--json",
        "Summarize today's standup: Alice shipped the parser, Bob is blocked on review.",
    )
    assert plan["task"] == "Meeting summary"
    assert plan["chain"] == ["sonnet", "opus"]
    assert (plan["primary"], plan["fallbacks"]) == ("sonnet", ["opus"])
    assert plan["decided_by"] == "classified"
    assert plan["routing_file"] == SHIPPED
    assert plan["reasons"]


def test_route_json_override_phrase(capsys: pytest.CaptureFixture[str]) -> None:
    plan = run_json(capsys, "route", "--json", "use opus for this: write me a haiku about autumn")
    assert plan["chain"] == ["opus"]
    assert plan["decided_by"] == "override"
    assert plan["prompt"] == "write me a haiku about autumn"
    assert plan["override"]["model"] == "opus"


def test_route_json_with_task(capsys: pytest.CaptureFixture[str]) -> None:
    plan = run_json(capsys, "route", "--json", "--task", "Security audit", "look at login.py")
    assert (plan["task"], plan["chain"], plan["decided_by"]) == (
        "Security audit",
        ["opus"],
        "task-given",
    )
    assert plan["classification"] is None


def test_route_text_output_with_task(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "--task", "Security audit", "look at login.py"]) == 0
    out = capsys.readouterr().out
    assert "Security audit" in out
    assert "chain:  opus" in out
    assert "why:" in out
    assert "  - " in out


def test_route_text_output_shows_the_prompt_after_an_override(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["route", "use opus for this: write me a haiku about autumn"]) == 0
    assert "prompt: write me a haiku about autumn" in capsys.readouterr().out


def test_route_json_with_explicit_model_client_and_author(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan = run_json(
        capsys, "route", "--json", "--task", "Code review", "--author", "claude", "review it"
    )
    assert plan["chain"] == ["codex", "sonnet"]
    plan = run_json(capsys, "route", "--json", "--model", "haiku", "anything")
    assert (plan["chain"], plan["decided_by"]) == (["haiku"], "explicit-model")
    plan = run_json(
        capsys,
        "route",
        "--json",
        "--task",
        "Vibe coding (interactive)",
        "--client",
        "claude-code",
        "x",
    )
    assert "codex" not in plan["chain"]


def test_route_reads_the_prompt_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("send this to codex: fix the parser"))
    plan = run_json(capsys, "route", "--json", "-")
    assert (plan["chain"], plan["prompt"]) == (["codex"], "fix the parser")


def test_route_unknown_model_exits_1_with_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "--model", "sonet", "hello"]) == 1
    err = capsys.readouterr().err
    assert "unknown model 'sonet'" in err
    assert "did you mean 'sonnet'" in err


def test_route_unknown_task_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "--task", "Securty audit", "hello"]) == 1
    assert "did you mean 'Security audit'" in capsys.readouterr().err


def test_route_local_only_without_local_models_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "--local-only", "--task", "Quick capture / filing", "note"]) == 1
    assert "local-only" in capsys.readouterr().err


def test_route_uses_the_user_file_under_cortex_home(
    capsys: pytest.CaptureFixture[str], cortex_home: Path, seed_text: str
) -> None:
    user_file = cortex_home / "context" / "model-routing.md"
    user_file.parent.mkdir(parents=True)
    user_file.write_text(
        seed_text.replace("| Security audit | opus | — |", "| Security audit | opus | gpt-4o |"),
        encoding="utf-8",
    )
    plan = run_json(capsys, "route", "--json", "--task", "Security audit", "x")
    assert plan["chain"] == ["opus", "gpt-4o"]
    assert plan["routing_file"] == str(user_file)


def test_route_with_file_option(capsys: pytest.CaptureFixture[str], write_routing) -> None:
    path = write_routing(
        "## Routing Table\n\n| Task Type | Primary | Fallback |\n|---|---|---|\n"
        "| Security audit | haiku | opus |\n"
    )
    plan = run_json(capsys, "route", "--json", "--file", str(path), "--task", "Security audit", "x")
    assert (plan["chain"], plan["routing_file"]) == (["haiku", "opus"], str(path))


def test_route_with_a_broken_user_file_exits_1(
    capsys: pytest.CaptureFixture[str], cortex_home: Path, seed_text: str
) -> None:
    user_file = cortex_home / "context" / "model-routing.md"
    user_file.parent.mkdir(parents=True)
    user_file.write_text(seed_text.replace("| haiku | sonnet | Fast", "| haiku | sonet | Fast"))
    assert main(["route", "hello"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cortex: ")
    assert "did you mean 'sonnet'" in err


# ---------------------------------------------------------------------------------------------
# cortex config check


def test_config_check_misspelt_model_exits_1_with_line_and_suggestion(
    capsys: pytest.CaptureFixture[str], seed_text: str, write_routing
) -> None:
    path = write_routing(
        seed_text.replace("| Meeting summary | sonnet |", "| Meeting summary | sonet |")
    )
    assert main(["config", "check", str(path)]) == 1
    captured = capsys.readouterr()
    line = line_of(seed_text, "| Meeting summary |")
    assert f"{path}:{line}:" in captured.err
    assert "did you mean 'sonnet'" in captured.err
    assert captured.out == ""


def test_config_check_reports_every_problem(
    capsys: pytest.CaptureFixture[str], seed_text: str, write_routing
) -> None:
    bad = seed_text.replace("| Meeting summary | sonnet |", "| Meeting summary | sonet |")
    bad = bad.replace("| Security audit | opus |", "| Security audit | opsu |")
    assert main(["config", "check", str(write_routing(bad))]) == 1
    err = capsys.readouterr().err
    assert "2 problems" in err
    assert "did you mean 'sonnet'" in err
    assert "did you mean 'opus'" in err


def test_config_check_on_the_seed_exits_0(
    capsys: pytest.CaptureFixture[str], seed_text: str, write_routing
) -> None:
    path = write_routing(seed_text)
    assert main(["config", "check", str(path)]) == 0
    captured = capsys.readouterr()
    assert "ok" in captured.out
    assert "11 routes" in captured.out
    assert "6 local rows" in captured.out
    assert "6 workflow rules" in captured.out
    assert captured.err == ""


def test_config_check_without_a_file_checks_the_shipped_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["config", "check"]) == 0
    assert SHIPPED in capsys.readouterr().out


def test_config_check_missing_file_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["config", "check", str(tmp_path / "nope.md")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_config_check_prints_warnings_and_exits_0(
    capsys: pytest.CaptureFixture[str], seed_text: str, write_routing
) -> None:
    text = seed_text + "\n## Local Model Files\n\n| Model | File |\n|---|---|\n| tiny | no.gguf |\n"
    assert main(["config", "check", str(write_routing(text))]) == 0
    captured = capsys.readouterr()
    assert "warning:" in captured.err
    assert "no.gguf" in captured.err
    assert "ok" in captured.out


def test_missing_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


# ---------------------------------------------------------------------------------------------
# cortex models


def test_models_json_lists_the_aliases_with_prices(capsys: pytest.CaptureFixture[str]) -> None:
    rows = {r["alias"]: r for r in run_json(capsys, "models", "--json")}
    assert {"haiku", "sonnet", "opus", "gpt-4o", "codex", "llama3.1:8b"} <= set(rows)
    gpt = rows["gpt-4o"]
    assert (gpt["provider"], gpt["model_id"], gpt["api"]) == ("openai", "gpt-4o", "chat")
    assert (gpt["input_usd_per_mtok"], gpt["output_usd_per_mtok"]) == ("2.5", "10")
    assert rows["codex"]["api"] == "responses"
    assert rows["llama3.1:8b"]["input_usd_per_mtok"] == "0"
    for alias in ("haiku", "sonnet", "opus", "codex"):
        assert rows[alias]["input_usd_per_mtok"] is not None


def test_models_json_unknown_price_is_null(
    capsys: pytest.CaptureFixture[str], write_routing
) -> None:
    path = write_routing(
        "## Routing Table\n\n| Task Type | Primary |\n|---|---|\n| A | mystery |\n\n"
        "## Model Aliases\n\n| Alias | Provider | Model ID | Base URL |\n|---|---|---|---|\n"
        "| mystery | openai | mystery-model-x | https://llm.example.com/v1 |\n"
    )
    rows = {r["alias"]: r for r in run_json(capsys, "models", "--json", "--file", str(path))}
    mystery = rows["mystery"]
    assert mystery["input_usd_per_mtok"] is None
    assert mystery["output_usd_per_mtok"] is None
    assert mystery["price_source"] is None
    assert mystery["base_url"] == "https://llm.example.com/v1"


def test_models_table_output(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich folds long ids in a narrow terminal
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "sonnet" in out
    assert "gpt-5.3-codex" in out


@pytest.mark.parametrize(
    ("module", "heavy"),
    [
        # `cortex --help` is typed often: the routing package (markdown-it, the classifier)
        # and the version metadata would double its start-up.
        ("cortexd.cli", ("cortexd.routing", "importlib.metadata", "httpx2", "rich")),
        # `cortex ask` needs HTTP but not the router.
        ("cortexd.client", ("cortexd.routing",)),
    ],
)
def test_the_cli_starts_without_the_heavy_packages(module: str, heavy: tuple[str, ...]) -> None:
    import subprocess
    import sys

    code = f"import sys, {module}; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""


def test_a_cortex_error_is_one_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "--json", "--model", "no-such-model", "hello"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cortex: ") and "Traceback" not in err


def test_cortex_says_its_version(capsys: pytest.CaptureFixture[str]) -> None:
    from cortexd.cli import main

    with pytest.raises(SystemExit) as ended:
        main(["--version"])
    assert ended.value.code == 0
    out = capsys.readouterr().out
    assert re.fullmatch(r"cortex \d+\.\d+\.\d+\S*\n", out), out


def test_a_piped_table_keeps_each_row_on_one_line(tmp_path: Path) -> None:
    # rich wraps to 80 columns where there is no terminal: `cortex models | grep` then
    # finds half a row. Piped without COLUMNS, a row is one line; COLUMNS still rules.
    def shown(columns: str | None) -> list[str]:
        env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
        env["CORTEX_SOCKET"] = str(tmp_path / "none.sock")  # the catalog from the file
        if columns is not None:
            env["COLUMNS"] = columns
        ran = subprocess.run(
            [CORTEX, "models"], env=env, capture_output=True, text=True, timeout=60
        )
        assert ran.returncode == 0, ran.stderr
        return [line for line in ran.stdout.splitlines() if "│" in line]

    piped, narrow = shown(None), shown("60")
    row = next(line for line in piped if "│ sonnet " in line)
    assert "claude-sonnet-5-5" in row and "1,000,000" in row  # at 80 columns: "claude-sonne"
    assert len(piped) < len(narrow)  # at 60 columns the rows wrap

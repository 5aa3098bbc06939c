"""The real Claude Code and Codex CLIs (pinned, from npm) answering through a real cortexd
over its token-guarded loopback TCP listener, with the fake providers behind it. Each client
runs in a private network namespace with loopback only (support.netns), so nothing leaves
the machine; it skips only where node or `unshare -n` is missing, and says why."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.agents import run_claude, run_codex
from support.cli import CORTEX
from support.daemon import (
    Daemon,
    cloud_env,
    process_env,
    remove_home,
    short_home,
    start_daemon,
)
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Daemon, FakeAnthropic, FakeOpenAI, str, str]]:
    """A cortexd with its TCP listener, the fakes behind it, its address and token."""
    with FakeAnthropic() as anthropic_fake, FakeOpenAI() as openai_fake:
        home = short_home()
        port = _free_port()
        daemon = start_daemon(
            home, cloud_env(anthropic_fake, openai_fake), "--tcp", f"127.0.0.1:{port}"
        )
        try:
            listener = daemon.client().get("/v1/health").json()["listener"]
            token = Path(listener["token_file"]).read_text().strip()
            yield daemon, anthropic_fake, openai_fake, f"http://127.0.0.1:{port}", token
        finally:
            daemon.stop()
            remove_home(home)


def _calls(daemon: Daemon) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = daemon.client().get("/v1/calls").json()["data"]
    return rows


def test_claude_code_answers_through_cortexd_and_is_on_the_ledger(
    served: tuple[Daemon, FakeAnthropic, FakeOpenAI, str, str], tmp_path: Path
) -> None:
    daemon, anthropic_fake, _, url, token = served
    anthropic_fake.clear()
    # The first attempt is overloaded: the fallback answers before any content was sent.
    anthropic_fake.enqueue(Fault.status(529), Fault.status(529), Turn(text="Hi from cortexd."))
    run = run_claude("say hi", base_url=url, api_key=token, home=tmp_path / "home")
    assert run.answer == "Hi from cortexd.", run.describe()
    assert not run.is_error, run.describe()
    sent = [r for r in anthropic_fake.requests if r.path == "/v1/messages"]
    assert sent and (sent[-1].header("anthropic-beta") or "").startswith("claude-code")
    row = _calls(daemon)[-1]
    assert row["client"] == "claude-cli" and row["session"], row
    assert row["outcome"] == "ok" and row["fallback"] in (True, 1), row
    assert row["task"] != "Classification / routing", row


def test_claude_code_in_routed_mode_is_routed_by_the_routing_file(
    served: tuple[Daemon, FakeAnthropic, FakeOpenAI, str, str], tmp_path: Path
) -> None:
    daemon, anthropic_fake, _, url, token = served
    anthropic_fake.clear()
    anthropic_fake.enqueue(Turn(text="Filed."))
    run = run_claude(
        "save this note: call the dentist tuesday",
        base_url=url, auth_token=token, model="auto", home=tmp_path / "home",
    )  # fmt: skip
    assert run.answer == "Filed.", run.describe()
    row = _calls(daemon)[-1]
    assert row["task"] == "Quick capture / filing" and row["model"] == "haiku", row


def test_codex_answers_through_cortexd_and_is_on_the_ledger(
    served: tuple[Daemon, FakeAnthropic, FakeOpenAI, str, str], tmp_path: Path
) -> None:
    daemon, _, openai_fake, url, token = served
    openai_fake.clear()
    openai_fake.enqueue(Turn(text="Hello from codex via cortexd."))
    run = run_codex(
        "say hi", base_url=f"{url}/v1", token=token, model="gpt-5.1-codex",
        codex_home=tmp_path / "codex",
    )  # fmt: skip
    assert run.answer == "Hello from codex via cortexd.", run.describe()
    sent = [r for r in openai_fake.requests if r.path == "/v1/responses"]
    assert sent and sent[-1].header("authorization") != f"Bearer {token}"  # cortexd's key upstream
    row = _calls(daemon)[-1]
    assert row["client"] == "codex_exec" and row["session"], row
    assert row["provider"] == "openai" and row["outcome"] == "ok", row


def test_codex_in_routed_mode_is_answered_by_sonnet_as_the_routing_file_says(
    served: tuple[Daemon, FakeAnthropic, FakeOpenAI, str, str], tmp_path: Path
) -> None:
    daemon, anthropic_fake, openai_fake, url, token = served
    anthropic_fake.clear()
    openai_fake.clear()
    # The routing file sends General agent work to sonnet: Codex's turn crosses, translated.
    anthropic_fake.enqueue(Turn(text="Sonnet, as the routing file says."))
    run = run_codex(
        "say hi", base_url=f"{url}/v1", token=token, model="auto", codex_home=tmp_path / "codex"
    )
    assert run.answer == "Sonnet, as the routing file says.", run.describe()
    assert not [r for r in openai_fake.requests if r.path == "/v1/responses"]
    row = _calls(daemon)[-1]
    assert row["provider"] == "anthropic" and row["task"] == "General agent work", row
    why = daemon.client().get(f"/v1/calls/{row['id']}").json()
    assert why["decided_by"] == "default" and why["agent_model"] == "auto", why
    # What translation left out of Codex's request is on the ledger with the call.
    assert any("web_search" in lost for lost in why["losses"]), why["losses"]


def test_a_wrong_token_is_refused_and_claude_code_says_so(
    served: tuple[Daemon, FakeAnthropic, FakeOpenAI, str, str], tmp_path: Path
) -> None:
    _, anthropic_fake, _, url, _ = served
    anthropic_fake.clear()
    run = run_claude(
        "say hi", base_url=url, api_key="not-the-token", home=tmp_path / "home", timeout=60
    )
    assert run.is_error or run.returncode != 0, run.describe()
    assert not [r for r in anthropic_fake.requests if r.path == "/v1/messages"]


def _connect(daemon: Daemon, client: str, home: Path, *extra: str) -> str:
    """`cortex connect CLIENT --write --yes` as the person runs it, in its own process."""
    env = {
        **process_env({}),
        "HOME": str(home),
        "CORTEX_SOCKET": str(daemon.socket),
        "CODEX_HOME": str(home / ".codex"),
    }
    env.pop("CLAUDE_CONFIG_DIR", None)
    ran = subprocess.run(
        [CORTEX, "connect", client, "--write", "--yes", *extra],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran.stdout


def test_cortex_connect_sets_claude_code_up_in_one_command(
    served: tuple[Daemon, FakeAnthropic, FakeOpenAI, str, str], tmp_path: Path
) -> None:
    daemon, anthropic_fake, _, url, token = served
    anthropic_fake.clear()
    anthropic_fake.enqueue(Turn(text="Connected."))
    home = tmp_path / "home"
    shown = _connect(daemon, "claude-code", home)
    assert token not in shown  # the token is named by its file, never printed
    # No key and no base URL in the environment: settings.json and its apiKeyHelper do it.
    run = run_claude("say hi", base_url=url, home=home, configured=True)
    assert run.answer == "Connected.", run.describe()
    assert _calls(daemon)[-1]["client"] == "claude-cli"


def test_cortex_connect_sets_codex_up_in_one_command(
    served: tuple[Daemon, FakeAnthropic, FakeOpenAI, str, str], tmp_path: Path
) -> None:
    daemon, anthropic_fake, _, url, token = served
    anthropic_fake.clear()
    # Routed mode: "say hi" is General agent work, which the routing file sends to sonnet.
    anthropic_fake.enqueue(Turn(text="Codex connected."))
    home = tmp_path / "home"
    shown = _connect(daemon, "codex", home, "--routed")
    assert token not in shown and "CORTEXD_TOKEN" in shown
    run = run_codex(
        "say hi", base_url=f"{url}/v1", token=token, model="auto",
        codex_home=home / ".codex", configured="CORTEXD_TOKEN",
    )  # fmt: skip
    assert run.answer == "Codex connected.", run.describe()
    assert _calls(daemon)[-1]["client"] == "codex_exec"


@pytest.mark.parametrize(("model", "path"), [("gpt-4o", "/v1/chat/completions"),
                                             ("codex", "/v1/responses")])  # fmt: skip
def test_claude_code_is_answered_by_openai_when_the_person_says_so(
    served: tuple[Daemon, FakeAnthropic, FakeOpenAI, str, str], tmp_path: Path, model: str,
    path: str,
) -> None:  # fmt: skip
    daemon, anthropic_fake, openai_fake, url, token = served
    anthropic_fake.clear()
    openai_fake.clear()
    openai_fake.enqueue(Turn(text=f"{model}, translated for Claude Code."))
    run = run_claude(f"use {model} for this: say hi", base_url=url, api_key=token, home=tmp_path)
    assert run.answer == f"{model}, translated for Claude Code.", run.describe()
    assert not [r for r in anthropic_fake.requests if r.path == "/v1/messages"]
    assert [r for r in openai_fake.requests if r.path == path]  # codex speaks Responses
    row = _calls(daemon)[-1]
    assert row["provider"] == "openai" and row["client"] == "claude-cli", row
    assert row["decided_by"] == "override", row


def test_codex_is_answered_by_sonnet_when_the_person_says_so(
    served: tuple[Daemon, FakeAnthropic, FakeOpenAI, str, str], tmp_path: Path
) -> None:
    daemon, anthropic_fake, openai_fake, url, token = served
    anthropic_fake.clear()
    openai_fake.clear()
    anthropic_fake.enqueue(Turn(text="Sonnet, translated for Codex."))
    run = run_codex(
        "use sonnet for this: say hi", base_url=f"{url}/v1", token=token, model="auto",
        codex_home=tmp_path / "codex",
    )  # fmt: skip
    assert run.answer == "Sonnet, translated for Codex.", run.describe()
    assert not [r for r in openai_fake.requests if r.path == "/v1/responses"]
    row = _calls(daemon)[-1]
    assert row["provider"] == "anthropic" and row["client"] == "codex_exec", row


def test_claude_code_crosses_to_gpt_4o_and_comes_back_in_one_conversation(
    served: tuple[Daemon, FakeAnthropic, FakeOpenAI, str, str], tmp_path: Path
) -> None:
    daemon, anthropic_fake, openai_fake, url, token = served
    anthropic_fake.clear()
    openai_fake.clear()
    home = tmp_path / "home"
    openai_fake.enqueue(Turn(text="GPT-4o here."))
    run = run_claude("use gpt-4o for this: say hi", base_url=url, api_key=token, home=home)
    assert run.answer == "GPT-4o here.", run.describe()
    crossed = _calls(daemon)[-1]
    assert crossed["provider"] == "openai", crossed
    # The person's next turn, in the same conversation: back on Claude, with gpt-4o's
    # answer in the history Claude Code kept, and the override phrase left out as before.
    anthropic_fake.enqueue(Turn(text="Claude again."))
    run = run_claude(
        "now say bye", base_url=url, api_key=token, home=home, extra_args=["--continue"]
    )
    assert run.answer == "Claude again.", run.describe()
    sent = [r for r in anthropic_fake.requests if r.path == "/v1/messages"]
    body = json.loads(sent[-1].body)
    said = json.dumps(body["messages"])
    assert "GPT-4o here." in said and "now say bye" in said
    assert "use gpt-4o for this" not in said
    back = _calls(daemon)[-1]
    assert back["provider"] == "anthropic", back
    assert back["session"] == crossed["session"]  # --continue keeps the session id
    why = daemon.client().get(f"/v1/calls/{back['id']}").json()
    assert why["moved"]["from_provider"] == "openai", why["moved"]
    assert why["moved"]["reason"].startswith("back to the agent's own provider"), why["moved"]

"""`cortex propose` (run in-process) with the real daemon it signals to reload, on a
synthetic ledger where the answer is known: the swap is proposed with its evidence, a file
edited since is refused, `--apply` changes only the cells it must and the daemon serves the
new table, `--reject` is remembered."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.app import start_app
from support.cli import Ran
from support.cli import cortex as run_cortex
from support.daemon import Daemon, remove_home, short_home, start_daemon
from support.ledger_rows import answered, write_calls
from support.waiting import wait_for

from cortexd.context.paths import default_routing_text


def cortex(daemon: Daemon, *args: str) -> Ran:
    """The CLI in this process; the daemon it edits the file for and signals is real."""
    return run_cortex(daemon.socket, *args)


@pytest.fixture(scope="module")
def proposing() -> Iterator[Daemon]:
    """A daemon over a ledger where codex clearly beats sonnet on Code review (46 of 50
    achieved at $0.004 against 30 of 50 at $0.011), and Meeting summary is overridden to
    opus in 12 of 15 calls."""
    home = short_home()
    start_app(home, {}).stop()  # the database exists now, with its schema
    rows = answered("Code review", "sonnet", calls=50, achieved=30, cost="0.011")
    rows += answered(
        "Code review", "codex", calls=50, achieved=46, cost="0.004", tried_first="sonnet"
    )
    rows += answered("Meeting summary", "sonnet", calls=3, achieved=3, cost="0.01")
    rows += answered(
        "Meeting summary", "opus", calls=12, achieved=12, cost="0.05", decided_by="override"
    )
    write_calls(home / "state" / "ledger.sqlite3", rows)
    running = start_daemon(home, {})
    yield running
    running.stop()
    remove_home(home)


def routing_path(daemon: Daemon) -> Path:
    return daemon.home / "context" / "model-routing.md"


def generation(daemon: Daemon) -> int:
    found: int = daemon.client().get("/v1/health").json()["routing_file"]["generation"]
    return found


def plan_chain(daemon: Daemon, task: str) -> list[str]:
    body = {"model": f"task:{task}", "messages": [{"role": "user", "content": "hi"}]}
    chain: list[str] = daemon.client().post("/v1/route", json=body).json()["chain"]
    return chain


def test_propose_apply_reject_in_order(proposing: Daemon) -> None:
    listed = cortex(proposing, "propose")
    assert listed.returncode == 0, listed.stderr
    out = listed.stdout
    # Listed in the routing table's order of task types.
    assert "2. Code review: make codex the primary, sonnet the fallback" in out
    assert "codex: achieved 46 of 50 (92%" in out and "sonnet: achieved 30 of 50 (60%" in out
    assert "1. Meeting summary: you override it to opus in 80% of calls" in out
    assert "mode 'static rules + user override': proposals are never applied on their own" in out

    # The user edits the file (a note of their own): the daemon takes the save by itself,
    # and the proposal applies to the file as it is now: a diff, two cells and the date.
    path = routing_path(proposing)
    path.write_text(path.read_text() + "\nA note of mine.\n")
    wait_for(lambda: generation(proposing) >= 2, "the daemon's reload")
    before = path.read_text().splitlines()
    applied = cortex(proposing, "propose", "--apply", "2", "--yes")
    assert applied.returncode == 0, applied.stderr
    assert "-| Code review | sonnet | codex |" in applied.stdout
    assert "+| Code review | codex | sonnet |" in applied.stdout
    assert re.search(r"serves it now \(generation [34]\)", applied.stdout)
    after = path.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert [b for _, b in changed][1:] == [
        "| Code review | codex | sonnet | Different models catch different issues |"
    ]
    assert changed[0][0].startswith("**Last updated**: 2026-02-02")
    assert after[-1] == "A note of mine."  # the user's prose is untouched
    assert plan_chain(proposing, "Code review") == ["codex", "sonnet"]

    # Rejected: not proposed again on the same evidence.
    listed = cortex(proposing, "propose", "--json")
    (meeting,) = json.loads(listed.stdout)["proposals"]
    assert meeting["task"] == "Meeting summary"
    rejected = cortex(proposing, "propose", "--reject", meeting["id"])
    assert rejected.returncode == 0, rejected.stderr
    again = cortex(proposing, "propose")
    assert "Meeting summary" not in again.stdout
    assert "no routing change is supported" in again.stdout


def test_an_unknown_proposal_number_is_a_clear_error(proposing: Daemon) -> None:
    answer = cortex(proposing, "propose", "--apply", "9")
    assert answer.returncode == 1
    assert "no proposal '9'" in answer.stderr


def test_budget_set_writes_the_section_and_the_daemon_enforces_it(proposing: Daemon) -> None:
    before = generation(proposing)
    written = cortex(proposing, "budget", "set", "openai", "12.50", "--yes")
    assert written.returncode == 0, written.stderr
    assert "+| openai | $12.50 | 50%, 80%, 100% | continue |" in written.stdout
    # Swapped in: by the SIGHUP, and the file watcher may swap the same save in too.
    assert generation(proposing) > before
    state = proposing.client().get("/v1/budgets").json()
    assert [(b["scope"], b["limit_usd"]) for b in state["budgets"]] == [("openai", "12.50")]
    # A second provider joins the same table; a changed amount rewrites its cell.
    assert cortex(proposing, "budget", "set", "anthropic", "40", "--yes").returncode == 0
    assert cortex(proposing, "budget", "set", "openai", "20", "--yes").returncode == 0
    text = routing_path(proposing).read_text()
    assert text.count("## Budgets") == 1
    assert "| openai | $20 |" in text and "| anthropic | $40 |" in text
    shown = cortex(proposing, "budget")
    assert "openai" in shown.stdout and "$20.00" in shown.stdout and "continue" in shown.stdout


def test_budget_set_refuses_a_bad_amount_and_writes_nothing(proposing: Daemon) -> None:
    text = routing_path(proposing).read_text()
    for amount in ("-5", "lots", "0"):
        answer = cortex(proposing, "budget", "set", "openai", amount, "--yes")
        assert answer.returncode == 1 and "cortex:" in answer.stderr
    assert routing_path(proposing).read_text() == text


def test_budget_set_without_a_daemon_writes_the_file_for_the_next_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "context").mkdir(parents=True)
    path = home / "context" / "model-routing.md"
    path.write_text(default_routing_text())
    answer = run_cortex(
        tmp_path / "none.sock", "budget", "set", "total", "100", "--yes",
        env={"CORTEX_HOME": str(home)},
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    assert "cortexd is not running; it reads the file when it starts" in answer.stdout
    assert "| total | $100 | 50%, 80%, 100% | continue |" in path.read_text()

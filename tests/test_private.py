"""Private (issue 20, section 7): what cortexd writes under its context and state folders is
the user's alone — 0600 files, 0700 folders — whatever umask it was started with.

The in-process application shows that each file is created with its mode (the test process
keeps a shell's 022); the real daemon shows that it sets its own umask too, so that what a
library writes for it (SQLite's database and journal) is private as well.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import openai
import pytest
from support.app import App, start_app
from support.cli import cortex
from support.daemon import cloud_env, remove_home, short_home, start_daemon
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn
from support.waiting import wait_for

from cortexd.api.reachability import Reachability
from cortexd.context.atomic import write_atomic
from cortexd.context.paths import default_routing_text, private_folder
from cortexd.routing import build_catalog
from cortexd.routing.dispatch.circuit import FAILURES_TO_OPEN
from cortexd.routing.dispatch.health import ModelHealth
from cortexd.routing.providers.errors import AuthenticationError, ServerError

Fakes = tuple[FakeAnthropic, FakeOpenAI]
BUDGET = (
    "\n## Budgets\n\n| Provider | Monthly limit | Alerts |\n|---|---|---|\n"
    "| anthropic | $0.000001 | 50% |\n"
)


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    """The process's umask set to `value`, as a shell that started cortexd would have it."""
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def exposed(home: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every entry under context/ and state/ (those folders included) that others may read:
    its path and mode. Names starting with one of `skip` are left out."""
    found: dict[str, str] = {}
    for top in (home / "context", home / "state"):
        entries = [top, *top.rglob("*")]
        for path in entries:
            if path.name.startswith(skip):
                continue
            mode = stat.S_IMODE(path.lstat().st_mode)
            if mode & 0o077:
                found[str(path.relative_to(home))] = oct(mode)
    return found


def test_private_folder_makes_missing_folders_0700_and_leaves_existing_ones(
    tmp_path: Path,
) -> None:
    shared = tmp_path / "shared"
    with umask(0o022):
        shared.mkdir()  # the user's own folder, 0755: left as it is
        private_folder(shared / "a" / "b")
        write_atomic(shared / "a" / "b" / "c" / "report.md", "x")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    for folder in (shared / "a", shared / "a" / "b", shared / "a" / "b" / "c"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE((shared / "a" / "b" / "c" / "report.md").stat().st_mode) == 0o600


def filing(title: str) -> Turn:
    answer = {"title": title, "category": "Work", "tags": ["t"], "summary": "About it."}
    return Turn(text=json.dumps(answer))


def test_what_the_application_writes_is_private_under_umask_022(fakes: Fakes) -> None:
    anthropic, openai_fake = fakes
    for fake in fakes:
        fake.clear()
    home = short_home()
    with umask(0o022):
        app = start_app(home, cloud_env(anthropic, openai_fake))
        try:
            routing = home / "context" / "model-routing.md"
            routing.write_text(default_routing_text() + BUDGET)
            assert app.reload()
            anthropic.enqueue(Turn(text="hello"), filing("A private note"))
            with app.sdk() as sdk:
                sdk.chat.completions.create(
                    model="sonnet", messages=[{"role": "user", "content": "hi"}]
                )
            alerts = home / "context" / "alerts.md"
            wait_for(alerts.exists, "the budget alert in alerts.md")
            filed = app.client().post("/v1/capture", json={"text": "my prompt", "name": "n.md"})
            assert filed.status_code == 200, filed.text
            assert Path(filed.json()["path"]).is_file()
            (home / "context" / "inbox" / "blob.bin").write_bytes(b"\x00\x01")  # to failed/
            reason = home / "context" / "inbox" / "failed" / "blob.bin.reason.txt"
            wait_for(reason.exists, "the refused file's reason")
        finally:
            app.stop()  # writes model-performance.md
    try:
        assert (home / "context" / "model-performance.md").is_file()
        # The dropped file is the user's (moved, not written: it keeps its mode); the
        # database is SQLite's, made private by the daemon's umask (the test below).
        assert exposed(home, skip=("blob.bin", "ledger.sqlite3")) == {}
    finally:
        remove_home(home)


@pytest.mark.parametrize("mask", [0o022, 0o000])
def test_the_daemon_keeps_its_files_private_whatever_its_umask(fakes: Fakes, mask: int) -> None:
    anthropic, openai_fake = fakes
    for fake in fakes:
        fake.clear()
    home = short_home()
    try:
        with umask(mask):
            daemon = start_daemon(home, cloud_env(anthropic, openai_fake))
        try:
            anthropic.enqueue(Turn(text="hello"))
            body = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}
            answer = daemon.client().post("/v1/chat/completions", json=body)
            assert answer.status_code == 200, answer.text
        finally:
            daemon.stop()
        assert (home / "state" / "ledger.sqlite3").is_file()
        assert (home / "context" / "model-performance.md").is_file()
        assert exposed(home) == {}
    finally:
        remove_home(home)


# -- quiet: /v1/health asks the providers at most every 30 s ----------------------------------


def upstream_checks(fakes: Fakes) -> int:
    """The status requests the fakes received (a model list: the cheapest authenticated one)."""
    return sum(1 for fake in fakes for r in fake.requests if r.method == "GET")


def test_health_polls_reuse_the_providers_reachability(app: App, fresh: Fakes) -> None:
    client = app.client()
    wait_for(lambda: client.get("/v1/health?check=all").json()["sdks_loaded"], "the SDKs")
    now = [1000.0]
    app.app.state.reachability = Reachability(clock=lambda: now[0])
    for fake in fresh:
        fake.clear_requests()  # the polls above asked with the daemon's own cache
    first = client.get("/v1/health").json()["providers"]
    assert {p["provider"] for p in first} >= {"anthropic", "openai"}
    asked = upstream_checks(fresh)
    assert asked == 2  # one status request to each fake
    for _ in range(4):
        again = client.get("/v1/health").json()["providers"]
        assert [p["reachable"] for p in again] == [p["reachable"] for p in first]
    assert upstream_checks(fresh) == asked  # 5 polls, one round of requests
    now[0] += 29.0
    assert client.get("/v1/health").json()["providers"][0]["checked_s_ago"] == 29.0
    assert upstream_checks(fresh) == asked
    now[0] += 1.0
    client.get("/v1/health")
    assert upstream_checks(fresh) == 2 * asked


# -- cortex health shows open circuits ----------------------------------------------------------


def test_held_back_says_why_and_for_how_long() -> None:
    now = [0.0]
    health = ModelHealth(clock=lambda: now[0])
    catalog = build_catalog()
    gpt, sonnet, haiku = (catalog.find(n) for n in ("gpt-4o", "sonnet", "haiku"))
    assert gpt is not None and sonnet is not None and haiku is not None
    for _ in range(FAILURES_TO_OPEN):
        health.failed(gpt, ServerError("upstream 500", provider="openai", status=500))
    health.failed(sonnet, AuthenticationError("bad key", provider="anthropic", status=401))
    now[0] = 4.0
    held = health.held_back(catalog.models)
    by_model = {name: (why, wait) for name, why, wait in held}
    assert by_model["gpt-4o"] == ("circuit open: it failed several times in a row", 6.0)
    # A rejected key pauses every model of the provider, with the provider's reason.
    assert "anthropic refused the key" in by_model["haiku"][0]
    assert [name for name, _, _ in held][0] == "gpt-4o"  # soonest first
    now[0] = 10.0
    assert "gpt-4o" not in {name for name, _, _ in health.held_back(catalog.models)}
    assert health.breakers.blocked("gpt-4o") is None  # the half-open probe is still there


def test_cortex_health_shows_an_open_circuit_and_when_it_half_opens(fakes: Fakes) -> None:
    anthropic, openai_fake = fakes
    for fake in fakes:
        fake.clear()
    running = start_app(env=cloud_env(anthropic, openai_fake))
    try:
        openai_fake.enqueue(*[Fault.status(500)] * 2 * FAILURES_TO_OPEN)
        with running.sdk() as sdk:
            for _ in range(FAILURES_TO_OPEN):
                with contextlib.suppress(openai.APIStatusError):
                    sdk.chat.completions.create(
                        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
                    )
        circuits = running.client().get("/v1/health").json()["circuits"]
        (gpt,) = [c for c in circuits if c["model"] == "gpt-4o"]
        assert gpt["why"].startswith("circuit open") and 0 < gpt["in_s"] <= 10
        until = datetime.fromisoformat(gpt["until"])
        assert abs((until - datetime.now(UTC)).total_seconds() - gpt["in_s"]) < 2
        shown = cortex(running.socket, "health")
        assert "open circuits" in shown.stdout
        local = until.astimezone().strftime("%H:%M:%S")
        assert (
            f"gpt-4o: circuit open: it failed several times in a row; tried again at {local}"
            in (shown.stdout)
        )
    finally:
        running.stop()
        remove_home(running.home)


def test_cortex_health_says_when_no_circuit_is_open(app: App) -> None:
    shown = cortex(app.socket, "health")
    assert "open circuits: none" in shown.stdout

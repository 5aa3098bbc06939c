"""Hot reload, in-process: the application follows saves of its routing file (by rename, in
place, in bursts), keeps the last good table when a save is bad (reported once), and lets
calls under way finish with the table they started with. The watcher itself is tested on a
real folder."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.app import App, start_app
from support.canary import ANTHROPIC_KEY
from support.daemon import remove_home, short_home
from support.fakes import FakeAnthropic, Turn
from support.waiting import wait_for

from cortexd.daemon.file_watch import FileWatcher

CAPTURE_ROW = "| Quick capture / filing | haiku | sonnet | Fast, cheap |"


@pytest.fixture(scope="module")
def claude() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def running(claude: FakeAnthropic) -> Iterator[App]:
    home = short_home()
    env = {"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": claude.base_url}
    daemon = start_app(home, env)
    try:
        yield daemon
    finally:
        daemon.stop()
        remove_home(home)


def routing_file(daemon: App) -> Path:
    return daemon.home / "context" / "model-routing.md"


def health(daemon: App) -> dict[str, Any]:
    routing: dict[str, Any] = daemon.client().get("/v1/health").json()["routing_file"]
    return routing


def chain(daemon: App, task: str = "Quick capture / filing") -> list[str]:
    body = {"messages": [{"role": "user", "content": "note"}], "cortex": {"task": task}}
    found: list[str] = daemon.client().post("/v1/route", json=body).json()["chain"]
    return found


def save_by_rename(path: Path, text: str) -> None:
    """What most editors do: write a new file beside it, then rename it over the old one."""
    temporary = path.with_name(f".{path.name}.swp-new")
    temporary.write_text(text)
    os.replace(temporary, path)


def with_row(daemon: App, row: str) -> str:
    text = routing_file(daemon).read_text()
    assert CAPTURE_ROW in text
    return text.replace(CAPTURE_ROW, row)


def alerts(daemon: App) -> list[str]:
    path = daemon.home / "context" / "alerts.md"
    return [line for line in path.read_text().splitlines() if line.startswith("- **")] if (
        path.exists()
    ) else []  # fmt: skip


def test_a_save_by_rename_changes_the_next_calls_chain(running: App) -> None:
    assert chain(running) == ["haiku", "sonnet"]
    save_by_rename(
        routing_file(running), with_row(running, "| Quick capture / filing | haiku | opus | |")
    )
    wait_for(lambda: chain(running) == ["haiku", "opus"], "the new fallback")
    assert health(running)["generation"] == 2


def test_a_save_in_place_and_a_burst_of_saves(running: App) -> None:
    path = routing_file(running)
    edited = with_row(running, "| Quick capture / filing | sonnet | opus | |")
    with path.open("w") as handle:  # truncate and write: the same inode
        handle.write(edited)
    wait_for(lambda: chain(running) == ["sonnet", "opus"], "the save in place")
    generation = health(running)["generation"]
    text = path.read_text()
    for fallback in ["haiku", "opus"] * 10 + ["haiku"]:  # 21 saves as fast as the disk goes
        save_by_rename(path, text.replace("| sonnet | opus |", f"| sonnet | {fallback} |"))
    wait_for(lambda: chain(running) == ["sonnet", "haiku"], "the last save of the burst")
    time.sleep(0.5)  # anything still queued would show now
    # Debounced: a handful of swaps at most, not one per save, and the last one wins.
    assert generation < health(running)["generation"] <= generation + 4
    assert chain(running) == ["sonnet", "haiku"]


def test_a_bad_save_keeps_the_old_table_is_reported_once_and_a_fix_clears_it(
    running: App, caplog: pytest.LogCaptureFixture
) -> None:
    path = routing_file(running)
    good = path.read_text()
    typo = good.replace("| Meeting summary | sonnet | opus |", "| Meeting summary | sonet | opus |")
    assert typo != good
    save_by_rename(path, typo)
    error = wait_for(lambda: health(running)["last_error"], "the reload error")
    line = typo.splitlines().index(next(x for x in typo.splitlines() if "sonet" in x)) + 1
    assert f"model-routing.md:{line}" in error and "sonet" in error
    assert chain(running, "Meeting summary") == ["sonnet", "opus"]  # the old table serves
    assert health(running)["generation"] == 1
    # A second bad save while it is still bad: logged, not notified again.
    save_by_rename(path, typo.replace("| opus | gpt-4o |", "| opuss | gpt-4o |"))
    wait_for(lambda: "opuss" in (health(running)["last_error"] or ""), "the second error")
    wait_for(lambda: len(alerts(running)) >= 1, "the notice")
    assert len(alerts(running)) == 1 and "previous routing table" in alerts(running)[0]
    assert (
        running.client()
        .post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
        .status_code
        == 200
    )  # still serving
    save_by_rename(path, good.replace(CAPTURE_ROW, "| Quick capture / filing | haiku | opus | |"))
    wait_for(lambda: health(running)["last_error"] is None, "the error to clear")
    assert chain(running) == ["haiku", "opus"]
    logged = caplog.text
    assert "routing file not reloaded" in logged and "sonet" in logged, logged[-3000:]


def test_a_call_under_way_finishes_with_the_table_it_started_with(
    running: App, claude: FakeAnthropic
) -> None:
    claude.clear()
    claude.enqueue(Turn(text="slow answer", delay=1.5))
    body = {
        "messages": [{"role": "user", "content": "file this"}],
        "cortex": {"task": "Quick capture / filing"},
    }
    result: dict[str, Any] = {}

    async def call_and_save() -> None:
        async def call() -> None:
            response = await asyncio.to_thread(
                running.client().post, "/v1/chat/completions", json=body
            )
            result.update(response.json())

        task = asyncio.create_task(call())
        await asyncio.to_thread(wait_for, lambda: claude.requests, "the call to reach haiku")
        save_by_rename(
            routing_file(running), with_row(running, "| Quick capture / filing | opus | sonnet | |")
        )
        await asyncio.to_thread(wait_for, lambda: chain(running)[0] == "opus", "the reload")
        await task

    asyncio.run(call_and_save())
    assert result["cortex"]["model"] == "haiku"
    assert result["choices"][0]["message"]["content"] == "slow answer"
    assert chain(running) == ["opus", "sonnet"]


# --- the watcher on its own ---------------------------------------------------------------------


def test_the_watcher_follows_a_symlinked_file_and_ignores_its_neighbours(tmp_path: Path) -> None:
    dotfiles, config = tmp_path / "dotfiles", tmp_path / "config"
    dotfiles.mkdir()
    config.mkdir()
    target = dotfiles / "model-routing.md"
    target.write_text("one")
    link = config / "model-routing.md"
    link.symlink_to(target)
    calls: list[str] = []

    async def scenario() -> None:
        async def changed() -> None:
            calls.append(link.read_text())

        watcher = FileWatcher(link, changed, debounce_s=0.05)
        await watcher.start()
        try:
            (config / "other.md").write_text("x")  # a neighbour: no call
            (dotfiles / "notes.md").write_text("x")
            await asyncio.sleep(0.5)
            assert calls == []
            target.write_text("two")  # the link's target, edited in its own folder
            for _ in range(100):
                await asyncio.sleep(0.05)
                if calls:
                    break
            await asyncio.sleep(0.3)
        finally:
            await watcher.stop()

    asyncio.run(scenario())
    assert calls == ["two"]


def test_a_reaction_that_fails_does_not_stop_the_watching(tmp_path: Path) -> None:
    path = tmp_path / "model-routing.md"
    path.write_text("one")
    seen: list[str] = []

    async def scenario() -> None:
        async def changed() -> None:
            seen.append(path.read_text())
            if len(seen) == 1:
                raise RuntimeError("boom")

        watcher = FileWatcher(path, changed, debounce_s=0.05)
        await watcher.start()
        try:
            path.write_text("two")
            for _ in range(100):
                await asyncio.sleep(0.05)
                if seen:
                    break
            await asyncio.sleep(0.3)
            path.write_text("three")
            for _ in range(100):
                await asyncio.sleep(0.05)
                if len(seen) > 1:
                    break
        finally:
            await watcher.stop()

    asyncio.run(scenario())
    assert seen[0] == "two" and seen[-1] == "three"

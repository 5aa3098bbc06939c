"""The call that starts the daemon (socket activation) is answered before the background
services load (issue 24): the inbox, batches, scheduled jobs and file watchers start
`--background-after` seconds after serving begins. A real daemon, whose imports are watched
from inside it by an audit hook; endpoints that need those services wait for them; a save
of the routing file made before the watch began is read once it does."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.app import start_app
from support.daemon import cloud_env, remove_home, short_home, start_daemon
from support.fakes import FakeAnthropic, FakeOpenAI
from test_lazy_sdks import HOOK

# The inbox's package is imported by importlib (no audit event): its modules are seen.
LATER = (
    "apscheduler",
    "watchdog",
    "cortexd.batch",
    "cortexd.capture._inbox",
    "cortexd.daemon.schedule",
)


def _watching(tmp_path: Path) -> tuple[dict[str, str], Path]:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK.format(watched=set(LATER)))
    log = tmp_path / "imports.log"
    return {"PYTHONPATH": str(hook), "CORTEX_TEST_IMPORT_LOG": str(log)}, log


def _imported(log: Path) -> set[str]:
    return {line.split()[1] for line in log.read_text().splitlines()} if log.exists() else set()


def test_the_first_call_is_answered_before_the_background_services_load(tmp_path: Path) -> None:
    env, log = _watching(tmp_path)
    home = short_home()
    with FakeAnthropic() as anthropic, FakeOpenAI() as openai:
        daemon = start_daemon(home, cloud_env(anthropic, openai) | env, "--background-after", "3")
        try:
            client = daemon.client()
            body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
            assert client.post("/v1/chat/completions", json=body).status_code == 200
            health = client.get("/v1/health").json()
            assert _imported(log) == set()
            assert health["background_started"] is False and health["jobs"] == {}
            # An endpoint of the batches waits for them, then answers.
            started = time.monotonic()
            assert client.get("/v1/cortex/batches").status_code == 200
            assert time.monotonic() - started < 10
            while not _imported(log) >= set(LATER):  # the inbox's modules load in a thread
                assert time.monotonic() - started < 10, _imported(log)
                time.sleep(0.05)
            health = client.get("/v1/health").json()
            assert health["background_started"] is True
            assert {"budget-check", "hardware-probe", "weekly-review"} <= set(health["jobs"])
        finally:
            daemon.stop()
            remove_home(home)


def test_a_save_before_the_watch_begins_is_read_when_it_does() -> None:
    home = short_home()
    with FakeAnthropic() as anthropic, FakeOpenAI() as openai:
        daemon = start_daemon(home, cloud_env(anthropic, openai), "--background-after", "2")
        try:
            client = daemon.client()
            first = client.get("/v1/health").json()
            assert first["background_started"] is False
            path = Path(first["routing_file"]["path"])
            text = path.read_text(encoding="utf-8")
            path.write_text(
                text.replace("| Bulk operations | haiku |", "| Bulk operations | sonnet |")
            )
            deadline = time.monotonic() + 15
            while client.get("/v1/health").json()["routing_file"]["generation"] < 2:
                assert time.monotonic() < deadline, "the save was never read"
                time.sleep(0.1)
            plan = client.post(
                "/v1/route",
                json={
                    "model": "task:Bulk operations",
                    "messages": [{"role": "user", "content": "tag these"}],
                },
            ).json()
            assert plan["chain"][0] == "sonnet"
        finally:
            daemon.stop()
            remove_home(home)


def test_a_background_service_that_cannot_start_leaves_the_calls_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    home = short_home()
    (home / "context").mkdir(parents=True)
    (home / "context" / "queue").write_text("a file where the queue's folder goes\n")
    with FakeAnthropic() as anthropic, FakeOpenAI() as openai:
        app = start_app(home, cloud_env(anthropic, openai))
        try:
            client = app.client()
            deadline = time.monotonic() + 10
            while "the queue of coding tasks stopped" not in caplog.text:
                assert time.monotonic() < deadline, caplog.text[-2000:]
                time.sleep(0.05)
            body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
            assert client.post("/v1/chat/completions", json=body).status_code == 200
            assert client.get("/v1/health").json()["background_started"] is True
        finally:
            app.stop()
            remove_home(home)

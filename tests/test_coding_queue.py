"""The queue of coding tasks (issue 23): a file in queue/ is answered once, by the tool the
routing file's "dispatched from queue" row names (Codex), and filed beside the task."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.app import App, start_app
from support.cli import cortex
from support.daemon import cloud_env, remove_home
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn
from support.waiting import wait_for

ANSWER = "Here it is:\n\n```python\ndef seconds(d: str) -> int:\n    return 0\n```\n"
TASK = "Write a Python function that parses ISO 8601 durations like P1DT2H into seconds."


@pytest.fixture
def running() -> Iterator[tuple[App, FakeOpenAI]]:
    with FakeAnthropic() as anthropic, FakeOpenAI() as openai:
        app = start_app(env=cloud_env(anthropic, openai))
        try:
            yield app, openai
        finally:
            app.stop()
            remove_home(app.home)


def _queue(app: App) -> Path:
    return app.home / "context" / "queue"


def _codex_calls(openai: FakeOpenAI) -> list[str]:
    return [r.json["model"] for r in openai.requests if r.path == "/v1/responses"]


def test_a_dropped_coding_task_is_answered_once_by_codex_and_filed_beside_it(
    running: tuple[App, FakeOpenAI],
) -> None:
    app, openai = running
    openai.enqueue(Fault.status(500), Turn(text=ANSWER))  # a failure first: sent again
    queue = _queue(app)
    wait_for(lambda: queue.is_dir(), "the queue folder")
    (queue / "fix-durations.md").write_text(TASK)
    answer = queue / "done" / "fix-durations.answer.md"
    wait_for(answer.exists, "the answer", timeout=30)
    wait_for(lambda: (queue / "done" / "fix-durations.md").exists(), "the task moved")
    text = answer.read_text()
    assert text.startswith("# Answer to fix-durations.md\n")
    assert "- model: codex (gpt-5.3-codex, openai)" in text
    assert text.endswith(ANSWER)  # the code block as the model wrote it
    assert _codex_calls(openai)[-1] == "gpt-5.3-codex"
    time.sleep(1.5)  # several more looks at the folder: nothing is sent again
    assert len(_codex_calls(openai)) <= 2 and not any(queue.glob("*.md"))
    assert oct(answer.stat().st_mode & 0o777) == "0o600"


def test_a_restart_finishes_what_a_kill_left_without_asking_twice(tmp_path: Path) -> None:
    with FakeAnthropic() as anthropic, FakeOpenAI() as openai:
        app = start_app(env=cloud_env(anthropic, openai))
        home = app.home
        app.stop()
        queue = home / "context" / "queue"
        # Killed after the answer was written, before the task moved: nothing to ask.
        (queue / ".running" / "answered.md").write_text(TASK)
        (queue / "done" / "answered.answer.md").write_text("# Answer to answered.md\n")
        # Killed while asking: asked again.
        (queue / ".running" / "asking.md").write_text(TASK)
        again = start_app(home, env=cloud_env(anthropic, openai))
        try:
            wait_for(lambda: (queue / "done" / "asking.md").exists(), "the task answered")
            wait_for(lambda: (queue / "done" / "answered.md").exists(), "the task moved")
            assert len(_codex_calls(openai)) == 1
            assert (queue / "done" / "answered.answer.md").read_text() == (
                "# Answer to answered.md\n"
            )
        finally:
            again.stop()
            remove_home(home)


def test_cortex_queue_add_sends_the_task_and_its_files(
    running: tuple[App, FakeOpenAI], tmp_path: Path
) -> None:
    app, openai = running
    source = tmp_path / "duration.py"
    source.write_text("def seconds(d):\n    pass\n")
    ran = cortex(app.socket, "queue", "add", "finish seconds()", "--file", str(source), "--json")
    assert ran.returncode == 0, ran.stderr
    name = json.loads(ran.stdout)["name"]
    answer = _queue(app) / "done" / f"{Path(name).stem}.answer.md"
    wait_for(answer.exists, "the answer", timeout=30)
    sent = [r.json for r in openai.requests if r.path == "/v1/responses"][-1]
    assert "finish seconds()" in json.dumps(sent) and "def seconds(d):" in json.dumps(sent)
    listed = cortex(app.socket, "queue")
    assert f"done (1)\n  {name}" in listed.stdout


def test_a_task_that_cannot_be_read_is_failed_with_its_reason(
    running: tuple[App, FakeOpenAI],
) -> None:
    app, openai = running
    queue = _queue(app)
    wait_for(lambda: queue.is_dir(), "the queue folder")
    (queue / "binary.md").write_bytes(b"\xff\xfe\x00bad")
    os.symlink("/etc/passwd", queue / "link.md")
    reason = queue / "failed" / "binary.md.reason.txt"
    wait_for(reason.exists, "the failure")
    assert reason.read_text() == "not UTF-8 text\n"
    time.sleep(1.2)
    assert (queue / "link.md").is_symlink()  # a link is never taken
    assert _codex_calls(openai) == []

"""What the batch tests share: starting a batch over the API, waiting for its end, reading
its output, and writing a line in OpenAI's batch form."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from support.app import App, start_app
from support.daemon import cloud_env, remove_home
from support.fakes import FakeAnthropic, FakeOpenAI


@contextlib.contextmanager
def cloud_app() -> Iterator[tuple[App, FakeAnthropic, FakeOpenAI]]:
    """cortexd in-process, both cloud providers pointed at fakes; stopped and removed after."""
    with FakeAnthropic() as anthropic, FakeOpenAI() as openai:
        app = start_app(env=cloud_env(anthropic, openai))
        try:
            yield app, anthropic, openai
        finally:
            app.stop()
            remove_home(app.home)


def start_batch(app: App, source: Path, output: Path, **more: Any) -> dict[str, Any]:
    """``POST /v1/cortex/batches``; the new batch's summary (it must be accepted)."""
    with app.client() as http:
        answer = http.post(
            "/v1/cortex/batches", json={"input": str(source), "output": str(output), **more}
        )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def wait_done(app: App, batch_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """The batch's summary once it is no longer running."""
    now: dict[str, Any] = {}
    with app.client() as http:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = http.get(f"/v1/cortex/batches/{batch_id}").json()
            if now["state"] != "running":
                return now
            time.sleep(0.1)
    raise AssertionError(f"batch {batch_id} still running: {now}")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """A JSON Lines file's objects."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def openai_line(custom_id: str, url: str, body: dict[str, Any]) -> str:
    """One line in OpenAI's batch input form."""
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": body})

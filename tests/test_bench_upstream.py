"""The benchmarks' fake upstream speaks both wire formats well enough for the official SDKs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.upstream", "--delay", "0.001"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    assert line.startswith("port "), line
    yield f"http://127.0.0.1:{line.split()[1]}"
    process.terminate()
    process.wait(10)
    process.stdout.close()


MESSAGES = [{"role": "user", "content": "hi"}]


def test_openai_json_and_stream(upstream: str) -> None:
    with openai.OpenAI(base_url=f"{upstream}/v1", api_key="sk-test", max_retries=0) as client:
        answer = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
        assert answer.choices[0].message.content == "The answer is 42."
        assert answer.usage is not None and answer.usage.completion_tokens == 5
        chunks = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "The answer is 42."


def test_anthropic_json_and_stream(upstream: str) -> None:
    with anthropic.Anthropic(base_url=upstream, api_key="sk-test", max_retries=0) as client:
        message = client.messages.create(model="claude-x", max_tokens=8, messages=MESSAGES)  # type: ignore[arg-type]
        assert message.content[0].text == "The answer is 42."  # type: ignore[union-attr]
        assert message.stop_reason == "end_turn"
        with client.messages.stream(model="claude-x", max_tokens=8, messages=MESSAGES) as events:  # type: ignore[arg-type]
            assert "".join(events.text_stream) == "The answer is 42."
            assert events.get_final_message().usage.output_tokens == 5


def test_an_unknown_path_is_a_404(upstream: str) -> None:
    import httpx2

    answer = httpx2.post(f"{upstream}/v1/nothing", json={})
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "invalid_request_error"

"""The benchmarks' fake upstream speaks its three wire formats well enough for the official
SDKs: Chat Completions, Responses and Messages, JSON and streamed, with the providers' real
event sequences."""

from __future__ import annotations

import json
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


def test_anthropic_streams_the_real_event_sequence_with_a_ping(upstream: str) -> None:
    # The SDK's stream drops pings, so the events are read off the wire through the SDK.
    with (
        anthropic.Anthropic(base_url=upstream, api_key="sk-test", max_retries=0) as client,
        client.messages.with_streaming_response.create(
            model="claude-x", max_tokens=8, messages=MESSAGES, stream=True  # type: ignore[arg-type]
        ) as response,
    ):
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["request-id"] == "req_bench"
        lines = list(response.iter_lines())
    names = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 5,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    data = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
    assert [d["type"] for d in data] == names  # each event's name is its data's type


RESPONSE_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    *["response.output_text.delta"] * 5,
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def test_responses_json(upstream: str) -> None:
    with openai.OpenAI(base_url=f"{upstream}/v1", api_key="sk-test", max_retries=0) as client:
        raw = client.responses.with_raw_response.create(model="gpt-4o", input="hi")
        assert raw.headers["x-request-id"] == "req_bench"
        answer = raw.parse()
    assert answer.status == "completed"
    assert answer.model == "gpt-4o"
    assert answer.output_text == "The answer is 42."
    assert answer.usage is not None
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (12, 5)


def test_responses_stream_sends_the_real_event_sequence(upstream: str) -> None:
    with openai.OpenAI(base_url=f"{upstream}/v1", api_key="sk-test", max_retries=0) as client:
        events = list(client.responses.create(model="gpt-4o", input="hi", stream=True))
    assert [e.type for e in events] == RESPONSE_EVENTS
    assert [e.sequence_number for e in events] == list(range(len(RESPONSE_EVENTS)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "The answer is 42."
    created, completed = events[0], events[-1]
    assert created.type == "response.created" and created.response.status == "in_progress"
    assert created.response.usage is None and created.response.output == []
    assert completed.type == "response.completed" and completed.response.status == "completed"
    assert completed.response.usage is not None and completed.response.usage.output_tokens == 5
    assert completed.response.output_text == "The answer is 42."


def test_responses_stream_through_the_sdks_accumulator(upstream: str) -> None:
    # `responses.stream` rebuilds the response event by event and refuses an event out of place.
    with (
        openai.OpenAI(base_url=f"{upstream}/v1", api_key="sk-test", max_retries=0) as client,
        client.responses.stream(model="gpt-4o", input="hi") as stream,
    ):
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "The answer is 42."
    assert final.output_text == "The answer is 42."
    assert final.usage is not None and final.usage.total_tokens == 17


def test_an_unknown_path_is_a_404(upstream: str) -> None:
    import httpx2

    answer = httpx2.post(f"{upstream}/v1/nothing", json={})
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "invalid_request_error"

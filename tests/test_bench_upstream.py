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
            model="claude-x",
            max_tokens=8,
            messages=MESSAGES,
            stream=True,  # type: ignore[arg-type]
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


# Faults (benchmarks/faults.py): asked for by a header, or by a marker in the body that
# names the model it applies to.

SHORT = 0.3  # seconds a test waits to see that nothing more comes


def _events(upstream: str, path: str, body: dict[str, object], **headers: str) -> list[str]:
    """The event names (or, for Chat Completions, the data lines) a stream sends before it
    stops moving for `SHORT` seconds; then the connection is dropped."""
    import httpx2

    seen: list[str] = []
    timeout = httpx2.Timeout(5, read=SHORT)
    with (
        httpx2.Client(timeout=timeout) as client,
        client.stream("POST", f"{upstream}{path}", json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        with pytest.raises(httpx2.ReadTimeout):
            for line in response.iter_lines():
                if line.startswith("event: "):
                    seen.append(line.removeprefix("event: "))
                elif line.startswith("data: ") and "/chat/" in path:
                    seen.append(line.removeprefix("data: "))
    return seen


def _broken(upstream: str, path: str, body: dict[str, object]) -> list[str]:
    """What a stream sends before its connection is closed without the stream's end."""
    import httpx2

    lines: list[str] = []
    with (
        httpx2.Client(timeout=5) as client,
        client.stream("POST", f"{upstream}{path}", json=body) as response,
    ):
        assert response.status_code == 200
        with pytest.raises(httpx2.RemoteProtocolError):
            lines.extend(response.iter_lines())
    return [line for line in lines if line]


def _marked(fault: str, model: str) -> list[dict[str, str]]:
    """A prompt carrying the marker that makes requests for `model` fail so."""
    return [{"role": "user", "content": f"hi (bench-fault:{fault}:{model}) there"}]


def test_a_hang_sends_nothing(upstream: str) -> None:
    import httpx2

    with pytest.raises(httpx2.ReadTimeout):
        httpx2.post(
            f"{upstream}/v1/chat/completions",
            json={"model": "gpt-4o", "messages": MESSAGES},
            headers={"x-bench-fault": "hang"},
            timeout=httpx2.Timeout(5, read=SHORT),
        )


def test_a_stall_sends_each_wire_formats_opening_event_then_nothing(upstream: str) -> None:
    chat = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
    [role] = _events(upstream, "/v1/chat/completions", chat, **{"x-bench-fault": "stall"})
    assert json.loads(role)["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    messages = {"model": "claude-x", "max_tokens": 8, "messages": MESSAGES, "stream": True}
    assert _events(upstream, "/v1/messages", messages, **{"x-bench-fault": "stall"}) == [
        "message_start"
    ]
    responses = {"model": "gpt-5.3-codex", "input": "hi", "stream": True}
    assert _events(upstream, "/v1/responses", responses, **{"x-bench-fault": "stall"}) == [
        "response.created"
    ]


def test_an_overload_is_anthropics_529_and_openais_503(upstream: str) -> None:
    with anthropic.Anthropic(base_url=upstream, api_key="sk-test", max_retries=0) as client:
        with pytest.raises(anthropic.APIStatusError) as raised:
            client.messages.create(
                model="claude-x", max_tokens=8, messages=MESSAGES,  # type: ignore[arg-type]
                extra_headers={"x-bench-fault": "overload"},
            )  # fmt: skip
        assert raised.value.status_code == 529
        assert raised.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
        # The connection stays usable: the next call on it is answered.
        message = client.messages.create(model="claude-x", max_tokens=8, messages=MESSAGES)  # type: ignore[arg-type]
        assert message.content[0].text == "The answer is 42."  # type: ignore[union-attr]
    with openai.OpenAI(base_url=f"{upstream}/v1", api_key="sk-test", max_retries=0) as oai:
        with pytest.raises(openai.APIStatusError) as failed:
            oai.responses.create(
                model="gpt-4o", input="hi", extra_headers={"x-bench-fault": "overload"}
            )
        assert failed.value.status_code == 503


def test_a_break_cuts_each_stream_after_two_words(upstream: str) -> None:
    chat = _broken(
        upstream, "/v1/chat/completions",
        {"model": "m1", "messages": _marked("break", "m1"), "stream": True},
    )  # fmt: skip
    deltas = [json.loads(line[6:])["choices"][0]["delta"] for line in chat]
    assert [d.get("content") for d in deltas] == ["", "The", " answer"]
    messages = _broken(
        upstream, "/v1/messages",
        {"model": "m1", "max_tokens": 8, "messages": _marked("break", "m1"), "stream": True},
    )  # fmt: skip
    names = [line[7:] for line in messages if line.startswith("event: ")]
    assert names == ["message_start", "content_block_start", "ping", *["content_block_delta"] * 2]
    responses = _broken(
        upstream, "/v1/responses",
        {"model": "m1", "input": "bench-fault:break:m1", "stream": True},
    )  # fmt: skip
    names = [line[7:] for line in responses if line.startswith("event: ")]
    assert names[-2:] == ["response.output_text.delta"] * 2 and len(names) == 6


def test_a_broken_json_answer_ends_half_way(upstream: str) -> None:
    with (
        openai.OpenAI(base_url=f"{upstream}/v1", api_key="sk-test", max_retries=0) as client,
        pytest.raises(openai.APIConnectionError),
    ):
        client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES,  # type: ignore[arg-type]
            extra_headers={"x-bench-fault": "break"},
        )  # fmt: skip


def test_a_marker_fails_only_the_model_it_names(upstream: str) -> None:
    # A router sends the same prompt to the fallback: only the named model fails.
    with openai.OpenAI(base_url=f"{upstream}/v1", api_key="sk-test", max_retries=0) as client:
        with pytest.raises(openai.APIStatusError) as failed:
            client.chat.completions.create(
                model="gpt-4o",
                messages=_marked("overload", "gpt-4o"),  # type: ignore[arg-type]
            )
        assert failed.value.status_code == 503
        answer = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=_marked("overload", "gpt-4o"),  # type: ignore[arg-type]
        )
        assert answer.choices[0].message.content == "The answer is 42."
        # A full stop after the marker is not part of the model id.
        text = [{"role": "user", "content": "bench-fault:overload:gpt-5.3-codex."}]
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model="gpt-5.3-codex", messages=text)  # type: ignore[arg-type]


def test_an_unknown_fault_is_a_400(upstream: str) -> None:
    import httpx2

    answer = httpx2.post(
        f"{upstream}/v1/chat/completions",
        json={"model": "gpt-4o", "messages": MESSAGES},
        headers={"x-bench-fault": "explode"},
    )
    assert answer.status_code == 400 and "explode" in answer.json()["error"]["message"]

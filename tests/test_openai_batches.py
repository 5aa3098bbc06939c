"""cortexd's OpenAI-compatible Files and Batch APIs, driven by the official openai SDK: a
script written for OpenAI's batches points at cortexd and has every line routed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import openai
import pytest
from support.app import App, start_app
from support.daemon import cloud_env, remove_home
from support.fakes import FakeAnthropic, FakeOpenAI


@pytest.fixture(scope="module")
def app() -> Iterator[App]:
    with FakeAnthropic() as anthropic, FakeOpenAI() as upstream:
        running = start_app(env=cloud_env(anthropic, upstream))
        yield running
        running.stop()
        remove_home(running.home)


@pytest.fixture
def sdk(app: App) -> Iterator[openai.OpenAI]:
    client = app.sdk()
    yield client
    client.close()


def _line(custom_id: str, model: str, text: str) -> str:
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    return json.dumps(
        {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
    )


def _finished(sdk: openai.OpenAI, batch_id: str) -> openai.types.Batch:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        batch = sdk.batches.retrieve(batch_id)
        if batch.status not in ("validating", "in_progress", "finalizing"):
            return batch
        time.sleep(0.1)
    raise AssertionError(f"batch {batch_id} did not finish")


def test_the_sdks_batch_methods_run_a_batch_routed_by_the_routing_file(
    sdk: openai.OpenAI,
) -> None:
    lines = [
        _line("a", "haiku", "Summarize: Alice shipped login, Bob is blocked"),
        _line("b", "auto", "write a haiku about autumn"),
        _line("c", "no-such-model", "hello"),
    ]
    uploaded = sdk.files.create(file=("in.jsonl", "\n".join(lines).encode()), purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.bytes == len("\n".join(lines).encode())
    assert sdk.files.content(uploaded.id).text == "\n".join(lines)
    batch = sdk.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"job": "nightly"},
    )
    assert batch.status == "in_progress" and batch.request_counts.total == 3  # type: ignore[union-attr]
    done = _finished(sdk, batch.id)
    assert done.status == "completed" and done.metadata == {"job": "nightly"}
    assert (done.request_counts.completed, done.request_counts.failed) == (2, 1)  # type: ignore[union-attr]
    assert done.output_file_id and done.error_file_id
    output = [json.loads(x) for x in sdk.files.content(done.output_file_id).text.splitlines()]
    errors = [json.loads(x) for x in sdk.files.content(done.error_file_id).text.splitlines()]
    assert [o["custom_id"] for o in output] == ["a", "b"]
    assert output[0]["response"]["body"]["model"] == "claude-haiku-5-5"
    # Routed by the routing file: "Content drafting" is sonnet's.
    assert output[1]["cortex"]["model"] == "sonnet"
    assert [e["custom_id"] for e in errors] == ["c"]
    assert errors[0]["response"]["status_code"] == 400
    assert "unknown model 'no-such-model'" in errors[0]["response"]["body"]["error"]["message"]
    # Asked again, the same files.
    again = sdk.batches.retrieve(batch.id)
    assert (again.output_file_id, again.error_file_id) == (done.output_file_id, done.error_file_id)
    assert batch.id in [b.id for b in sdk.batches.list()]
    ids = {f.id for f in sdk.files.list()}
    assert {uploaded.id, done.output_file_id, done.error_file_id} <= ids
    assert sdk.files.delete(uploaded.id).deleted
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(uploaded.id)


def test_a_batch_that_cannot_start_is_refused_in_openais_shape(sdk: openai.OpenAI) -> None:
    uploaded = sdk.files.create(
        file=("in.jsonl", _line("a", "haiku", "hi").encode()), purpose="batch"
    )
    with pytest.raises(openai.BadRequestError, match="endpoint must be one of"):
        sdk.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/completions", completion_window="24h"
        )  # type: ignore[arg-type]
    with pytest.raises(openai.NotFoundError, match="no file"):
        sdk.batches.create(
            input_file_id="file-" + "0" * 24,
            endpoint="/v1/chat/completions",
            completion_window="24h",
        )
    with pytest.raises(openai.NotFoundError):
        sdk.batches.retrieve("batch_nothing")
    with pytest.raises(openai.BadRequestError, match="purpose"):
        sdk.files.create(file=("in.jsonl", b"{}"), purpose="fine-tune")


@pytest.mark.parametrize("file_id", ["..%2F..%2Fstate%2Fledger.sqlite3", "file-../../x", "file-"])
def test_a_file_id_is_never_a_path(app: App, file_id: str) -> None:
    with app.client() as http:
        answer = http.get(f"/v1/files/{file_id}/content")
    assert answer.status_code == 404 and not answer.content.startswith(b"SQLite format")

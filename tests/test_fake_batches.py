"""The fakes' batch APIs — Anthropic's Message Batches, OpenAI's Files and Batch — driven by
the official SDKs' batch methods: the wire the daemon's provider batches (issue 23) will be
tested against."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as running:
        yield running


def _client(fake: FakeAnthropic) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=fake.base_url, max_retries=0)


def _request(custom_id: str, text: str) -> dict[str, object]:
    params = {
        "model": "claude-haiku-5-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": text}],
    }
    return {"custom_id": custom_id, "params": params}


def test_a_batch_is_in_progress_until_polled_then_its_results_come_by_custom_id(
    fake: FakeAnthropic,
) -> None:
    fake.enqueue(Turn(text="first"), Fault.status(529), Turn(text="third"))
    fake.message_batches.polls = 2
    client = _client(fake)
    batch = client.messages.batches.create(
        requests=[_request("a", "one"), _request("b", "two"), _request("c", "three")]  # type: ignore[list-item]
    )
    assert batch.processing_status == "in_progress" and batch.request_counts.processing == 3
    # The SDK retrieves the batch for its results_url: that is the first of the two polls.
    with pytest.raises(anthropic.AnthropicError, match="results_url"):
        list(client.messages.batches.results(batch.id))  # not ended: no results yet
    seen = [client.messages.batches.retrieve(batch.id).processing_status for _ in range(2)]
    assert seen == ["in_progress", "ended"]
    ended = client.messages.batches.retrieve(batch.id)
    assert (ended.request_counts.succeeded, ended.request_counts.errored) == (2, 1)
    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert results["a"].type == "succeeded" and results["a"].message.content[0].text == "first"  # type: ignore[union-attr]
    assert results["b"].type == "errored"
    assert results["b"].error.error.type == "overloaded_error"  # type: ignore[union-attr]
    assert fake.message_batches.created[0]["c"]["messages"][0]["content"] == "three"  # type: ignore[index]
    assert batch.id in [b.id for b in client.messages.batches.list()]


@pytest.mark.parametrize("ending", ["canceled", "expired"])
def test_a_batch_ended_early_leaves_its_unfinished_requests_so(
    fake: FakeAnthropic, ending: str
) -> None:
    client = _client(fake)
    batch = client.messages.batches.create(
        requests=[_request(f"r{i}", "x") for i in range(4)]  # type: ignore[misc]
    )
    if ending == "canceled":
        assert client.messages.batches.cancel(batch.id).processing_status == "ended"
    else:
        fake.message_batches.expire(batch.id)
    ended = client.messages.batches.retrieve(batch.id)
    assert getattr(ended.request_counts, ending) == 2 and ended.request_counts.succeeded == 2
    kinds = [r.result.type for r in client.messages.batches.results(batch.id)]
    assert kinds == ["succeeded", "succeeded", ending, ending]


def test_a_bad_batch_is_refused_as_the_api_refuses_it(fake: FakeAnthropic) -> None:
    client = _client(fake)
    with pytest.raises(anthropic.BadRequestError):
        client.messages.batches.create(requests=[_request("a", "x"), _request("a", "y")])  # type: ignore[list-item]
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve("msgbatch_none")


def _openai_line(custom_id: str, text: str) -> str:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    return json.dumps(
        {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
    )


def test_the_fake_openai_runs_a_batch_from_an_uploaded_file(openai_fake: FakeOpenAI) -> None:
    openai_fake.enqueue(Turn(text="one"), Fault.status(500), Turn(text="three"))
    openai_fake.batches.polls = 1
    client = openai.OpenAI(api_key="sk-test", base_url=openai_fake.base_url, max_retries=0)
    data = "\n".join(_openai_line(c, c) for c in ("a", "b", "c")).encode()
    uploaded = client.files.create(file=("in.jsonl", data), purpose="batch")
    assert uploaded.bytes == len(data) and client.files.content(uploaded.id).content == data
    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"cortex_submission": "k1"},
    )
    assert batch.status == "in_progress"
    assert client.batches.retrieve(batch.id).status == "in_progress"
    done = client.batches.retrieve(batch.id)
    assert done.status == "completed" and done.metadata == {"cortex_submission": "k1"}
    counts = done.request_counts
    assert counts is not None and (counts.total, counts.completed, counts.failed) == (3, 2, 1)
    assert done.output_file_id and done.error_file_id
    output = [json.loads(x) for x in client.files.content(done.output_file_id).text.splitlines()]
    errors = [json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()]
    assert [
        (o["custom_id"], o["response"]["body"]["choices"][0]["message"]["content"]) for o in output
    ] == [("a", "one"), ("c", "three")]
    assert errors[0]["custom_id"] == "b" and errors[0]["response"]["status_code"] == 500
    assert batch.id in [b.id for b in client.batches.list()]


@pytest.mark.parametrize("ending", ["cancelled", "expired"])
def test_a_fake_openai_batch_ended_early_files_only_what_was_done(
    openai_fake: FakeOpenAI, ending: str
) -> None:
    client = openai.OpenAI(api_key="sk-test", base_url=openai_fake.base_url, max_retries=0)
    data = "\n".join(_openai_line(f"r{i}", "x") for i in range(4)).encode()
    uploaded = client.files.create(file=("in.jsonl", data), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    if ending == "cancelled":
        client.batches.cancel(batch.id)
    else:
        openai_fake.batches.expire(batch.id)
    ended = client.batches.retrieve(batch.id)
    assert ended.status == ending and ended.request_counts.completed == 2  # type: ignore[union-attr]
    assert ended.output_file_id is not None
    lines = client.files.content(ended.output_file_id).text.splitlines()
    assert [json.loads(x)["custom_id"] for x in lines] == ["r0", "r1"]

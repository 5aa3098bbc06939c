"""The fake Anthropic's Message Batches, driven by the official anthropic SDK's batch methods:
the wire the daemon's provider batches (issue 23) will be tested against."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest
from support.fakes import FakeAnthropic, Fault, Turn


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

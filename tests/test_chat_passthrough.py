"""Chat Completions to the OpenAI model the client named: the body as written (only `model`
changed), OpenAI's answer as sent, with the cortex block added; `auto` is translated."""

from __future__ import annotations

import json

import openai
from support.app import App
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn

from cortexd.routing.dispatch import ModelHealth


def _reset(app: App) -> None:
    app.services.dispatcher.health = ModelHealth(app.services.dispatcher.clock)


def test_a_named_openai_model_gets_the_body_as_written_and_its_answer_as_sent(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _, fake = fresh
    fake.enqueue(Turn(text="Hello.", input_tokens=11, output_tokens=2))
    completion = sdk.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        max_tokens=20,
        seed=7,
        extra_body={"cortex": {"project": "p"}, "a_new_openai_field": {"x": [1, 2]}},
    )
    sent = json.loads(fake.requests[-1].body)
    assert sent["seed"] == 7 and sent["a_new_openai_field"] == {"x": [1, 2]}
    assert sent["messages"][0]["role"] == "developer" and sent["max_tokens"] == 20
    assert "cortex" not in sent  # cortexd's own extension never leaves it
    assert completion.choices[0].message.content == "Hello."
    cortex = (completion.model_extra or {})["cortex"]
    assert cortex["model"] == "gpt-4o" and cortex["provider"] == "openai"
    assert completion.system_fingerprint == "fp_fake0001"  # OpenAI's own fields survive


def test_a_passed_through_stream_keeps_usage_for_the_ledger_but_shows_it_only_when_asked(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _, fake = fresh
    fake.enqueue(Turn(text="one two three", input_tokens=9, output_tokens=3))
    chunks = list(
        sdk.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "count"}], stream=True
        )
    )
    sent = json.loads(fake.requests[-1].body)
    assert sent["stream_options"] == {"include_usage": True}  # the ledger's, not the client's
    assert all(c.choices for c in chunks)  # no usage-only chunk the client did not ask for
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "one two three"
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert (last.model_extra or {})["cortex"]["model"] == "gpt-4o"
    row = app.client().get("/v1/calls", params={"limit": 1}).json()["data"][-1]
    assert row["model"] == "gpt-4o" and row["outcome"] == "ok"
    assert row["input_tokens"] == 9 and row["output_tokens"] == 3


def test_a_client_that_asks_for_usage_gets_openais_usage_chunk(
    sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _, fake = fresh
    fake.enqueue(Turn(text="ok", input_tokens=5, output_tokens=1))
    chunks = list(
        sdk.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 5


def test_auto_is_translated_for_whichever_model_answers(
    sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="summary"))
    sdk.chat.completions.create(
        model="task:Meeting summary",
        messages=[{"role": "user", "content": "Summarize: we met."}],
        extra_body={"a_new_openai_field": 1},
    )
    sent = json.loads(anthropic_fake.requests[-1].body)
    assert "a_new_openai_field" not in sent and sent["messages"][0]["role"] == "user"


def test_a_passed_through_stream_falls_back_unseen_before_content(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _reset(app)
    _, fake = fresh
    fake.enqueue(Fault.status(500), Turn(text="second try"))
    chunks = list(
        sdk.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "second try"
    _reset(app)

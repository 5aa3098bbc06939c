"""Session overrides, re-answers and unknown models through the daemon's front-ends: Chat
Completions (the official openai SDK), ``POST /v1/route`` and ``cortex route`` — the real
application with fake providers behind it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
from support.app import App
from support.cli import cortex
from support.fakes import FakeAnthropic, FakeOpenAI, Turn


def _chat(*turns: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for i, text in enumerate(turns):
        if i:
            messages.append({"role": "assistant", "content": f"answer {i}"})
        messages.append({"role": "user", "content": text})
    return messages


def test_a_session_override_answers_the_later_turns(
    sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="a proof"))
    completion = sdk.chat.completions.create(
        model="auto",
        messages=_chat("stick with haiku for this chat", "2+2?", "prove it"),  # type: ignore[arg-type]
    )
    cortex_block = (completion.model_extra or {})["cortex"]
    assert (cortex_block["model"], cortex_block["decided_by"]) == ("haiku", "override")
    sent = json.loads(anthropic_fake.requests[-1].body)
    assert sent["messages"][-1]["content"] in ("prove it", [{"type": "text", "text": "prove it"}])


def test_redo_re_answers_the_previous_request_afresh(
    sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _, openai_fake = fresh
    openai_fake.enqueue(Turn(text="a better limerick"))
    completion = sdk.chat.completions.create(
        model="auto",
        messages=_chat("write a limerick about a cat", "redo that with gpt-4o"),  # type: ignore[arg-type]
    )
    assert (completion.model_extra or {})["cortex"]["model"] == "gpt-4o"
    sent = json.loads(openai_fake.requests[-1].body)
    assert [m["content"] for m in sent["messages"]] == ["write a limerick about a cat"]


def test_a_model_the_routing_file_lacks_is_warned_of_in_the_answer(
    sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    for fake in (anthropic_fake, openai_fake):
        fake.enqueue(Turn(text="the revolution, briefly"))
    prompt = "use gemini for this: summarise the French revolution in 3 lines"
    completion = sdk.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": prompt}]
    )
    cortex_block = (completion.model_extra or {})["cortex"]
    assert any("'gemini'" in w for w in cortex_block["warnings"])
    assert cortex_block["decided_by"] != "override"
    sent = [r for fake in fresh for r in fake.requests]
    assert prompt in sent[-1].body.decode()  # the directive stays in the prompt


def test_the_route_endpoint_says_which_turn_decided(app: App) -> None:
    body = {"model": "auto", "messages": _chat("from now on use codex", "hi", "sort this list")}
    plan = app.client().post("/v1/route", json=body).json()
    assert plan["primary"] == "codex"
    assert plan["override"] == {
        "model": "codex", "phrase": "from now on use codex", "scope": "session", "turn": 1,
    }  # fmt: skip
    assert any("turn 1 of 3" in r for r in plan["reasons"])


def test_cortex_route_reads_a_conversation_from_a_file_and_stdin(app: App, tmp_path: Path) -> None:
    conversation = {"messages": _chat("from now on use codex", "hi", "sort this list")}
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(conversation))
    ran = cortex(app.socket, "route", "--conversation", str(path), "--json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["override"]["turn"] == 1
    ran = cortex(app.socket, "route", "--conversation", "-", stdin=json.dumps(_chat("x", "y")))
    assert ran.returncode == 0 and "task:" in ran.stdout


def test_cortex_route_says_what_is_wrong_with_a_bad_conversation(app: App, tmp_path: Path) -> None:
    for text, said in [
        ("{not json", "not JSON"),
        ('{"messages": []}', "a list of messages"),
        ('[{"content": "hi"}]', "message 1 needs a 'role'"),
    ]:
        ran = cortex(app.socket, "route", "--conversation", "-", stdin=text)
        assert ran.returncode == 2 and said in ran.stderr, ran.stderr


def test_cortex_route_reads_a_real_chat_body_with_a_tool_call(app: App) -> None:
    body = {
        "model": "auto",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "from now on use codex"},
                                         {"type": "text", "text": None}]},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "type": "function",
                             "function": {"name": "ls", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "a.py"},
            {"role": "user", "content": "sort this list"},
        ],
    }  # fmt: skip
    ran = cortex(app.socket, "route", "--conversation", "-", "--json", stdin=json.dumps(body))
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["override"]["turn"] == 1

"""The memory of what was read in a conversation's turns: bounded, and never a wrong answer."""

from __future__ import annotations

import json
from pathlib import Path

from cortexd.context.paths import default_routing_text
from cortexd.routing.classifier.model import TaskModel
from cortexd.routing.request import Message, RouteRequest
from cortexd.routing.router import Router
from cortexd.routing.routing_file.parse import parse_routing_text
from cortexd.routing.text_memo import TextMemo


def test_a_text_is_read_once_while_remembered() -> None:
    calls: list[str] = []
    memo = TextMemo(lambda text: calls.append(text) or text.upper(), max_chars=100)
    assert [memo("a"), memo("b"), memo("a")] == ["A", "B", "A"]
    assert calls == ["a", "b"]


def test_the_memory_holds_no_more_characters_than_its_bound() -> None:
    calls: list[str] = []
    memo = TextMemo(lambda text: calls.append(text) or len(text), max_chars=10)
    for text in ("aaaa", "bbbb", "cccc", "aaaa"):
        memo(text)
    assert calls == ["aaaa", "bbbb", "cccc", "aaaa"]  # "aaaa" was pushed out by "cccc"
    assert len(memo) == 2  # 8 characters kept: "cccc" and "aaaa"


def test_a_text_longer_than_the_bound_is_read_each_time_and_kept_never() -> None:
    calls: list[str] = []
    memo = TextMemo(lambda text: calls.append(text) or 1, max_chars=100, max_text=5)
    memo("x" * 6)
    memo("x" * 6)
    memo("short")
    assert len(calls) == 2 + 1 and len(memo) == 1


def _conversation() -> list[Message]:
    data = Path(__file__).parent / "data" / "classify_final.jsonl"
    prompts = [
        json.loads(line)["messages"][-1]["content"] for line in data.read_text().splitlines()
    ]
    messages = [Message("user", "from now on use sonnet")]
    for i, prompt in enumerate(prompts[:30]):
        messages += [Message("assistant", "ok"), Message("user", prompt)]
        if i == 12:
            messages += [Message("assistant", "ok"), Message("user", "back to normal routing")]
    return messages


def test_a_conversation_sent_turn_by_turn_plans_as_one_read_afresh() -> None:
    """The router remembers the turns it read; every plan must be what a new router makes."""
    table = parse_routing_text(default_routing_text())
    remembering = Router(table, TaskModel.shipped())
    messages = _conversation()
    ends = [i + 1 for i, m in enumerate(messages) if m.role == "user"]
    turns = []
    for end in ends:
        request = RouteRequest(messages=messages[:end])
        warm = remembering.plan(request)
        cold = Router(table, TaskModel.shipped()).plan(request)
        assert warm == cold
        turns.append(warm.directive_turn)
    # The session directive of turn 1 holds until turn 15 revokes it.
    assert turns[1:14] == [1] * 13 and set(turns[15:]) == {None}

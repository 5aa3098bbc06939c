"""Silence is not thinking, per wire format (issue 20, section 1): which of a provider's events
are a sign of life (held until content; the model gets its long first-content wait), which
are content, and how long each phase may be silent. Pure rules, table-tested."""

from __future__ import annotations

from typing import Any

import pytest

from cortexd.routing.dispatch.liveness import Limits, hang_wait, silence, wait_for
from cortexd.routing.providers.forward import _progress

ROLE_CHUNK = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
TEXT_CHUNK = {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}
REASONING_ITEM = {"type": "response.output_item.added", "item": {"type": "reasoning"}}
MESSAGE_ITEM = {"type": "response.output_item.added", "item": {"type": "message"}}


@pytest.mark.parametrize(
    ("wire", "kind", "payload", "alive_only"),
    [
        # Anthropic Messages: message_start and ping say "alive"; any content block is content
        # (thinking included: its deltas are progress the client shows).
        ("messages", "message_start", {}, True),
        ("messages", "ping", {}, True),
        ("messages", "content_block_start", {"content_block": {"type": "thinking"}}, False),
        ("messages", "content_block_start", {"content_block": {"type": "text"}}, False),
        ("messages", "content_block_delta", {}, False),
        ("messages", None, {}, True),  # a keep-alive comment
        # OpenAI Responses: created/in_progress/queued and the reasoning (often encrypted,
        # then long silent) say "alive"; the message item is content.
        ("responses", "response.created", {}, True),
        ("responses", "response.in_progress", {}, True),
        ("responses", "response.queued", {}, True),
        ("responses", "response.output_item.added", REASONING_ITEM, True),
        ("responses", "response.reasoning_summary_text.delta", {}, True),
        ("responses", "response.output_item.added", MESSAGE_ITEM, False),
        ("responses", "response.output_text.delta", {}, False),
        # Chat Completions: the first chunk (only the role) says "alive"; text is content.
        ("chat", None, ROLE_CHUNK, True),
        ("chat", None, TEXT_CHUNK, False),
    ],
)
def test_each_wire_formats_signs_of_life_and_content(
    wire: Any, kind: str | None, payload: dict[str, Any], alive_only: bool
) -> None:
    assert _progress(wire, kind, payload) is alive_only


LIMITS = Limits(hang_s=5.0, first_s=120.0, stall_s=30.0)


@pytest.mark.parametrize(
    ("phase", "wait", "meaning"),
    [
        ("waiting", 5.0, "no sign of life in 5.0 s"),  # a hang, even for a reasoning model
        ("alive", 120.0, "it began but sent no content in 120.0 s"),  # thinking: long budget
        ("content", 30.0, "the stream stalled for 30.0 s"),  # flowing: only a stall ends it
    ],
)
def test_how_long_each_phase_may_be_silent(phase: Any, wait: float, meaning: str) -> None:
    assert wait_for(phase, LIMITS) == wait
    assert silence(phase, wait).startswith(meaning)


def test_a_long_prompt_earns_time_before_its_first_event() -> None:
    # Some APIs read the whole prompt before their first event: 1 s per 20k tokens.
    assert hang_wait(0) == 5.0 and hang_wait(100_000) == 10.0

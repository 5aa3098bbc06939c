"""Our answers written as Anthropic Messages: the message object and the SSE stream, checked
against our own decoder and the official anthropic SDK's parser."""

from __future__ import annotations

import doctest
import json
from typing import Any

import anthropic
import httpx2
import pytest

from cortexd.api import messages_encode
from cortexd.api.messages_encode import (
    MessagesStreamEncoder,
    call_id_from_tool_use,
    message_json,
    tool_use_id,
)
from cortexd.routing.providers import (
    Alive,
    ChatResponse,
    Reasoning,
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from cortexd.routing.providers.anthropic_wire import AnthropicStreamDecoder, from_anthropic

CALL = ToolCall("call_abc123", "Read", '{"file_path": "/tmp/x.py", "limit": 5}')


def _message(response: ChatResponse) -> dict[str, Any]:
    return message_json(response, model="gpt-4o", message_id="msg_cx_1")


def test_the_modules_examples_hold() -> None:
    # tests/test_doctests.py lists its modules by hand; this module's examples run here.
    assert doctest.testmod(messages_encode).failed == 0


# --- message_json ---------------------------------------------------------------------------


def test_a_text_answer_is_one_text_block_ending_the_turn() -> None:
    out = _message(ChatResponse("gpt-4o-2024-08-06", text="hello", usage=Usage(10, 2)))
    assert out == {
        "id": "msg_cx_1",
        "type": "message",
        "role": "assistant",
        "model": "gpt-4o",
        "content": [{"type": "text", "text": "hello"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 2,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        },
    }


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
    ],
)
def test_each_finish_reason_has_its_stop_reason(finish: Any, stop_reason: str) -> None:
    assert _message(ChatResponse("m", text="x", finish_reason=finish))["stop_reason"] == stop_reason


def test_tool_calls_are_tool_use_blocks_with_parsed_input_after_the_text() -> None:
    bad = ToolCall("call_2", "Bash", "{not json")
    response = ChatResponse(
        "m", text="Let me look.", tool_calls=(CALL, bad), finish_reason="tool_calls"
    )
    content = _message(response)["content"]
    assert content == [
        {"type": "text", "text": "Let me look."},
        {
            "type": "tool_use",
            "id": "toolu_cx_call_abc123",
            "name": "Read",
            "input": {"file_path": "/tmp/x.py", "limit": 5},
        },
        {"type": "tool_use", "id": "toolu_cx_call_2", "name": "Bash", "input": {}},
    ]


@pytest.mark.parametrize(
    ("call_id", "tool_use"),
    [
        ("toolu_01A09q90qw90lq917835lq9", "toolu_01A09q90qw90lq917835lq9"),  # Anthropic's own
        ("toolu_vrtx_01AbC", "toolu_vrtx_01AbC"),
        ("call_abc123", "toolu_cx_call_abc123"),  # OpenAI Chat Completions
        ("fc_68a1", "toolu_cx_fc_68a1"),  # OpenAI Responses
        ("a-b", "toolu_cx_a-2db"),  # "-" is escaped too, so the inverse is exact
        ("ollama:0/é", "toolu_cx_ollama-3a0-2f-c3-a9"),
    ],
)
def test_tool_call_ids_map_to_tool_use_ids_and_back(call_id: str, tool_use: str) -> None:
    assert tool_use_id(call_id) == tool_use
    assert call_id_from_tool_use(tool_use) == call_id
    assert tool_use.startswith("toolu_")
    assert all(c.isascii() and (c.isalnum() or c in "_-") for c in tool_use)


def test_calls_without_ids_get_unique_ones_alike_in_the_message_and_the_stream() -> None:
    calls = (ToolCall("", "A"), ToolCall("", "B"))
    response = ChatResponse("m", tool_calls=calls, finish_reason="tool_calls")
    ids = [b["id"] for b in _message(response)["content"]]
    assert ids == ["toolu_cx_msg_cx_1_0", "toolu_cx_msg_cx_1_1"]
    assert [call_id_from_tool_use(i) for i in ids] == ["msg_cx_1_0", "msg_cx_1_1"]
    events = (ToolCallDelta(0, name="A"), ToolCallDelta(1, name="B"), StreamEnd(response))
    streamed = [
        e["content_block"]["id"]
        for name, e in _parsed(_stream_bytes(events))
        if name == "content_block_start"
    ]
    assert streamed == ids


def test_usage_input_tokens_leave_out_cache_reads_and_writes() -> None:
    usage = Usage(
        input_tokens=1000, output_tokens=50, cache_read_tokens=700, cache_write_tokens=200
    )
    assert _message(ChatResponse("m", text="x", usage=usage))["usage"] == {
        "input_tokens": 100,
        "output_tokens": 50,
        "cache_read_input_tokens": 700,
        "cache_creation_input_tokens": 200,
    }


def test_only_reasoning_signed_by_anthropic_is_written_out() -> None:
    reasoning = (
        Reasoning("another provider's thoughts"),  # unsigned: Anthropic would refuse it
        Reasoning("claude's thoughts", signature="sig=="),
        Reasoning("opaque", redacted=True),
    )
    content = _message(ChatResponse("m", text="hi", reasoning=reasoning))["content"]
    assert content == [
        {"type": "thinking", "thinking": "claude's thoughts", "signature": "sig=="},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "hi"},
    ]


def test_the_message_reads_back_through_our_anthropic_decoder() -> None:
    usage = Usage(input_tokens=500, output_tokens=40, cache_read_tokens=300, cache_write_tokens=100)
    response = ChatResponse(
        "m", text="Reading.", tool_calls=(CALL,), finish_reason="tool_calls", usage=usage
    )
    back = from_anthropic(json.loads(json.dumps(_message(response))))
    assert back.text == "Reading."
    assert [
        (call_id_from_tool_use(c.id), c.name, c.parsed_arguments()) for c in back.tool_calls
    ] == [(CALL.id, CALL.name, CALL.parsed_arguments())]
    assert back.finish_reason == "tool_calls"
    assert back.usage == usage


# --- the stream -----------------------------------------------------------------------------

ARGUMENT_PIECES = ('{"file_path": "/tmp', '/x.py", "limit": 5}')
FINAL = ChatResponse(
    "gpt-4o-2024-08-06",
    text="Let me look.",
    tool_calls=(CALL,),
    finish_reason="tool_calls",
    usage=Usage(input_tokens=1200, output_tokens=31, cache_read_tokens=1000),
)
EVENTS: tuple[StreamEvent, ...] = (
    Alive(),
    ReasoningDelta("thinking it over"),
    TextDelta("Let me "),
    TextDelta("look."),
    ToolCallDelta(0, id=CALL.id, name=CALL.name),
    ToolCallDelta(0, arguments=ARGUMENT_PIECES[0]),
    ToolCallDelta(0, arguments=ARGUMENT_PIECES[1]),
    StreamEnd(FINAL),
)


def _stream_bytes(events: tuple[StreamEvent, ...] = EVENTS) -> bytes:
    encoder = MessagesStreamEncoder()
    out = encoder.start("gpt-4o", "msg_cx_1", 1150)
    return out + b"".join(encoder.feed(e) for e in events)


def _parsed(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for chunk in data.decode().split("\n\n"):
        if not chunk:
            continue
        name_line, data_line = chunk.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        payload = json.loads(data_line[len("data: ") :])
        assert payload["type"] == name_line[len("event: ") :]
        events.append((payload["type"], payload))
    return events


def test_the_stream_is_the_sequence_claude_code_parses() -> None:
    events = _parsed(_stream_bytes())
    assert [(name, e.get("index")) for name, e in events] == [
        ("message_start", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert events[0][1]["message"]["usage"]["input_tokens"] == 1150
    assert events[5][1]["content_block"] == {
        "type": "tool_use",
        "id": "toolu_cx_call_abc123",
        "name": "Read",
        "input": {},
    }
    assert events[9][1]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert events[9][1]["usage"]["output_tokens"] == 31


def test_the_anthropic_sdk_assembles_the_same_answer_from_the_stream() -> None:
    body = _stream_bytes()

    def answer(request: httpx2.Request) -> httpx2.Response:
        assert (request.method, request.url.path) == ("POST", "/v1/messages")
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    transport = httpx2.MockTransport(answer)
    with anthropic.Anthropic(
        base_url="http://cortexd", api_key="unused", max_retries=0,
        http_client=httpx2.Client(transport=transport),
    ) as client:  # fmt: skip
        with client.messages.stream(
            model="gpt-4o", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            message = stream.get_final_message()
    assert message.id == "msg_cx_1" and message.model == "gpt-4o"
    assert [b.type for b in message.content] == ["text", "tool_use"]
    text, tool = message.content
    assert text.type == "text" and text.text == "Let me look."
    assert tool.type == "tool_use"
    assert (tool.id, tool.name, tool.input) == (
        "toolu_cx_call_abc123",
        "Read",
        {"file_path": "/tmp/x.py", "limit": 5},
    )
    assert call_id_from_tool_use(tool.id) == CALL.id
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens == 31
    assert message.usage.input_tokens == 200  # 1200 less the 1000 read from the cache
    assert message.usage.cache_read_input_tokens == 1000


def test_the_stream_reads_back_through_our_anthropic_decoder() -> None:
    decoder = AnthropicStreamDecoder()
    deltas = [d for _, e in _parsed(_stream_bytes()) for d in decoder.feed(e)]
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "Let me look."
    pieces = [d for d in deltas if isinstance(d, ToolCallDelta)]
    assert call_id_from_tool_use(pieces[0].id or "") == CALL.id
    assert "".join(p.arguments for p in pieces) == "".join(ARGUMENT_PIECES)
    assert decoder.finished
    assert decoder.summary().usage == FINAL.usage
    assert decoder.summary().finish_reason == "tool_calls"


def test_a_text_block_reopens_after_a_tool_call_and_parallel_calls_get_their_own_blocks() -> None:
    events: tuple[StreamEvent, ...] = (
        ToolCallDelta(0, id="call_1", name="A", arguments="{}"),
        ToolCallDelta(1, id="call_2", name="B"),
        ToolCallDelta(1, arguments='{"x": 1}'),
        ToolCallDelta(0, arguments="late"),  # its block is closed: dropped, not misplaced
        TextDelta("done"),
        StreamEnd(ChatResponse("m")),
    )
    parsed = _parsed(_stream_bytes(events))
    starts = [e["content_block"] for name, e in parsed if name == "content_block_start"]
    assert [(b["type"], b.get("name")) for b in starts] == [
        ("tool_use", "A"),
        ("tool_use", "B"),
        ("text", None),
    ]
    deltas = [(e["index"], e["delta"]) for name, e in parsed if name == "content_block_delta"]
    assert deltas == [
        (0, {"type": "input_json_delta", "partial_json": "{}"}),
        (1, {"type": "input_json_delta", "partial_json": '{"x": 1}'}),
        (2, {"type": "text_delta", "text": "done"}),
    ]


def test_an_answer_that_came_in_one_piece_is_streamed_at_the_finish() -> None:
    encoder = MessagesStreamEncoder()
    out = encoder.start("gpt-4o", "msg_cx_2", 10) + encoder.finish(FINAL)
    decoder = AnthropicStreamDecoder()
    deltas = [d for _, e in _parsed(out) for d in decoder.feed(e)]
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == FINAL.text
    pieces = [d for d in deltas if isinstance(d, ToolCallDelta)]
    assert json.loads("".join(p.arguments for p in pieces)) == CALL.parsed_arguments()
    assert encoder.finish(FINAL) == b""  # the stream ended once


def test_an_error_is_an_error_event() -> None:
    encoder = MessagesStreamEncoder()
    out = encoder.start("gpt-4o", "msg_cx_3", 10) + encoder.feed(TextDelta("par"))
    error = encoder.error("upstream went away", "overloaded")
    assert _parsed(error) == [
        (
            "error",
            {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "upstream went away"},
            },
        )
    ]
    assert _parsed(out)[-1][0] == "content_block_delta"
    assert encoder.feed(TextDelta("more")) == encoder.finish(FINAL) == b""  # nothing after it

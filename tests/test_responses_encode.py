"""Our answers as Responses objects and streams: checked by the official openai SDK, which
assembles a stream strictly, and read back by our own Responses decoder."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import httpx2
import openai
import pytest

from cortexd.api.responses_encode import response_json
from cortexd.api.responses_stream import ResponsesStreamEncoder
from cortexd.api.responses_tools import read_tools
from cortexd.routing.providers.chat import (
    Alive,
    ChatResponse,
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from cortexd.routing.providers.openai_responses_wire import from_responses

RID = "resp_abc"
USAGE = Usage(
    input_tokens=120,
    output_tokens=30,
    cache_read_tokens=100,
    cache_write_tokens=12,
    reasoning_tokens=7,
)
WEATHER = ToolCall("toolu_01A", "get_weather", '{"city": "Paris"}')
CLOCK = ToolCall("toolu_02B", "clock", "{}")


def _json(response: ChatResponse) -> dict[str, Any]:
    return response_json(response, model="claude-sonnet-4-5", response_id=RID, created_at=1)


# --- response_json -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "status", "output"),
    [
        (
            ChatResponse(model="m", text="Hello."),
            "completed",
            [
                {
                    "type": "message",
                    "id": "msg_abc_0",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "Hello.", "annotations": []}],
                }
            ],
        ),
        (
            ChatResponse(model="m", tool_calls=(WEATHER, CLOCK), finish_reason="tool_calls"),
            "completed",
            [
                {
                    "type": "function_call",
                    "id": "fc_abc_0",
                    "call_id": "toolu_01A",
                    "name": "get_weather",
                    "arguments": '{"city": "Paris"}',
                    "status": "completed",
                },
                {
                    "type": "function_call",
                    "id": "fc_abc_1",
                    "call_id": "toolu_02B",
                    "name": "clock",
                    "arguments": "{}",
                    "status": "completed",
                },
            ],
        ),
        (ChatResponse(model="m", finish_reason="length"), "incomplete", []),
    ],
    ids=["text", "tool-calls", "length"],
)
def test_response_json_output_and_status(
    response: ChatResponse, status: str, output: list[dict[str, Any]]
) -> None:
    body = _json(response)
    assert body["id"] == RID
    assert body["object"] == "response"
    assert body["model"] == "claude-sonnet-4-5"
    assert body["status"] == status
    assert body["output"] == output


def test_text_then_tool_call_puts_the_message_first() -> None:
    body = _json(ChatResponse(model="m", text="Let me look.", tool_calls=(WEATHER,)))
    assert [(i["type"], i["id"]) for i in body["output"]] == [
        ("message", "msg_abc_0"),
        ("function_call", "fc_abc_1"),
    ]


@pytest.mark.parametrize(
    ("finish", "details"),
    [
        ("stop", None),
        ("tool_calls", None),
        ("length", {"reason": "max_output_tokens"}),
        ("content_filter", {"reason": "content_filter"}),
    ],
)
def test_a_cut_short_answer_is_incomplete_with_its_reason(
    finish: Any, details: dict[str, str] | None
) -> None:
    body = _json(ChatResponse(model="m", text="x", finish_reason=finish))
    assert body["incomplete_details"] == details
    assert body["status"] == ("completed" if details is None else "incomplete")


def test_usage_counts_cached_input_and_reasoning_output() -> None:
    assert _json(ChatResponse(model="m", usage=USAGE))["usage"] == {
        "input_tokens": 120,
        "input_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 12},
        "output_tokens": 30,
        "output_tokens_details": {"reasoning_tokens": 7},
        "total_tokens": 150,
    }


def test_the_same_answer_encodes_the_same_way() -> None:
    response = ChatResponse(model="m", text="a", tool_calls=(WEATHER,))
    assert _json(response) == _json(response)


@pytest.mark.parametrize(
    "response",
    [
        ChatResponse(model="m", text="Hello.", usage=USAGE),
        ChatResponse(model="m", text="Look:", tool_calls=(WEATHER, CLOCK), usage=USAGE),
        ChatResponse(model="m", text="cut", finish_reason="length"),
    ],
    ids=["text", "tools", "length"],
)
def test_our_responses_decoder_reads_back_text_calls_usage_and_finish(
    response: ChatResponse,
) -> None:
    back = from_responses(_json(response))
    assert back.text == response.text
    assert back.tool_calls == response.tool_calls  # provider's call ids kept as call_id
    # usage_from does not read cache writes back: OpenAI bills none apart.
    assert back.usage == dataclasses.replace(response.usage, cache_write_tokens=0)
    finish = "tool_calls" if response.tool_calls else response.finish_reason
    assert back.finish_reason == finish
    assert back.response_id == RID


def test_the_sdk_validates_the_response_object() -> None:
    body = _json(ChatResponse(model="m", text="Hi", tool_calls=(WEATHER,), usage=USAGE))
    parsed = openai.types.responses.Response.model_validate(body)
    assert parsed.output_text == "Hi"
    assert parsed.usage is not None and parsed.usage.total_tokens == 150


# --- the stream encoder --------------------------------------------------------------------


def _encode(events: Sequence[StreamEvent], final: ChatResponse) -> bytes:
    encoder = ResponsesStreamEncoder()
    out = encoder.start("claude-sonnet-4-5", RID)
    for event in [*events, Alive(), StreamEnd(final)]:  # StreamEnd is finish()
        out += encoder.feed(event)
    return out


def _events(sse: bytes) -> list[dict[str, Any]]:
    """The stream's events, checking each `event:` line names its data's type."""
    out: list[dict[str, Any]] = []
    for block in sse.decode().split("\n\n"):
        if not block:
            continue
        name_line, data_line = block.split("\n")
        data = json.loads(data_line.removeprefix("data: "))
        assert name_line == f"event: {data['type']}"
        out.append(data)
    return out


def _sdk_client(sse: bytes) -> openai.OpenAI:
    """An SDK client whose ``POST /v1/responses`` answers with the stream `sse`."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.method == "POST" and request.url.path == "/v1/responses"
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=sse)

    return openai.OpenAI(
        base_url="http://x/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def _sdk_final(sse: bytes) -> Any:
    """What the official SDK's stream helper makes of `sse` served as a Responses stream."""
    client = _sdk_client(sse)
    with client.responses.stream(model="claude-sonnet-4-5", input="hi") as stream:
        return stream.get_final_response()


TEXT_EVENTS: list[StreamEvent] = [
    ReasoningDelta("thinking…"),
    TextDelta("Hel"),
    TextDelta(""),
    TextDelta("lo."),
]
TOOL_EVENTS: list[StreamEvent] = [
    TextDelta("Let me look."),
    ToolCallDelta(0, "toolu_01A", "get_weather"),
    ToolCallDelta(0, arguments='{"city": '),
    ToolCallDelta(0, arguments='"Paris"}'),
    ToolCallDelta(1, "toolu_02B", "clock"),  # no input: Anthropic streams no arguments
]
TOOL_ANSWER = ChatResponse(
    model="m",
    text="Let me look.",
    tool_calls=(WEATHER, CLOCK),
    finish_reason="tool_calls",
    usage=USAGE,
)


def test_a_text_stream_is_the_sequence_codex_parses() -> None:
    events = _events(_encode(TEXT_EVENTS, ChatResponse(model="m", text="Hello.", usage=USAGE)))
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0]["response"]["status"] == "in_progress"
    assert events[0]["response"]["output"] == []
    delta = events[4]
    assert (delta["item_id"], delta["output_index"], delta["content_index"], delta["delta"]) == (
        "msg_abc_0",
        0,
        0,
        "Hel",
    )
    assert events[6]["text"] == "Hello."
    assert events[-1]["response"]["usage"]["total_tokens"] == 150


def test_the_sdk_assembles_a_text_stream() -> None:
    final = _sdk_final(_encode(TEXT_EVENTS, ChatResponse(model="m", text="Hello.", usage=USAGE)))
    assert final.id == RID
    assert final.status == "completed"
    assert final.output_text == "Hello."
    assert final.usage.input_tokens == 120
    assert final.usage.input_tokens_details.cached_tokens == 100
    assert final.usage.input_tokens_details.cache_write_tokens == 12
    assert final.usage.output_tokens_details.reasoning_tokens == 7


def test_the_sdk_assembles_text_then_tool_calls() -> None:
    sse = _encode(TOOL_EVENTS, TOOL_ANSWER)
    kinds = [e["type"] for e in _events(sse)]
    # The message closes before the first function call opens.
    assert kinds.index("response.output_item.done") < kinds.index(
        "response.function_call_arguments.delta"
    )
    final = _sdk_final(sse)
    assert final.output_text == "Let me look."
    calls = [(i.call_id, i.name, i.arguments) for i in final.output if i.type == "function_call"]
    assert calls == [
        ("toolu_01A", "get_weather", '{"city": "Paris"}'),
        ("toolu_02B", "clock", "{}"),
    ]
    assert final.usage.total_tokens == 150


def test_the_streamed_final_object_matches_the_plain_one() -> None:
    events = _events(_encode(TOOL_EVENTS, TOOL_ANSWER))
    streamed = events[-1]["response"]
    assert streamed["output"] == _json(TOOL_ANSWER)["output"]
    assert from_responses(streamed).tool_calls == TOOL_ANSWER.tool_calls


def test_what_never_came_as_deltas_is_streamed_at_the_finish() -> None:
    # A provider that only reports the whole answer still gives Codex every item.
    final = _sdk_final(_encode([], TOOL_ANSWER))
    assert final.output_text == "Let me look."
    assert [i.call_id for i in final.output if i.type == "function_call"] == [
        "toolu_01A",
        "toolu_02B",
    ]


def test_text_after_a_tool_call_opens_a_second_message() -> None:
    events: list[StreamEvent] = [
        TextDelta("A"),
        ToolCallDelta(0, "toolu_01A", "get_weather", '{"city": "Paris"}'),
        TextDelta("B"),
    ]
    answer = ChatResponse(model="m", text="AB", tool_calls=(WEATHER,))
    final = _sdk_final(_encode(events, answer))
    assert [i.type for i in final.output] == ["message", "function_call", "message"]
    assert final.output_text == "AB"


def test_a_cut_short_stream_ends_incomplete() -> None:
    events = _events(
        _encode([TextDelta("cut")], ChatResponse(model="m", text="cut", finish_reason="length"))
    )
    last = events[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert from_responses(last["response"]).finish_reason == "length"


def test_a_broken_stream_ends_failed_with_an_error() -> None:
    encoder = ResponsesStreamEncoder()
    out = encoder.start("claude-sonnet-4-5", RID) + encoder.feed(TextDelta("par"))
    out += encoder.failed("upstream went away")
    last = _events(out)[-1]
    assert last["type"] == "response.failed"
    assert last["sequence_number"] == 5  # created, in_progress, added, part added, delta
    assert last["response"]["status"] == "failed"
    assert last["response"]["error"] == {"code": "server_error", "message": "upstream went away"}


def test_the_sdk_reads_a_failed_stream_with_its_error() -> None:
    encoder = ResponsesStreamEncoder()
    out = encoder.start("claude-sonnet-4-5", RID) + encoder.feed(TextDelta("par"))
    out += encoder.feed(ToolCallDelta(0, "toolu_01A", "get_weather", "{"))
    out += encoder.failed("upstream went away", "rate_limit_exceeded")
    with _sdk_client(out).responses.stream(model="m", input="hi") as stream:
        seen = list(stream)
    last = seen[-1]
    assert last.type == "response.failed"
    assert last.response.error is not None
    assert last.response.error.code == "rate_limit_exceeded"
    assert last.response.error.message == "upstream went away"


def test_a_custom_tools_call_streams_back_as_the_custom_call_codex_expects() -> None:
    call = ToolCall("toolu_9", "apply_patch", '{"input": "*** Begin Patch"}')
    encoder = ResponsesStreamEncoder(read_tools({"tools": [APPLY_PATCH]}))
    out = encoder.start("claude-sonnet", "resp_x")
    out += encoder.feed(ToolCallDelta(0, "toolu_9", "apply_patch", '{"input": "*** Be'))
    out += encoder.feed(ToolCallDelta(0, arguments='gin Patch"}'))
    out += encoder.finish(
        ChatResponse(model="claude-sonnet", tool_calls=(call,), finish_reason="tool_calls")
    )
    text = out.decode()
    assert "response.custom_tool_call_input.done" in text
    assert "response.function_call_arguments.delta" not in text
    done = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    item = next(e["item"] for e in done if e["type"] == "response.output_item.done")
    assert item == {
        "type": "custom_tool_call", "id": item["id"], "call_id": "toolu_9",
        "name": "apply_patch", "input": "*** Begin Patch", "status": "completed",
    }  # fmt: skip


APPLY_PATCH = {"type": "custom", "name": "apply_patch", "description": "edit files"}


def test_a_namespaced_tools_call_goes_back_with_its_own_name_and_namespace() -> None:
    # Codex's own model gets its tools in an additional_tools item, grouped in namespaces;
    # two namespaces share `wait`, so those two are offered qualified.
    body = {"input": [{"type": "additional_tools", "role": "developer", "tools": [
        {"type": "namespace", "name": "functions", "description": "", "tools": [
            {"type": "custom", "name": "exec", "description": "run code"},
            {"type": "function", "name": "wait", "parameters": {"type": "object"}}]},
        {"type": "namespace", "name": "clock", "description": "Time.", "tools": [
            {"type": "function", "name": "wait", "parameters": {"type": "object"}},
            {"type": "function", "name": "sleep", "parameters": {"type": "object"}}]},
    ]}]}  # fmt: skip
    tools = read_tools(body)
    assert [s.name for s in tools.specs] == ["exec", "functions__wait", "clock__wait", "sleep"]
    assert tools.specs[3].description.startswith("(in tool namespace clock: Time.)")
    encoder = ResponsesStreamEncoder(tools)
    calls = (
        ToolCall("toolu_1", "clock__wait", "{}"),
        ToolCall("toolu_2", "exec", '{"input": "ls"}'),
    )
    out = encoder.start("claude-sonnet", "resp_y")
    for n, call in enumerate(calls):
        out += encoder.feed(ToolCallDelta(n, call.id, call.name, call.arguments))
    out += encoder.finish(
        ChatResponse(model="claude-sonnet", tool_calls=calls, finish_reason="tool_calls")
    )
    done = [json.loads(line[6:]) for line in out.decode().splitlines() if line.startswith("data: ")]
    items = [e["item"] for e in done if e["type"] == "response.output_item.done"]
    assert [(i["type"], i["name"], i.get("namespace")) for i in items] == [
        ("function_call", "wait", "clock"), ("custom_tool_call", "exec", "functions"),
    ]  # fmt: skip
    whole = response_json(
        ChatResponse(model="claude-sonnet", tool_calls=calls, finish_reason="tool_calls"),
        model="claude-sonnet", response_id="resp_y", tools=tools,
    )  # fmt: skip
    assert [(i["name"], i.get("namespace")) for i in whole["output"]] == [
        ("wait", "clock"), ("exec", "functions"),
    ]  # fmt: skip

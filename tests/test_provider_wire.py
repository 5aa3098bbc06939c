"""The translations to and from each provider's JSON, as pure functions: no network."""

from __future__ import annotations

import json

import pytest

from cortexd.routing.providers import (
    ChatMessage,
    ChatRequest,
    ImagePart,
    Reasoning,
    ReasoningConfig,
    ReasoningDelta,
    ResponseFormat,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolSpec,
)
from cortexd.routing.providers.anthropic_wire import (
    AnthropicStreamDecoder,
    from_anthropic,
    to_anthropic,
)
from cortexd.routing.providers.ollama_wire import OllamaStreamDecoder, from_ollama, to_ollama
from cortexd.routing.providers.openai_responses_wire import (
    ResponsesStreamDecoder,
    from_responses,
    to_responses,
)
from cortexd.routing.providers.openai_wire import ChatStreamDecoder, from_chat, to_chat
from cortexd.routing.providers.stream import StreamCollector, UpstreamStreamError

TOOL = ToolSpec(
    "lookup", "Look a word up", {"type": "object", "properties": {"w": {"type": "string"}}}
)
CALL = ToolCall("call_1", "lookup", '{"w": "cortex"}')
CONVERSATION = (
    ChatMessage.of("system", "Be brief."),
    ChatMessage.of("user", "Define cortex"),
    ChatMessage(
        "assistant",
        (TextPart("Let me look."),),
        tool_calls=(CALL,),
        reasoning=(Reasoning("I should look it up.", signature="sig=="),),
    ),
    ChatMessage("tool", (TextPart("outer layer of an organ"),), tool_call_id="call_1"),
    ChatMessage.of("user", "Shorter, please"),
)


def test_anthropic_request_moves_system_merges_tool_results_and_keeps_signatures() -> None:
    body, warnings = to_anthropic(ChatRequest("claude-x", CONVERSATION, tools=(TOOL,)))
    assert body["system"] == [{"type": "text", "text": "Be brief."}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assistant = body["messages"][1]["content"]
    assert assistant[0] == {
        "type": "thinking",
        "thinking": "I should look it up.",
        "signature": "sig==",
    }
    assert assistant[2] == {
        "type": "tool_use",
        "id": "call_1",
        "name": "lookup",
        "input": {"w": "cortex"},
    }
    last = body["messages"][2]["content"]
    assert last[0]["type"] == "tool_result" and last[0]["tool_use_id"] == "call_1"
    assert last[1] == {"type": "text", "text": "Shorter, please"}
    assert body["tools"][0]["input_schema"] == dict(TOOL.parameters)
    assert body["max_tokens"] == 8192 and warnings == ()


def test_anthropic_request_options() -> None:
    image = ImagePart("data:image/jpeg;base64,/9j/4AAQ")
    request = ChatRequest(
        "claude-x",
        (ChatMessage("user", (TextPart("Look", cache=True), image, TextPart(""))),),
        temperature=0.5,
        tool_choice=ToolChoice("required"),
        tools=(TOOL,),
        response_format=ResponseFormat("json_schema", {"type": "object"}),
        reasoning=ReasoningConfig(effort="medium"),
        cache_prompt=True,
        user="u1",
    )
    body, warnings = to_anthropic(request)
    content = body["messages"][0]["content"]
    assert content == [  # the empty text part is dropped: the API refuses empty blocks
        {"type": "text", "text": "Look", "cache_control": {"type": "ephemeral"}},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"},
        },
    ]
    assert body["tool_choice"] == {"type": "any"}
    assert body["output_config"] == {
        "format": {"type": "json_schema", "schema": {"type": "object"}},
        "effort": "medium",
    }
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert body["cache_control"] == {"type": "ephemeral"} and body["metadata"] == {"user_id": "u1"}
    assert "temperature" not in body and any("temperature" in w for w in warnings)


def test_anthropic_json_object_asks_in_the_system_prompt() -> None:
    body, _ = to_anthropic(
        ChatRequest(
            "c", (ChatMessage.of("user", "x"),), response_format=ResponseFormat("json_object")
        )
    )
    assert "JSON" in body["system"][-1]["text"]


def test_anthropic_response_usage_counts_cached_tokens_as_input() -> None:
    message = {
        "id": "msg_1",
        "model": "claude-x",
        "stop_reason": "max_tokens",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Hi"},
        ],
        "usage": {
            "input_tokens": 5,
            "output_tokens": 7,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 20,
        },
    }
    response = from_anthropic(message)
    assert response.finish_reason == "length" and response.text == "Hi"
    assert response.usage.input_tokens == 125 and response.usage.cache_read_tokens == 100
    assert response.usage.cache_write_tokens == 20
    assert [r.redacted for r in response.reasoning] == [False, True]


def test_anthropic_stream_decoder_needs_message_stop() -> None:
    decoder = AnthropicStreamDecoder()
    events = [
        {
            "type": "message_start",
            "message": {"id": "m", "model": "c", "usage": {"input_tokens": 3, "output_tokens": 1}},
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "t", "name": "lookup", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"w":'},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '"x"}'},
        },
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 9},
        },
    ]
    deltas = [d for e in events for d in decoder.feed(e)]
    assert not decoder.finished
    decoder.feed({"type": "message_stop"})
    assert decoder.finished
    assert deltas[0] == TextDelta("Hi") and deltas[1] == ToolCallDelta(0, "t", "lookup")
    collector = StreamCollector(0.0, clock=lambda: 1.0)
    for d in deltas:
        collector.add(d)
    response = collector.finish(decoder.summary())
    assert response.tool_calls == (ToolCall("t", "lookup", '{"w":"x"}'),)
    assert response.usage.input_tokens == 3 and response.usage.output_tokens == 9
    assert response.finish_reason == "tool_calls"


def test_openai_chat_request_and_response() -> None:
    body = to_chat(
        ChatRequest(
            "gpt-4o",
            CONVERSATION,
            max_tokens=10,
            tools=(TOOL,),
            tool_choice=ToolChoice("tool", "lookup"),
        ),
        stream=True,
    )
    assert body["messages"][2] == {
        "role": "assistant",
        "content": "Let me look.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup", "arguments": '{"w": "cortex"}'},
            }
        ],
    }
    assert body["messages"][3] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "outer layer of an organ",
    }
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert body["max_completion_tokens"] == 10 and body["stream_options"] == {"include_usage": True}
    completion = {
        "id": "c1",
        "model": "gpt-4o-2024",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "a",
                            "type": "function",
                            "function": {"name": "lookup", "arguments": "{}"},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 50,
            "completion_tokens": 8,
            "prompt_tokens_details": {"cached_tokens": 40},
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
    }
    response = from_chat(completion)
    assert response.finish_reason == "tool_calls" and response.tool_calls[0].id == "a"
    assert (
        response.usage.input_tokens,
        response.usage.cache_read_tokens,
        response.usage.reasoning_tokens,
    ) == (50, 40, 2)


def test_openai_chat_stream_error_chunk_raises() -> None:
    decoder = ChatStreamDecoder()
    decoder.feed({"id": "x", "model": "m", "choices": [{"index": 0, "delta": {"content": "a"}}]})
    with pytest.raises(UpstreamStreamError) as caught:
        decoder.feed({"error": {"type": "server_error", "message": "boom"}})
    assert caught.value.error_type == "server_error" and not decoder.finished


def test_responses_request_and_response() -> None:
    body, _ = to_responses(
        ChatRequest(
            "gpt-5.3-codex",
            CONVERSATION,
            tools=(TOOL,),
            response_format=ResponseFormat("json_object"),
        )
    )
    assert body["instructions"] == "Be brief." and body["store"] is False
    kinds = [i.get("type", i.get("role")) for i in body["input"]]
    assert kinds == ["user", "assistant", "function_call", "function_call_output", "user"]
    assert body["text"] == {"format": {"type": "json_object"}}
    response = from_responses(
        {
            "id": "r",
            "model": "gpt-5.3-codex",
            "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "output": [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "plan"}]},
                {"type": "message", "content": [{"type": "output_text", "text": "par"}]},
            ],
            "usage": {
                "input_tokens": 9,
                "output_tokens": 30,
                "output_tokens_details": {"reasoning_tokens": 25},
            },
        }
    )
    assert response.finish_reason == "length" and response.text == "par"
    assert response.reasoning[0].text == "plan" and response.usage.reasoning_tokens == 25


def test_responses_stream_decoder() -> None:
    decoder = ResponsesStreamDecoder()
    out = []
    for event in (
        {"type": "response.created", "response": {"id": "r", "model": "m"}},
        {"type": "response.reasoning_summary_text.delta", "delta": "think"},
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {"type": "function_call", "call_id": "c", "name": "lookup", "arguments": ""},
        },
        {"type": "response.function_call_arguments.delta", "output_index": 1, "delta": "{}"},
        {
            "type": "response.completed",
            "response": {
                "id": "r",
                "model": "m",
                "status": "completed",
                "usage": {"input_tokens": 1, "output_tokens": 2},
            },
        },
    ):
        out.extend(decoder.feed(event))
    assert out == [
        ReasoningDelta("think"),
        ToolCallDelta(0, "c", "lookup"),
        ToolCallDelta(0, arguments="{}"),
    ]
    assert decoder.finished and decoder.summary().finish_reason == "tool_calls"
    with pytest.raises(UpstreamStreamError, match="slow down"):
        ResponsesStreamDecoder().feed(
            {
                "type": "response.failed",
                "response": {"error": {"code": "server_error", "message": "slow down"}},
            }
        )


def test_ollama_request_and_response() -> None:
    body = to_ollama(
        ChatRequest("llama3.1:8b", CONVERSATION, reasoning=ReasoningConfig(budget_tokens=500)),
        num_ctx=8192,
    )
    assert body["options"] == {"num_ctx": 8192}
    assert body["think"] is True
    assert body["messages"][2]["tool_calls"] == [
        {"function": {"name": "lookup", "arguments": {"w": "cortex"}}}
    ]
    assert body["messages"][2]["thinking"] == "I should look it up."
    assert body["messages"][3]["tool_name"] == "lookup"
    response = from_ollama(
        {
            "model": "llama3.1:8b",
            "message": {"role": "assistant", "content": "ok"},
            "done": True,
            "done_reason": "length",
            "prompt_eval_count": 10,
            "eval_count": 4,
        },
        num_ctx=8192,
    )
    assert (
        response.finish_reason == "length"
        and response.usage.input_tokens == 10
        and response.warnings == ()
    )


def test_ollama_stream_decoder_numbers_whole_tool_calls() -> None:
    decoder = OllamaStreamDecoder(num_ctx=4096)
    out = decoder.feed(
        {
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"function": {"name": "a", "arguments": {"x": 1}}},
                    {"function": {"name": "b", "arguments": {}}},
                ],
            },
            "done": False,
        }
    )
    assert [
        (d.index, d.name, json.loads(d.arguments)) for d in out if isinstance(d, ToolCallDelta)
    ] == [(0, "a", {"x": 1}), (1, "b", {})]
    assert not decoder.finished
    decoder.feed(
        {
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 4095,
            "eval_count": 1,
        }
    )
    summary = decoder.summary()
    assert decoder.finished and summary.finish_reason == "tool_calls" and summary.warnings


def test_the_collector_times_the_first_content_not_reasoning() -> None:
    ticks = iter([1.0, 2.0, 5.0])
    collector = StreamCollector(0.0, clock=lambda: next(ticks))
    collector.add(ReasoningDelta("thinking"))
    assert not collector.has_content
    collector.add(TextDelta("Hi"))  # first content at t=1.0
    collector.add(TextDelta(" there"))
    from cortexd.routing.providers.stream import StreamSummary

    response = collector.finish(StreamSummary(model="m"))
    assert response.timing.first_token_s == 1.0 and response.timing.total_s == 2.0
    assert response.text == "Hi there" and response.reasoning == (Reasoning("thinking"),)

"""What the fake upstream (benchmarks/upstream.py) sends: each wire format's answer, and its
HTTP framing.

Every answer is the same short text, as the providers send it: OpenAI Chat Completions
(JSON, or SSE chunks ending in `data: [DONE]`), OpenAI Responses (JSON, or the numbered
named events from `response.created` to `response.completed`) and Anthropic Messages (JSON,
or the named events from `message_start` to `message_stop`, with the `ping` Anthropic sends
after the first block opens), each with its provider's request id header.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Literal

WORDS = ("The", " answer", " is", " 42", ".")
TEXT = "".join(WORDS)
USAGE_IN, USAGE_OUT = 12, len(WORDS)


# Answers are built once per model: the upstream's CPU is taken from what is measured.
@lru_cache(maxsize=64)
def _openai_json(model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1764633600,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": TEXT, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": USAGE_IN,
                "completion_tokens": USAGE_OUT,
                "total_tokens": USAGE_IN + USAGE_OUT,
            },
        }
    ).encode()


@lru_cache(maxsize=64)
def _openai_sse(model: str) -> tuple[bytes, ...]:
    def chunk(delta: dict[str, object], finish: str | None = None, usage: object = None) -> bytes:
        body: dict[str, object] = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1764633600,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if usage is not None:
            body["usage"] = usage
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    usage = {
        "prompt_tokens": USAGE_IN,
        "completion_tokens": USAGE_OUT,
        "total_tokens": USAGE_IN + USAGE_OUT,
    }
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": word}) for word in WORDS]
    events.append(chunk({}, "stop", usage))
    events.append(b"data: [DONE]\n\n")
    return tuple(events)


def _anthropic_usage(output_tokens: int) -> dict[str, object]:
    return {
        "input_tokens": USAGE_IN,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


@lru_cache(maxsize=64)
def _anthropic_json(model: str) -> bytes:
    return json.dumps(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": TEXT}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": _anthropic_usage(USAGE_OUT),
        }
    ).encode()


@lru_cache(maxsize=64)
def _anthropic_sse(model: str) -> tuple[bytes, ...]:
    def event(payload: dict[str, object]) -> bytes:
        return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()

    start: dict[str, object] = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _anthropic_usage(1),
    }
    # The real sequence: the message, its first block opened, a ping, the deltas, the block
    # closed, the stop reason with the final usage, the end.
    events = [
        event({"type": "message_start", "message": start}),
        event(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }
        ),
        event({"type": "ping"}),
    ]
    events += [
        event(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": word},
            }
        )
        for word in WORDS
    ]
    events += [
        event({"type": "content_block_stop", "index": 0}),
        event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": USAGE_OUT},
            }
        ),
        event({"type": "message_stop"}),
    ]
    return tuple(events)


_RESPONSE_ID, _ITEM_ID = "resp_bench", "msg_bench"
_OUTPUT_TEXT: dict[str, object] = {
    "type": "output_text",
    "text": TEXT,
    "annotations": [],
    "logprobs": [],
}
_MESSAGE: dict[str, object] = {
    "id": _ITEM_ID,
    "type": "message",
    "status": "completed",
    "role": "assistant",
    "content": [_OUTPUT_TEXT],
}


def _response(model: str, done: bool) -> dict[str, object]:
    """The Response object: in progress and empty (as ``response.created`` shows it), or
    completed with its message and usage."""
    usage = {
        "input_tokens": USAGE_IN,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": USAGE_OUT,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": USAGE_IN + USAGE_OUT,
    }
    return {
        "id": _RESPONSE_ID,
        "object": "response",
        "created_at": 1764633600,
        "status": "completed" if done else "in_progress",
        "background": False,
        "completed_at": 1764633601 if done else None,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": [_MESSAGE] if done else [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage if done else None,
        "user": None,
        "metadata": {},
    }


@lru_cache(maxsize=64)
def _responses_json(model: str) -> bytes:
    return json.dumps(_response(model, done=True)).encode()


@lru_cache(maxsize=64)
def _responses_sse(model: str) -> tuple[bytes, ...]:
    events: list[bytes] = []

    def event(kind: str, **fields: Any) -> None:
        payload = {"type": kind, "sequence_number": len(events), **fields}
        events.append(f"event: {kind}\ndata: {json.dumps(payload)}\n\n".encode())

    initial = _response(model, done=False)
    where: dict[str, Any] = {"item_id": _ITEM_ID, "output_index": 0}
    opening = {"id": _ITEM_ID, "type": "message", "status": "in_progress",
               "role": "assistant", "content": []}  # fmt: skip
    event("response.created", response=initial)
    event("response.in_progress", response=initial)
    event("response.output_item.added", output_index=0, item=opening)
    empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    event("response.content_part.added", **where, content_index=0, part=empty)
    for word in WORDS:
        event("response.output_text.delta", **where, content_index=0, delta=word, logprobs=[])
    event("response.output_text.done", **where, content_index=0, text=TEXT, logprobs=[])
    event("response.content_part.done", **where, content_index=0, part=_OUTPUT_TEXT)
    event("response.output_item.done", output_index=0, item=_MESSAGE)
    # Unlike Chat Completions, the stream ends with its terminal event: no [DONE].
    event("response.completed", response=_response(model, done=True))
    return tuple(events)


#: A request's wire format, as its path names it.
Wire = Literal["chat", "responses", "messages"]
#: A JSON answer's body, or a stream's events in order.
Answer = bytes | tuple[bytes, ...]


def wire_of(path: bytes) -> Wire | None:
    """The wire format a request's path asks for; None: one the upstream does not speak.

    >>> wire_of(b"/v1/chat/completions"), wire_of(b"/v1/messages"), wire_of(b"/v1/nothing")
    ('chat', 'messages', None)
    """
    if path.endswith(b"/chat/completions"):
        return "chat"
    if path.endswith(b"/responses"):
        return "responses"
    if path.endswith(b"/messages"):
        return "messages"
    return None


def answer(wire: Wire, model: str, stream: bool) -> Answer:
    """The answer to a request in `wire` for `model`: its events if streamed, else its body."""
    if wire == "chat":
        return _openai_sse(model) if stream else _openai_json(model)
    if wire == "responses":
        return _responses_sse(model) if stream else _responses_json(model)
    return _anthropic_sse(model) if stream else _anthropic_json(model)


# The request id header each provider sends on every answer.
_OPENAI_ID = b"x-request-id: req_bench\r\n"
_ANTHROPIC_ID = b"request-id: req_bench\r\n"
REQUEST_ID: dict[Wire, bytes] = {
    "chat": _OPENAI_ID,
    "responses": _OPENAI_ID,
    "messages": _ANTHROPIC_ID,
}

_JSON_HEAD = b"HTTP/1.1 %s\r\ncontent-type: application/json\r\n%scontent-length: %d\r\n\r\n"


def json_response(
    body: bytes, request_id: bytes = b"", status: bytes = b"200 OK", length: int | None = None
) -> bytes:
    """A JSON answer's status line, headers and `body`; `length`: a content-length other
    than the body's, for an answer cut off half-way."""
    size = len(body) if length is None else length
    return _JSON_HEAD % (status, request_id, size) + body


def sse_response(events: tuple[bytes, ...], request_id: bytes, end: bool = True) -> bytes:
    """A stream's status line and headers, then `events` as chunks; `end`: with the last
    chunk, which a broken or stalled stream never sends."""
    parts = [
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n%s"
        b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n" % request_id
    ]
    parts += [b"%x\r\n%s\r\n" % (len(event), event) for event in events]
    if end:
        parts.append(b"0\r\n\r\n")
    return b"".join(parts)


_NOT_FOUND_BODY = b'{"error":{"message":"not found","type":"invalid_request_error"}}'
NOT_FOUND = json_response(_NOT_FOUND_BODY, status=b"404 Not Found")

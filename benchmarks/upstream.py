"""A fast fake LLM upstream on loopback: `python -m benchmarks.upstream [--port P] [--delay S]`.

Speaks just enough of three wire formats for the benchmarks, as the providers send them:
OpenAI Chat Completions (`POST /v1/chat/completions`, JSON or SSE chunks ending in
`data: [DONE]`), OpenAI Responses (`POST /v1/responses`, JSON or the named SSE events from
`response.created` to `response.completed`, numbered) and Anthropic Messages
(`POST /v1/messages`, JSON or the named SSE events from `message_start` to `message_stop`,
with the `ping` Anthropic sends after the first block opens). Every answer is the same short
text; `--delay` waits that long before answering, to stand in for a model's latency. Each
answer carries a request id header, as the providers' do (cortexd passes it on).

Faults, for `benchmarks/faults.py`: a request may ask for one of `FAULTS` with the header
``x-bench-fault: <fault>`` (whatever its model), or with ``bench-fault:<fault>:<model id>``
anywhere in its body (a router passes the prompt on), which applies only to requests for
that model, so that a router's fallback to another model is answered as usual:

- ``hang``: the request is read and nothing is ever sent;
- ``stall``: the stream's opening events are sent (Anthropic ``message_start``, Responses
  ``response.created``, Chat Completions the role chunk; a JSON answer's status line and
  headers), then nothing;
- ``overload``: Anthropic's 529 ``overloaded_error``, OpenAI's 503;
- ``break``: the stream's opening events and two words of content (a JSON answer's headers
  and half its body), then the connection is closed, without the stream's end.

It is a bare asyncio protocol on uvloop rather than an ASGI app so that it costs as little
CPU per request as possible: the upstream shares the two cores with what is measured.
Prints ``port N`` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from functools import lru_cache
from typing import Any, cast

import uvloop

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


_NOT_FOUND_BODY = b'{"error":{"message":"not found","type":"invalid_request_error"}}'
_NOT_FOUND = (
    b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_NOT_FOUND_BODY), _NOT_FOUND_BODY)
)


# The request id header each provider sends on every answer.
_OPENAI_ID = b"x-request-id: req_bench\r\n"
_ANTHROPIC_ID = b"request-id: req_bench\r\n"

#: What a request may ask the upstream to do instead of answering (see the module's doc).
FAULTS = ("hang", "stall", "overload", "break")
_FAULT_HEADER = "x-bench-fault"
# A model id ends with a letter or digit: a full stop after the marker is not part of it.
_FAULT_MARK = re.compile(rb"bench-fault:([a-z]+):([A-Za-z0-9._-]*[A-Za-z0-9])")


def fault_mark(fault: str, model_id: str) -> str:
    """The text that, anywhere in a request's body, makes requests for `model_id` fail so.

    >>> fault_mark("hang", "claude-opus-5-5")
    'bench-fault:hang:claude-opus-5-5'
    """
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}: one of {', '.join(FAULTS)}")
    return f"bench-fault:{fault}:{model_id}"


def _marked_fault(body: bytes, model: str) -> str | None:
    """The fault a marker in `body` asks of requests for `model`, if any."""
    if b"bench-fault:" not in body:  # the common case costs one search
        return None
    for fault, marked in _FAULT_MARK.findall(body):
        if marked.decode() == model:
            return str(fault.decode())  # an unknown one is refused (400), not ignored
    return None


# How many of a stream's events open it (sent before a stall), and how many come before a
# break (the opening ones and two words of content), per wire format.
_STALL_AFTER = {"chat": 1, "responses": 1, "messages": 1}
_BREAK_AFTER = {"chat": 3, "responses": 6, "messages": 5}

_OVERLOADED_ANTHROPIC = json.dumps(
    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"},
     "request_id": "req_bench"}
).encode()  # fmt: skip
_OVERLOADED_OPENAI = json.dumps(
    {"error": {"message": "The server is overloaded or not ready yet.",
               "type": "server_error", "param": None, "code": None}}
).encode()  # fmt: skip


class _Upstream(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; requests are answered in order."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.queue: asyncio.Queue[tuple[bytes, bytes, str]] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.worker = asyncio.get_running_loop().create_task(self._answer())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            length = 0
            fault = ""
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == _FAULT_HEADER:
                    fault = value.strip()
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            path = head.split(" ", 2)[1].encode()
            self.queue.put_nowait((path, body, fault))

    async def _answer(self) -> None:
        assert self.transport is not None
        while True:
            path, body, fault = await self.queue.get()
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.transport.is_closing():
                return
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                request = {}
            model = str(request.get("model", "bench"))
            stream = bool(request.get("stream"))
            fault = fault or _marked_fault(body, model) or ""
            if fault:
                if not await self._fault(fault, path, model, stream):
                    return  # the connection was closed
                continue
            if path.endswith(b"/chat/completions"):
                answer = _openai_sse(model) if stream else _openai_json(model)
                self._send(answer, stream, _OPENAI_ID)
            elif path.endswith(b"/responses"):
                answer = _responses_sse(model) if stream else _responses_json(model)
                self._send(answer, stream, _OPENAI_ID)
            elif path.endswith(b"/messages"):
                answer = _anthropic_sse(model) if stream else _anthropic_json(model)
                self._send(answer, stream, _ANTHROPIC_ID)
            else:
                self.transport.write(_NOT_FOUND)

    async def _fault(self, fault: str, path: bytes, model: str, stream: bool) -> bool:
        """Fail the request as `fault` says; False when the connection is closed after it.

        A hang or a stall never returns: the worker waits until the client goes away, which
        cancels it (`connection_lost`)."""
        assert self.transport is not None
        if fault not in FAULTS:
            body = json.dumps({"error": {"message": f"unknown fault {fault!r}",
                                         "type": "invalid_request_error"}}).encode()  # fmt: skip
            self.transport.write(
                b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(body), body)
            )
            return True
        if path.endswith(b"/messages"):
            wire, request_id = "messages", _ANTHROPIC_ID
            answer = _anthropic_sse(model) if stream else _anthropic_json(model)
        elif path.endswith(b"/responses"):
            wire, request_id = "responses", _OPENAI_ID
            answer = _responses_sse(model) if stream else _responses_json(model)
        else:
            wire, request_id = "chat", _OPENAI_ID
            answer = _openai_sse(model) if stream else _openai_json(model)
        if fault == "overload":
            if wire == "messages":
                status, body = b"529 Overloaded", _OVERLOADED_ANTHROPIC
            else:
                status, body = b"503 Service Unavailable", _OVERLOADED_OPENAI
            self.transport.write(
                b"HTTP/1.1 %s\r\ncontent-type: application/json\r\n%s"
                b"content-length: %d\r\n\r\n%s" % (status, request_id, len(body), body)
            )
            return True
        if fault == "hang":
            await asyncio.Event().wait()
        if isinstance(answer, tuple):
            count = (_STALL_AFTER if fault == "stall" else _BREAK_AFTER)[wire]
            head = (
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n%s"
                b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n" % request_id
            )
            self.transport.write(
                head + b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in answer[:count])
            )
        else:
            part = b"" if fault == "stall" else answer[: len(answer) // 2]
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n%s"
                b"content-length: %d\r\n\r\n%s" % (request_id, len(answer), part)
            )
        if fault == "stall":
            await asyncio.Event().wait()
        self.transport.close()  # written first, then closed: the answer ends half-way
        return False

    def _send(self, payload: bytes | tuple[bytes, ...], stream: bool, request_id: bytes) -> None:
        assert self.transport is not None
        if not stream:
            assert isinstance(payload, bytes)
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n%s"
                b"content-length: %d\r\n\r\n%s" % (request_id, len(payload), payload)
            )
            return
        assert isinstance(payload, tuple)
        parts = [
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n%s"
            b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n" % request_id
        ]
        parts += [b"%x\r\n%s\r\n" % (len(event), event) for event in payload]
        parts.append(b"0\r\n\r\n")
        self.transport.write(b"".join(parts))


async def serve(port: int, delay: float) -> None:
    """Listen on 127.0.0.1:`port` (0: any free port) until cancelled."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Upstream(delay), "127.0.0.1", port, backlog=1024)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    try:
        uvloop.run(serve(args.port, args.delay))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()

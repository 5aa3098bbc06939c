"""A fast fake LLM upstream on loopback: `python -m benchmarks.upstream [--port P] [--delay S]`.

Speaks just enough of two wire formats for the benchmarks, exactly as the providers send
them: OpenAI Chat Completions (`POST /v1/chat/completions`, JSON or SSE chunks ending in
`data: [DONE]`) and Anthropic Messages (`POST /v1/messages`, JSON or the named SSE events
from `message_start` to `message_stop`). Every answer is the same short text; `--delay`
waits that long before answering, to stand in for a model's latency.

It is a bare asyncio protocol on uvloop rather than an ASGI app so that it costs as little
CPU per request as possible: the upstream shares the two cores with what is measured.
Prints ``port N`` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import cast

import uvloop

WORDS = ("The", " answer", " is", " 42", ".")
TEXT = "".join(WORDS)
USAGE_IN, USAGE_OUT = 12, len(WORDS)


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


def _openai_sse(model: str) -> list[bytes]:
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
    return events


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
            "usage": {"input_tokens": USAGE_IN, "output_tokens": USAGE_OUT},
        }
    ).encode()


def _anthropic_sse(model: str) -> list[bytes]:
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
        "usage": {"input_tokens": USAGE_IN, "output_tokens": 1},
    }
    events = [
        event({"type": "message_start", "message": start}),
        event({"type": "content_block_start", "index": 0,
               "content_block": {"type": "text", "text": ""}}),
    ]
    events += [
        event({"type": "content_block_delta", "index": 0,
               "delta": {"type": "text_delta", "text": word}})
        for word in WORDS
    ]
    events += [
        event({"type": "content_block_stop", "index": 0}),
        event({"type": "message_delta",
               "delta": {"stop_reason": "end_turn", "stop_sequence": None},
               "usage": {"output_tokens": USAGE_OUT}}),
        event({"type": "message_stop"}),
    ]
    return events


_NOT_FOUND_BODY = b'{"error":{"message":"not found","type":"invalid_request_error"}}'
_NOT_FOUND = (
    b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_NOT_FOUND_BODY), _NOT_FOUND_BODY)
)


class _Upstream(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; requests are answered in order."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.queue: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue()
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
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            path = head.split(" ", 2)[1].encode()
            self.queue.put_nowait((path, body))

    async def _answer(self) -> None:
        assert self.transport is not None
        while True:
            path, body = await self.queue.get()
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
            if path.endswith(b"/chat/completions"):
                self._send(_openai_sse(model) if stream else _openai_json(model), stream)
            elif path.endswith(b"/messages"):
                self._send(_anthropic_sse(model) if stream else _anthropic_json(model), stream)
            else:
                self.transport.write(_NOT_FOUND)

    def _send(self, payload: bytes | list[bytes], stream: bool) -> None:
        assert self.transport is not None
        if not stream:
            assert isinstance(payload, bytes)
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(payload), payload)
            )
            return
        assert isinstance(payload, list)
        parts = [
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
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

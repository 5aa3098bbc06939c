"""A fast fake LLM upstream on loopback: `python -m benchmarks.upstream [--port P] [--delay S]`.

Speaks just enough of three wire formats for the benchmarks, as the providers send them:
OpenAI Chat Completions (`POST /v1/chat/completions`, JSON or SSE chunks ending in
`data: [DONE]`), OpenAI Responses (`POST /v1/responses`, JSON or the named SSE events from
`response.created` to `response.completed`, numbered) and Anthropic Messages
(`POST /v1/messages`, JSON or the named SSE events from `message_start` to `message_stop`,
with the `ping` Anthropic sends after the first block opens). Every answer is the same short
text; `--delay` waits that long before answering, to stand in for a model's latency. Each
answer carries a request id header, as the providers' do (cortexd passes it on).

Faults, for `benchmarks/faults.py` (`benchmarks/upstream_faults.py`): a request may ask for
one of them with the header ``x-bench-fault: <fault>`` (whatever its model), or with
``bench-fault:<fault>:<model id>`` anywhere in its body (a router passes the prompt on),
which applies only to requests for that model, so that a router's fallback to another model
is answered as usual:

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
import sys
from typing import cast

import uvloop

from benchmarks.upstream_answers import (
    NOT_FOUND,
    REQUEST_ID,
    Answer,
    answer,
    json_response,
    sse_response,
    wire_of,
)
from benchmarks.upstream_faults import FAULT_HEADER, fail, marked_fault


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
                elif name == FAULT_HEADER:
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
            fault = fault or marked_fault(body, model) or ""
            if fault:
                if not await fail(self.transport, fault, path, model, stream):
                    return  # the connection was closed
                continue
            wire = wire_of(path)
            if wire is None:
                self.transport.write(NOT_FOUND)
            else:
                self._send(answer(wire, model, stream), stream, REQUEST_ID[wire])

    def _send(self, payload: Answer, stream: bool, request_id: bytes) -> None:
        assert self.transport is not None
        if not stream:
            assert isinstance(payload, bytes)
            self.transport.write(json_response(payload, request_id))
            return
        assert isinstance(payload, tuple)
        self.transport.write(sse_response(payload, request_id))


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

"""The fake upstream's faults (for benchmarks/faults.py): how a request asks for one, and
failing it so.

A request asks for one of `FAULTS` with the header ``x-bench-fault: <fault>`` (whatever its
model), or with ``bench-fault:<fault>:<model id>`` anywhere in its body (a router passes the
prompt on), which applies only to requests for that model, so that a router's fallback to
another model is answered as usual. What each fault does is in benchmarks/upstream.py's
docstring, the command's help.
"""

from __future__ import annotations

import asyncio
import json
import re

from benchmarks.upstream_answers import (
    REQUEST_ID,
    answer,
    json_response,
    sse_response,
    wire_of,
)

#: What a request may ask the upstream to do instead of answering (see the module's doc).
FAULTS = ("hang", "stall", "overload", "break")
FAULT_HEADER = "x-bench-fault"
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


def marked_fault(body: bytes, model: str) -> str | None:
    """The fault a marker in `body` asks of requests for `model`, if any.

    >>> marked_fault(b'{"content": "hi (bench-fault:stall:gpt-4o). There"}', "gpt-4o")
    'stall'
    >>> marked_fault(b'{"content": "hi (bench-fault:stall:gpt-4o)"}', "sonnet") is None
    True
    """
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


async def fail(
    transport: asyncio.Transport, fault: str, path: bytes, model: str, stream: bool
) -> bool:
    """Fail the request as `fault` says; False when the connection is closed after it.

    A hang or a stall never returns: the caller waits until the client goes away, which
    cancels it (the connection's `connection_lost`)."""
    if fault not in FAULTS:
        body = json.dumps({"error": {"message": f"unknown fault {fault!r}",
                                     "type": "invalid_request_error"}}).encode()  # fmt: skip
        transport.write(json_response(body, status=b"400 Bad Request"))
        return True
    wire = wire_of(path) or "chat"  # a fault is applied whatever the path
    request_id = REQUEST_ID[wire]
    payload = answer(wire, model, stream)
    if fault == "overload":
        if wire == "messages":
            status, body = b"529 Overloaded", _OVERLOADED_ANTHROPIC
        else:
            status, body = b"503 Service Unavailable", _OVERLOADED_OPENAI
        transport.write(json_response(body, request_id, status))
        return True
    if fault == "hang":
        await asyncio.Event().wait()
    if isinstance(payload, tuple):
        count = (_STALL_AFTER if fault == "stall" else _BREAK_AFTER)[wire]
        transport.write(sse_response(payload[:count], request_id, end=False))
    else:
        # The whole answer's length, and none or half of it: the client waits for the rest.
        part = b"" if fault == "stall" else payload[: len(payload) // 2]
        transport.write(json_response(part, request_id, length=len(payload)))
    if fault == "stall":
        await asyncio.Event().wait()
    transport.close()  # written first, then closed: the answer ends half-way
    return False

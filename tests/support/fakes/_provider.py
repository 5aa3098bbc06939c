"""What every provider fake shares: routing, the script queue, and turning faults into replies."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus

from .script import Fault, Script, Turn
from .server import Action, FakeServer, Hang, RecordedRequest, Reply, Reset

Route = Callable[[RecordedRequest], Action]

# The HTTP status that goes with an in-stream error type, for a non-streaming request. Only
# Anthropic answers overload with 529 (its fake overrides this); the others use 503.
_STATUS_FOR_ERROR_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "api_error": 500,
    "server_error": 500,
    "overloaded_error": 503,
}


@dataclass(frozen=True)
class Event:
    """One event of a stream, already framed; ``content`` marks the events a Fault counts."""

    data: bytes
    content: bool = False


@dataclass(frozen=True)
class StreamPlan:
    """A streamed answer: its events, and how the provider frames an in-stream error.

    ``error(sent, fault)`` returns the framed error events, given how many events were sent.
    """

    events: list[Event]
    content_type: str
    error: Callable[[int, Fault], list[bytes]]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JsonPlan:
    """A one-piece JSON answer."""

    payload: object
    headers: Mapping[str, str] = field(default_factory=dict)


Plan = StreamPlan | JsonPlan
Render = Callable[[RecordedRequest, Turn], Plan]


def new_id(prefix: str, length: int = 24) -> str:
    """A random id in the provider's style, e.g. ``msg_`` + hex."""
    return prefix + secrets.token_hex(length // 2)


def split_text(text: str) -> list[str]:
    """Split text into word-sized pieces (leading whitespace kept) that join back to it."""
    return re.findall(r"\s*\S+|\s+$", text) if text else []


def split_fixed(text: str, size: int = 8) -> list[str]:
    """Split text into pieces of at most ``size`` characters."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def cut_events(events: list[Event], after: int) -> list[Event]:
    """The events up to and including the ``after``-th content event."""
    if after <= 0:
        for index, event in enumerate(events):
            if event.content:
                return events[:index]
        return list(events)
    seen = 0
    for index, event in enumerate(events):
        if event.content:
            seen += 1
            if seen == after:
                return events[: index + 1]
    return list(events)


class ProviderFake(FakeServer):
    """A FakeServer with a route table and a script of turns and faults.

    Subclasses register routes, render turns as JSON or stream plans, and say how their
    provider shapes an error body.
    """

    # The response header that carries the provider's request id, if it has one.
    request_id_header: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self._script = Script()
        self._routes: dict[tuple[str, str], Route] = {}
        # Sent on every reply, errors and streams included, as the providers do; a test may
        # replace the mapping (e.g. to show a spent limit) between requests.
        self.rate_limit_headers: dict[str, str] = {}

    def enqueue(self, *items: Turn | Fault) -> None:
        """Queue answers for the next scripted requests (generation and embeddings)."""
        self._script.enqueue(*items)

    def clear(self) -> None:
        """Drop queued items and recorded requests, e.g. between tests sharing one fake."""
        self._script.clear()
        self.clear_requests()

    @property
    def pending(self) -> int:
        """How many queued items are still unanswered."""
        return len(self._script)

    def handle(self, request: RecordedRequest) -> Action:
        refusal = self.check_request(request)
        if refusal is not None:
            return refusal
        route = self._routes.get((request.method, request.path))
        return route(request) if route is not None else self.route_fallback(request)

    # -- for subclasses --------------------------------------------------------------------

    def route(self, method: str, path: str, handler: Route) -> None:
        """Register ``handler`` for ``method`` ``path``."""
        self._routes[(method, path)] = handler

    def route_fallback(self, request: RecordedRequest) -> Action:
        """Answer a request no route matched (dynamic paths, else a 404)."""
        return self.error_reply(404, f"Not found: {request.method} {request.path}")

    def check_request(self, request: RecordedRequest) -> Action | None:
        """A refusal (e.g. missing credentials) checked before routing, or None."""
        return None

    def error_payload(
        self,
        status: int,
        message: str,
        error_type: str | None,
        error_code: str | None,
        request_id: str | None,
    ) -> object:
        """The provider's documented error body."""
        raise NotImplementedError

    def reply_headers(self) -> dict[str, str]:
        """The rate-limit headers, and a fresh request id where the provider sends one."""
        headers = dict(self.rate_limit_headers)
        if self.request_id_header is not None:
            headers[self.request_id_header] = new_id("req_")
        return headers

    def default_message(self, status: int) -> str:
        """The error message used when a Fault gives none."""
        return "Overloaded" if status == 529 else _phrase(status)

    def status_for_error_type(self, error_type: str | None) -> int:
        """The HTTP status for an in-stream error type, used on non-streaming requests."""
        return _STATUS_FOR_ERROR_TYPE.get(error_type or "", 500)

    def error_reply(
        self,
        status: int,
        message: str | None = None,
        *,
        error_type: str | None = None,
        error_code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """An error reply in the provider's shape."""
        base = self.reply_headers()
        request_id = base.get(self.request_id_header) if self.request_id_header else None
        payload = self.error_payload(
            status, message or self.default_message(status), error_type, error_code, request_id
        )
        return Reply(
            status=status,
            headers={"content-type": "application/json", **base, **(headers or {})},
            body=json.dumps(payload).encode(),
        )

    def json_reply(self, payload: object, status: int = 200) -> Reply:
        """A JSON reply with the provider's usual headers."""
        return Reply(
            status=status,
            headers={"content-type": "application/json", **self.reply_headers()},
            body=json.dumps(payload).encode(),
        )

    def scripted(self, request: RecordedRequest, render: Render) -> Action:
        """Answer a scripted endpoint with the next queued item."""
        item = self._script.next()
        if isinstance(item, Turn):
            return self._realize(render(request, item), item, None)
        fault = item
        if fault.kind == "status":
            return self._status_reply(fault)
        if fault.kind == "hang":
            return Hang()
        if fault.kind == "reset":
            return Reset()
        if fault.kind == "malformed_json":
            return Reply(
                headers={"content-type": "application/json", **self.reply_headers()},
                body=b'{"id": "broken", "content": [',
            )
        turn = Turn()
        return self._realize(render(request, turn), turn, fault)

    def _status_reply(self, fault: Fault) -> Reply:
        if fault.body is None:
            return self.error_reply(
                fault.code,
                fault.message,
                error_type=fault.error_type,
                error_code=fault.error_code,
                headers=fault.headers,
            )
        if isinstance(fault.body, bytes | str):
            body = fault.body.encode() if isinstance(fault.body, str) else fault.body
            content_type = "text/plain"
        else:
            body = json.dumps(fault.body).encode()
            content_type = "application/json"
        return Reply(
            status=fault.code,
            headers={"content-type": content_type, **self.reply_headers(), **fault.headers},
            body=body,
        )

    def _realize(self, plan: Plan, turn: Turn, fault: Fault | None) -> Action:
        if isinstance(plan, JsonPlan):
            body = json.dumps(plan.payload).encode()
            headers = {"content-type": "application/json", **self.reply_headers(), **plan.headers}
            if fault is None:
                return Reply(headers=headers, body=body, delay=turn.delay)
            if fault.kind == "break_stream":
                return Reply(headers=headers, chunks=[body[: len(body) // 2]], truncate=True)
            return self.error_reply(
                self.status_for_error_type(fault.error_type),
                fault.message,
                error_type=fault.error_type,
            )
        headers = {
            "content-type": plan.content_type,
            "cache-control": "no-cache",
            **self.reply_headers(),
            **plan.headers,
        }
        if fault is None:
            chunks = [event.data for event in plan.events]
            return Reply(
                headers=headers, chunks=chunks, delay=turn.delay, chunk_delay=turn.chunk_delay
            )
        sent = cut_events(plan.events, fault.after)
        chunks = [event.data for event in sent]
        if fault.kind == "break_stream":
            return Reply(headers=headers, chunks=chunks, truncate=True)
        return Reply(headers=headers, chunks=chunks + plan.error(len(sent), fault))


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"

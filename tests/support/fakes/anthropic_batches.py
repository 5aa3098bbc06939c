"""Anthropic's Message Batches API, for FakeAnthropic: create, retrieve, list, results (JSON
Lines at the batch's ``results_url``), cancel, and expiry, as the API documents them.

Each request of a batch is answered from the fake's script when the batch is created, as
``POST /v1/messages`` would answer it (a `Fault` with a status becomes an ``errored``
result), but the batch stays ``in_progress`` until it has been retrieved `polls` times, so
a client has to poll as it would for a real one. `expire` ends a batch with its unfinished
requests ``expired``; a cancel ends it with them ``canceled``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ._provider import JsonPlan, new_id
from .script import Fault, Turn
from .server import Action, Hang, RecordedRequest, Reply, Reset

if TYPE_CHECKING:
    from .anthropic import FakeAnthropic

_PATH = re.compile(r"^/v1/messages/batches/(?P<id>[^/]+)(?P<tail>/results|/cancel)?$")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class FakeBatch:
    """One batch: its requests' results (fixed at creation) and how far it has got."""

    id: str
    results: list[dict[str, Any]]
    created_at: str = field(default_factory=_now)
    polls_left: int = 1
    ended_at: str | None = None
    cancel_initiated_at: str | None = None
    #: Requests not yet done when the batch ended early: canceled or expired.
    cut_short: str | None = None


class MessageBatches:
    """The Message Batches endpoints over a FakeAnthropic's script."""

    def __init__(self, fake: FakeAnthropic) -> None:
        self._fake = fake
        self.batches: dict[str, FakeBatch] = {}
        #: How many retrieves a new batch stays in progress for.
        self.polls = 1
        #: Make the next batch, then answer its create so (a `Reset`, a `Hang`): the
        #: client never learns it was made.
        self.lose_create: Reset | Hang | None = None
        #: The requests each batch was created with (custom_id → params), for assertions.
        self.created: list[dict[str, Any]] = []

    def create(self, request: RecordedRequest) -> Action:
        body = request.json if isinstance(request.json, dict) else {}
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            return self._fake.error_reply(400, "requests: must be a non-empty list")
        ids = [r.get("custom_id") for r in requests if isinstance(r, dict)]
        if len(ids) != len(requests) or len(set(ids)) != len(ids):
            return self._fake.error_reply(400, "requests: each needs a unique custom_id")
        results = [self._answer(r["custom_id"], r.get("params") or {}) for r in requests]
        batch = FakeBatch(new_id("msgbatch_01"), results, polls_left=self.polls)
        self.batches[batch.id] = batch
        self.created.append({r["custom_id"]: r.get("params") for r in requests})
        if self.lose_create is not None:
            # The batch is made; the answer never reaches the client.
            lost, self.lose_create = self.lose_create, None
            return lost
        return self._fake.json_reply(self._object(batch, request))

    def _answer(self, custom_id: str, params: dict[str, Any]) -> dict[str, Any]:
        item = self._fake._script.next()
        if isinstance(item, Fault):
            status = item.code or 500
            kind = {
                400: "invalid_request_error",
                429: "rate_limit_error",
                529: "overloaded_error",
            }.get(status, "api_error")
            error = {"type": "error", "error": {"type": kind, "message": item.message or kind}}
            return {"custom_id": custom_id, "result": {"type": "errored", "error": error}}
        turn = item if isinstance(item, Turn) else Turn()
        plan = self._fake._render(
            RecordedRequest("POST", "/v1/messages", {}, {}, b"", params), turn
        )
        assert isinstance(plan, JsonPlan)
        return {"custom_id": custom_id, "result": {"type": "succeeded", "message": plan.payload}}

    def route(self, request: RecordedRequest) -> Action | None:
        """The answer to a batch path with an id, or None for another path."""
        m = _PATH.match(request.path)
        if m is None:
            return None
        batch = self.batches.get(m["id"])
        if batch is None:
            return self._fake.error_reply(404, f"message batch {m['id']} not found")
        tail = m["tail"]
        if tail is None and request.method == "GET":
            if batch.ended_at is None:
                batch.polls_left -= 1
                if batch.polls_left < 0:
                    batch.ended_at = _now()
            return self._fake.json_reply(self._object(batch, request))
        if tail == "/results" and request.method == "GET":
            if batch.ended_at is None:
                return self._fake.error_reply(400, f"batch {batch.id} is still in progress")
            lines = "".join(json.dumps(r) + "\n" for r in self._final(batch))
            return Reply(headers={"content-type": "application/binary"}, body=lines.encode())
        if tail == "/cancel" and request.method == "POST":
            if batch.ended_at is None:
                batch.cancel_initiated_at = batch.ended_at = _now()
                batch.cut_short = "canceled"
            return self._fake.json_reply(self._object(batch, request))
        return self._fake.error_reply(405, f"{request.method} not allowed on {request.path}")

    def expire(self, batch_id: str) -> None:
        """End a batch as the API does after 24 hours: what was not done has expired."""
        batch = self.batches[batch_id]
        batch.ended_at, batch.cut_short = _now(), "expired"

    def listing(self, request: RecordedRequest) -> Action:
        data = [self._object(b, request) for b in reversed(self.batches.values())]
        first = data[0]["id"] if data else None
        last = data[-1]["id"] if data else None
        return self._fake.json_reply(
            {"data": data, "has_more": False, "first_id": first, "last_id": last}
        )

    def _final(self, batch: FakeBatch) -> list[dict[str, Any]]:
        """The results as they stand: an early end leaves the later half not done."""
        if batch.cut_short is None:
            return batch.results
        done = len(batch.results) // 2
        cut = [
            {"custom_id": r["custom_id"], "result": {"type": batch.cut_short}}
            for r in batch.results[done:]
        ]
        return batch.results[:done] + cut

    def _object(self, batch: FakeBatch, request: RecordedRequest) -> dict[str, Any]:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if batch.ended_at is None:
            counts["processing"] = len(batch.results)
        else:
            for r in self._final(batch):
                counts[r["result"]["type"]] += 1
        host = request.header("host") or "127.0.0.1"
        created = datetime.fromisoformat(batch.created_at.replace("Z", "+00:00"))
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended"
            if batch.ended_at
            else ("canceling" if batch.cancel_initiated_at else "in_progress"),
            "request_counts": counts,
            "ended_at": batch.ended_at,
            "created_at": batch.created_at,
            "expires_at": (created + timedelta(hours=24)).isoformat().replace("+00:00", "Z"),
            "archived_at": None,
            "cancel_initiated_at": batch.cancel_initiated_at,
            "results_url": f"http://{host}/v1/messages/batches/{batch.id}/results"
            if batch.ended_at
            else None,
        }

"""OpenAI's Files and Batch APIs, for FakeOpenAI: a file uploaded as multipart form data, a
batch made from it, polled until it completes, its output and error files, cancel, expiry.

Each line of a batch's input file is answered from the fake's script when the batch is
created, as its endpoint would answer it; a `Fault` with a status goes to the error file
with that status, as OpenAI files a failed request. The batch stays ``in_progress`` until it
has been retrieved `polls` times. A cancel or `expire` ends it with the second half of its
lines not done: those appear in neither file, and the counts say so.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._provider import JsonPlan, new_id
from .script import Fault, Turn
from .server import Action, Hang, RecordedRequest, Reply, Reset

if TYPE_CHECKING:
    from .openai import FakeOpenAI

_FILE = re.compile(r"^/v1/files/(?P<id>[^/]+)(?P<tail>/content)?$")
_BATCH = re.compile(r"^/v1/batches/(?P<id>[^/]+)(?P<tail>/cancel)?$")


@dataclass
class FakeOpenAIBatch:
    """One batch: its lines' outcomes (fixed at creation) and how far it has got."""

    id: str
    endpoint: str
    input_file_id: str
    answered: list[tuple[bool, str]]  # (succeeded, the output line)
    metadata: dict[str, str] | None
    created_at: int = field(default_factory=lambda: int(time.time()))
    polls_left: int = 1
    status: str = "in_progress"
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0


class OpenAIBatches:
    """The Files and Batch endpoints over a FakeOpenAI's script."""

    def __init__(self, fake: FakeOpenAI, renders: dict[str, Any]) -> None:
        self._fake = fake
        self._renders = renders  # endpoint → the fake's renderer for it
        self.files: dict[str, tuple[dict[str, Any], bytes]] = {}
        self.batches: dict[str, FakeOpenAIBatch] = {}
        #: How many retrieves a new batch stays in progress for.
        self.polls = 1
        #: Make the next batch, then answer its create so (a `Reset`, a `Hang`): the
        #: client never learns it was made.
        self.lose_create: Reset | Hang | None = None

    # -- files -----------------------------------------------------------------------------

    def upload(self, request: RecordedRequest) -> Action:
        kind = request.header("content-type") or ""
        message = email.parser.BytesParser(policy=email.policy.default).parsebytes(
            f"Content-Type: {kind}\r\n\r\n".encode() + request.body
        )
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = (part.get_filename(), payload)
        if "file" not in fields or "purpose" not in fields:
            return self._fake.error_reply(400, "'file' and 'purpose' are required")
        filename, data = fields["file"]
        return self._fake.json_reply(
            self._add(data, filename or "upload.jsonl", fields["purpose"][1].decode())
        )

    def _add(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        info = {
            "id": new_id("file-"),
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
        }
        self.files[info["id"]] = (info, data)
        return info

    # -- batches ---------------------------------------------------------------------------

    def create(self, request: RecordedRequest) -> Action:
        body = request.json if isinstance(request.json, dict) else {}
        endpoint, file_id = body.get("endpoint"), body.get("input_file_id")
        if endpoint not in self._renders:
            return self._fake.error_reply(400, f"Invalid endpoint: {endpoint!r}")
        if file_id not in self.files:
            return self._fake.error_reply(404, f"No such File object: {file_id}")
        lines = self.files[file_id][1].decode().splitlines()
        answered = [self._answer(json.loads(line), endpoint) for line in lines if line.strip()]
        batch = FakeOpenAIBatch(
            new_id("batch_"),
            endpoint,
            file_id,
            answered,
            body.get("metadata"),
            polls_left=self.polls,
            total=len(answered),
        )
        self.batches[batch.id] = batch
        if self.lose_create is not None:
            # The batch is made; the answer never reaches the client.
            lost, self.lose_create = self.lose_create, None
            return lost
        return self._fake.json_reply(self._object(batch))

    def _answer(self, line: dict[str, Any], endpoint: str) -> tuple[bool, str]:
        params = line.get("body") or {}
        item = self._fake._script.next()
        if isinstance(item, Fault):
            status = item.code or 500
            body = self._fake.error_payload(status, item.message or "failed", None, None, None)
        else:
            turn = item if isinstance(item, Turn) else Turn()
            fake_request = RecordedRequest("POST", endpoint, {}, {}, b"", params)
            plan = self._renders[endpoint](fake_request, turn)
            assert isinstance(plan, JsonPlan)
            status, body = 200, plan.payload
        response = {"status_code": status, "request_id": new_id("req_"), "body": body}
        out = {
            "id": new_id("batch_req_"),
            "custom_id": line.get("custom_id"),
            "response": response,
            "error": None,
        }
        return status < 400, json.dumps(out)

    def route(self, request: RecordedRequest) -> Action | None:
        """The answer to a file or batch path with an id, or None for another path."""
        m = _FILE.match(request.path)
        if m is not None and request.method == "GET":
            found = self.files.get(m["id"])
            if found is None:
                return self._fake.error_reply(404, f"No such File object: {m['id']}")
            if m["tail"]:
                return Reply(headers={"content-type": "application/octet-stream"}, body=found[1])
            return self._fake.json_reply(found[0])
        m = _BATCH.match(request.path)
        if m is None:
            return None
        batch = self.batches.get(m["id"])
        if batch is None:
            return self._fake.error_reply(404, f"No batch found with id '{m['id']}'")
        if m["tail"] and request.method == "POST":
            if batch.status == "in_progress":
                self._end(batch, "cancelled")
            return self._fake.json_reply(self._object(batch))
        if request.method == "GET":
            if batch.status == "in_progress":
                batch.polls_left -= 1
                if batch.polls_left < 0:
                    self._end(batch, "completed")
            return self._fake.json_reply(self._object(batch))
        return self._fake.error_reply(405, f"{request.method} not allowed")

    def expire(self, batch_id: str) -> None:
        """End a batch as OpenAI does after its completion window: part of it not done."""
        self._end(self.batches[batch_id], "expired")

    def listing(self, request: RecordedRequest) -> Action:
        data = [self._object(b) for b in reversed(self.batches.values())]
        return self._fake.json_reply(
            {
                "object": "list",
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )

    def _end(self, batch: FakeOpenAIBatch, status: str) -> None:
        done = (
            batch.answered if status == "completed" else batch.answered[: len(batch.answered) // 2]
        )
        good = "".join(line + "\n" for ok, line in done if ok)
        bad = "".join(line + "\n" for ok, line in done if not ok)
        if good:
            batch.output_file_id = self._add(
                good.encode(), f"{batch.id}_output.jsonl", "batch_output"
            )["id"]
        if bad:
            batch.error_file_id = self._add(
                bad.encode(), f"{batch.id}_error.jsonl", "batch_output"
            )["id"]
        batch.status = status
        batch.answered = done

    def _object(self, batch: FakeOpenAIBatch) -> dict[str, Any]:
        ended = batch.status != "in_progress"
        failed = sum(not ok for ok, _ in batch.answered) if ended else 0
        done = len(batch.answered) if ended else 0
        now = int(time.time())
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "errors": None,
            "input_file_id": batch.input_file_id,
            "completion_window": "24h",
            "status": batch.status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "created_at": batch.created_at,
            "in_progress_at": batch.created_at,
            "expires_at": batch.created_at + 86400,
            "finalizing_at": now if ended else None,
            "completed_at": now if batch.status == "completed" else None,
            "failed_at": None,
            "expired_at": now if batch.status == "expired" else None,
            "cancelling_at": now if batch.status == "cancelled" else None,
            "cancelled_at": now if batch.status == "cancelled" else None,
            "request_counts": {"total": batch.total, "completed": done - failed, "failed": failed},
            "metadata": batch.metadata,
        }

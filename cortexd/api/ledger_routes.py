"""The ledger's endpoints: ``/v1/stats``, ``/v1/costs``, ``/v1/calls``, ``/v1/feedback``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from cortexd.api.body import read_json
from cortexd.api.budgets import budget_json
from cortexd.api.errors import ApiError
from cortexd.api.validation import _Model, parse_body
from cortexd.ledger import Feedback, call_views, queries
from cortexd.ledger.months import Month, PeriodError, parse_since
from cortexd.routing import nearest_task
from cortexd.services import Services


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def stats(request: Request) -> Response:
    """``GET /v1/stats?since=7d&task=…&by=client|project|session``: the task type × model
    table (grouped `by`, with each group's totals) and spend per day (default: this month)."""
    services = _services(request)
    now = time.time()
    params = request.query_params
    try:
        since = parse_since(params["since"], now) if "since" in params else Month.of(now).start
    except PeriodError as error:
        raise ApiError(400, str(error), param="since") from None
    by = params.get("by") or None
    if by is not None and by not in queries.BY:
        raise ApiError(400, f"by='{by}': group by {', '.join(queries.BY)}", param="by")
    task = params.get("task") or None
    known = services.routing.table.find_task(task) if task is not None else None
    task = known or task  # a task no longer in the file may still have calls
    data = await services.ledger.read(queries.stats, since=since, until=now, task=task, by=by)
    if task is not None and known is None and not data["rows"]:
        hint = nearest_task(task, services.routing.table.task_types())
        did = f"; did you mean '{hint}'?" if hint else ""
        message = f"no task type '{task}' in the routing file, and no calls of it{did}"
        raise ApiError(404, message, code="unknown_task", param="task")
    return JSONResponse(data)


async def costs(request: Request) -> Response:
    """``GET /v1/costs``: month-to-date spend per provider, in total, and projected."""
    services = _services(request)
    data = await services.ledger.read(queries.costs, now=time.time())
    data["budgets"] = budget_json(services.routing, services.spend)
    return JSONResponse(data)


def _limit(request: Request, default: int) -> int:
    raw = request.query_params.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ApiError(400, "limit must be a number from 1 to 1000", param="limit")
    return int(raw)


async def calls(request: Request) -> Response:
    """``GET /v1/calls?limit=20``: the latest calls; ``&follow=true`` keeps the answer open as
    Server-Sent Events, one per call as it is recorded (``cortex tail``)."""
    services = _services(request)
    limit = _limit(request, 20)
    follow = request.query_params.get("follow") in ("1", "true", "yes")
    commit = services.ledger.next_commit() if follow else None
    latest = await services.ledger.read(call_views.recent_calls, limit=limit)
    if commit is None:
        return JSONResponse({"object": "list", "data": latest})

    async def events(commit: asyncio.Event) -> AsyncIterator[bytes]:
        after = latest[-1]["seq"] if latest else 0
        for row in latest:
            yield _event(row)
        while True:
            await commit.wait()
            commit = services.ledger.next_commit()
            fresh = await services.ledger.read(call_views.recent_calls, limit=1000, after=after)
            for row in fresh:
                after = row["seq"]
                yield _event(row)

    return StreamingResponse(
        events(commit), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def _event(row: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(row, separators=(",", ":")).encode() + b"\n\n"


async def call(request: Request) -> Response:
    """``GET /v1/calls/{id}``: one call whole — plan, reasons, attempts, signals, ratings."""
    services = _services(request)
    wanted = request.path_params["call_id"]
    data = await services.ledger.read(_why, wanted)
    if data is None:
        raise ApiError(404, f"no call '{wanted}' in the ledger", code="call_not_found")
    return JSONResponse(data)


def _find(db: sqlite3.Connection, wanted: str) -> str | None:
    try:
        return call_views.find_call(db, wanted)
    except call_views.AmbiguousCallError as error:
        raise ApiError(400, str(error), code="ambiguous_call_id") from None


def _why(db: sqlite3.Connection, wanted: str) -> dict[str, Any] | None:
    found = _find(db, wanted)
    return None if found is None else call_views.why(db, found)


class FeedbackBody(_Model):
    """The body of ``POST /v1/feedback``."""

    call_id: str = Field(min_length=1, max_length=64)
    rating: Literal["good", "bad"]
    note: str | None = Field(default=None, max_length=2000)


async def feedback(request: Request) -> Response:
    """``POST /v1/feedback``: the user's rating of a call (good or bad, with a note)."""
    services = _services(request)
    body = parse_body(await read_json(request, services.limits), FeedbackBody)
    found = await services.ledger.read(_find, body.call_id)
    if found is None:
        raise ApiError(404, f"no call '{body.call_id}' in the ledger", code="call_not_found")
    await services.ledger.rate(Feedback(found, body.rating, body.note))
    return JSONResponse({"call_id": found, "rating": body.rating, "recorded": True})


#: Each endpoint's path, handler and method.
LEDGER_ROUTES = (
    ("/v1/stats", stats, "GET"),
    ("/v1/costs", costs, "GET"),
    ("/v1/calls", calls, "GET"),
    ("/v1/calls/{call_id}", call, "GET"),
    ("/v1/feedback", feedback, "POST"),
)

"""``/v1/cortex/batches``: start a batch the daemon runs, follow it, cancel it.

``POST /v1/cortex/batches/estimate`` answers what a batch would cost and whether it would
pass a budget; ``POST /v1/cortex/batches`` starts it (the input and output are paths on this
machine: the daemon runs as the same user, and the batch goes on after the terminal closes);
``GET`` one or all of them; ``POST …/{id}/cancel``.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cortexd.api.body import read_json
from cortexd.api.budgets import budget_json
from cortexd.api.errors import ApiError
from cortexd.api.validation import _Model, parse_body

if TYPE_CHECKING:
    from cortexd.batch import Batches, Estimate
    from cortexd.batch.coding_queue import CodingQueue
    from cortexd.bookkeeping.spend import SpendTracker
    from cortexd.routing_generation import Routing
    from cortexd.services import Services


class EstimateBody(_Model):
    """What to estimate: the input file's absolute path, and whether its lines would go
    through the providers' Batch APIs."""

    input: str = Field(min_length=1)
    provider_batch: bool = False


class StartBody(EstimateBody):
    """A batch to start: input and output paths, sends at once per provider, and whether
    its lines go through the providers' Batch APIs (polled every `poll_seconds`)."""

    output: str = Field(min_length=1)
    concurrency: int | None = Field(default=None, ge=1)
    provider_batch: bool = False
    retry_failed: bool = False
    poll_seconds: float | None = Field(default=None, ge=0.05, le=3600)


def batches_of(request: Request) -> Batches:
    """The daemon's batches (503 before they have started)."""
    found: Batches | None = getattr(request.app.state, "batches", None)
    if found is None:
        raise ApiError(503, "batches are not running in this daemon yet", code="batch_unavailable")
    return found


def _path(value: str, param: str) -> Path:
    path = Path(value)
    if not path.is_absolute():
        raise ApiError(400, f"{param} must be an absolute path (the CLI sends one)", param=param)
    return path


def over_budget(routing: Routing, spend: SpendTracker, found: Estimate) -> list[str]:
    """The budgets of `routing`'s table the batch's estimate would pass (at the month's
    `spend`), each said in words."""
    out = []
    for budget in budget_json(routing, spend)["budgets"]:
        scope = budget["scope"]
        extra = found.cost if scope == "total" else found.per_provider.get(scope, Decimal(0))
        if not extra:
            continue
        spent = Decimal(budget["spent_usd"]) + Decimal(budget["reserved_usd"])
        limit = Decimal(budget["limit_usd"])
        if spent + extra > limit:
            out.append(
                f"{scope}: ${spent:.2f} spent of ${limit:.2f} this month; this batch adds about "
                f"${extra:.2f} (at 100% the policy is {budget['at_limit']})"
            )
    return out


async def estimate_batch(request: Request) -> Response:
    """``POST /v1/cortex/batches/estimate``."""
    services: Services = request.app.state.services
    body = parse_body(await read_json(request, services.limits), EstimateBody)
    batches = batches_of(request)
    from cortexd.batch import BatchInputError

    try:
        found = await batches.estimate(_path(body.input, "input"), body.provider_batch)
    except BatchInputError as error:
        raise ApiError(400, str(error), param="input", code="bad_batch_input") from None
    out: dict[str, Any] = found.as_json()
    out["over_budget"] = over_budget(services.routing, services.spend, found)
    out["concurrency"] = batches.default_concurrency()
    out["provider_batch"] = body.provider_batch
    return JSONResponse(out)


async def start_batch(request: Request) -> Response:
    """``POST /v1/cortex/batches``: journal the batch and start it."""
    services: Services = request.app.state.services
    body = parse_body(await read_json(request, services.limits), StartBody)
    batches = batches_of(request)
    from cortexd.batch import BatchInputError, Options
    from cortexd.batch.service import POLL_S

    most = batches.most_concurrency()
    if body.concurrency is not None and body.concurrency > most:
        raise ApiError(
            400,
            f"concurrency: at most {most} (the daemon takes "
            f"{services.limits.max_in_flight} calls in flight)",
            param="concurrency",
        )
    source, output = _path(body.input, "input"), _path(body.output, "output")
    if source == output:
        raise ApiError(400, "the output must not be the input file", param="output")
    options = Options(
        body.concurrency or batches.default_concurrency(),
        provider_batch=body.provider_batch,
        retry_failed=body.retry_failed,
        poll_s=body.poll_seconds or POLL_S,
    )
    try:
        batch_id = await batches.start(source, output, options)
    except BatchInputError as error:
        raise ApiError(400, str(error), param="input", code="bad_batch_input") from None
    return JSONResponse(await batches.summary(batch_id), status_code=201)


async def list_batches(request: Request) -> Response:
    """``GET /v1/cortex/batches``: the latest batches, newest first."""
    return JSONResponse({"batches": await batches_of(request).listing()})


async def get_batch(request: Request) -> Response:
    """``GET /v1/cortex/batches/{id}``: one batch's state and counts."""
    batch_id = request.path_params["batch_id"]
    found = await batches_of(request).summary(batch_id)
    if found is None:
        raise ApiError(404, f"no batch {batch_id!r}", code="batch_not_found")
    return JSONResponse(found)


async def cancel_batch(request: Request) -> Response:
    """``POST /v1/cortex/batches/{id}/cancel``."""
    batch_id = request.path_params["batch_id"]
    batches = batches_of(request)
    if await batches.summary(batch_id) is None:
        raise ApiError(404, f"no batch {batch_id!r}", code="batch_not_found")
    if not await batches.cancel(batch_id):
        raise ApiError(409, f"batch {batch_id} is not running", code="batch_not_running")
    return JSONResponse(await batches.summary(batch_id))


class QueueBody(_Model):
    """A coding task for the queue: its text (the CLI adds the files it names)."""

    text: str = Field(min_length=1, max_length=1024 * 1024)


def _queue(request: Request) -> CodingQueue:
    queue = batches_of(request).queue
    if queue is None:
        raise ApiError(503, "the queue is not running in this daemon", code="queue_unavailable")
    return queue


async def queue_task(request: Request) -> Response:
    """``POST /v1/cortex/queue``: put a coding task on the queue."""
    services: Services = request.app.state.services
    body = parse_body(await read_json(request, services.limits), QueueBody)
    queue = _queue(request)
    name = await asyncio.to_thread(queue.add, body.text)
    return JSONResponse({"name": name, "folder": str(queue.folder)}, status_code=201)


async def queue_listing(request: Request) -> Response:
    """``GET /v1/cortex/queue``: the tasks pending, running, done and failed."""
    queue = _queue(request)
    listed = await asyncio.to_thread(queue.listing)
    return JSONResponse({"folder": str(queue.folder), **listed})

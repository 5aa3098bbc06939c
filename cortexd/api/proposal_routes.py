"""Routing proposals on the API: ``GET /v1/proposals`` and ``POST /v1/proposals/reject``.

Applying one is the CLI's work, in the user's own process: no endpoint changes the routing
file (DESIGN.md). A proposal carries the digest of the file it was made on, so the CLI can
refuse to apply it to a file edited since.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cortexd.api.body import read_json
from cortexd.api.errors import ApiError
from cortexd.api.validation import _Model, parse_body
from cortexd.bookkeeping.review import proposal_json, proposals_of, routing_text
from cortexd.ledger.bookkeeping import reject
from cortexd.ledger.evidence import EVIDENCE_DAYS
from cortexd.services import Services


async def proposals(request: Request) -> Response:
    """The proposals the ledger supports now, and those it leans towards (pending)."""
    services: Services = request.app.state.services
    routing, digest = services.routing, services.routing_digest
    text = await asyncio.to_thread(routing_text, services.routing_path)
    found, pending = await services.ledger.read(proposals_of, routing, time.time(), text)
    return JSONResponse(
        {
            "routing_file": routing.table.source,
            "digest": digest,
            "mode": routing.table.mode.value,
            "days": EVIDENCE_DAYS,
            "proposals": [proposal_json(i, p) for i, p in enumerate(found, 1)],
            "pending": [
                {"key": p.key, "task": p.task, "summary": p.summary, "needs_calls": p.needs_calls}
                for p in pending
            ],
        }
    )


class RejectBody(_Model):
    """The body of ``POST /v1/proposals/reject``: a proposal's id (as listed)."""

    id: str = Field(min_length=4, max_length=64)


async def reject_proposal(request: Request) -> Response:
    """Set a proposal aside: it is not made again until its evidence has grown."""
    services: Services = request.app.state.services
    body = parse_body(await read_json(request, services.limits), RejectBody)
    found, _ = await services.ledger.read(proposals_of, services.routing, time.time())
    match = [p for p in found if p.id.startswith(body.id)]
    if len(match) != 1:
        what = "no current proposal" if not match else "more than one proposal"
        raise ApiError(404 if not match else 400, f"{what} has the id {body.id!r}", param="id")
    proposal = match[0]
    await services.ledger.write(
        partial(reject, key=proposal.key, calls=proposal.calls, at=time.time())
    )
    return JSONResponse({"rejected": proposal.id, "key": proposal.key, "calls": proposal.calls})

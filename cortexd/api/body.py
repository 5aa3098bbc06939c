"""Reading a request's JSON body within the daemon's limits."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from cortexd.api.errors import ApiError

if TYPE_CHECKING:
    from cortexd.services import Services


async def read_json(request: Request, services: Services) -> Any:
    """The body as JSON: 413 beyond the limit (before reading it whole), 408 when too slow."""
    limit = services.limits.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and not declared.isdigit():
        raise ApiError(400, "Content-Length is not a number")
    if declared is not None and int(declared) > limit:
        raise ApiError(413, f"the request body is over the {limit} byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(services.limits.body_timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, f"the request body is over the {limit} byte limit")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, "the request body arrived too slowly") from None
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "the body's JSON is nested too deeply") from None

"""``POST /v1/capture``: file a note's text as a dropped file would be (``cortex capture``).

The text goes through the "Quick capture / filing" route and is filed under
``captured/<category>/``; the answer names the note's path, title, category and tags.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cortexd.api.body import read_json
from cortexd.api.errors import ApiError
from cortexd.api.validation import _Model, parse_body
from cortexd.services import Services

if TYPE_CHECKING:
    from cortexd.capture import Capture


#: How long a capture sent just after start-up waits for the capture to be running.
START_WAIT_S = 10.0


class CaptureBody(_Model):
    """The body of ``POST /v1/capture``: the note's text and, optionally, where it came from
    (recorded as the note's ``source``; never used as a path)."""

    text: str = Field(min_length=1)
    name: str | None = Field(default=None, max_length=255)


async def capture(request: Request) -> Response:
    """File a note and say where it went."""
    services: Services = request.app.state.services
    body = parse_body(await read_json(request, services.limits), CaptureBody)
    ready: asyncio.Event | None = getattr(request.app.state, "capture_ready", None)
    if ready is not None:  # it starts just after the daemon does (server.py)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(START_WAIT_S):
                await ready.wait()
    service: Capture | None = getattr(request.app.state, "capture", None)
    if service is None:
        raise ApiError(503, "capture is not running in this daemon", code="capture_unavailable")
    # Loaded with the inbox after start-up, not before the daemon's first answer.
    from cortexd.capture import CaptureError, FilingError, RefusedError, TooLargeError

    try:
        filed = await service.capture_text(body.text, body.name or "cortex capture")
    except RefusedError as error:
        status = 413 if isinstance(error, TooLargeError) else 400
        raise ApiError(status, f"not filed: {error}", param="text", retry=False) from None
    except FilingError as error:
        if error.status in (429, 503):
            raise ApiError(503, f"not filed: {error}", code="no_model_available") from None
        raise ApiError(502, f"not filed: {error}", code="upstream_error") from None
    except CaptureError as error:
        raise ApiError(500, f"not filed: {error}") from None
    except OSError as error:
        raise ApiError(500, f"not filed: {error.strerror or error}") from None
    return JSONResponse(
        {
            "path": str(filed.path),
            "title": filed.filing.title,
            "category": filed.path.parent.name,
            "tags": list(filed.filing.tags),
            "summary": filed.filing.summary,
            "model": filed.model,
        }
    )

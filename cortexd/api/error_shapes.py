"""Errors in each front-end's own shape: OpenAI's for Chat Completions and Responses,
Anthropic's for Messages (a deliberate difference from DESIGN's "OpenAI shape": Claude Code
reads Anthropic's ``error.type`` and status to decide whether to retry).
"""

from __future__ import annotations

import json
from typing import Literal

from starlette.responses import JSONResponse, Response

from cortexd.api.errors import ApiError

Shape = Literal["openai", "anthropic"]

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "request_too_large",
    415: "invalid_request_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def anthropic_status(error: ApiError) -> int:
    """Anthropic's status for `error`: every model rate-limited is a 429; every model
    exhausted, or cortexd too busy, is a 529 ``overloaded_error`` (both with retry-after).

    >>> anthropic_status(ApiError(503, "x", code="rate_limited"))
    429
    >>> anthropic_status(ApiError(503, "x", code="busy")), anthropic_status(ApiError(400, "x"))
    (529, 400)
    """
    if error.status == 503:
        return 429 if error.code == "rate_limited" else 529
    return error.status


def anthropic_error_body(
    message: str, error_type: str, call_id: str | None = None
) -> dict[str, object]:
    """Anthropic's error object (with the call's id inside ``error``, where there is one:
    the anthropic SDK and Claude Code keep keys they do not know)."""
    error = {"type": error_type, "message": message}
    if call_id is not None:
        error["call_id"] = call_id
    return {"type": "error", "error": error}


def shaped(error: ApiError, shape: Shape) -> Response:
    """`error` as the answer a client of that API expects."""
    if shape == "openai":
        return error.response()
    status = anthropic_status(error)
    kind = _ANTHROPIC_TYPES.get(status, "api_error")
    plain = error.response()  # its Retry-After, x-should-retry and x-cortex-call-id headers
    kept = ("retry-after", "x-should-retry", "x-cortex-call-id")
    headers = {k: v for k, v in plain.headers.items() if k.lower() in kept}
    body = anthropic_error_body(error.message, kind, error.call_id)
    return JSONResponse(body, status_code=status, headers=headers)


def anthropic_error_event(message: str, kind: str) -> bytes:
    """An ``event: error`` for a Messages stream that broke after content was sent."""
    error_type = "overloaded_error" if kind == "overloaded" else "api_error"
    data = json.dumps(anthropic_error_body(message, error_type))
    return f"event: error\ndata: {data}\n\n".encode()


def responses_failed_event(message: str, kind: str) -> bytes:
    """A ``response.failed`` for a Responses stream that broke after content was sent."""
    code = "rate_limit_exceeded" if kind == "overloaded" else "server_error"
    data = json.dumps(
        {
            "type": "response.failed",
            "response": {
                "object": "response",
                "status": "failed",
                "error": {"code": code, "message": message},
            },
        }
    )
    return f"event: response.failed\ndata: {data}\n\n".encode()

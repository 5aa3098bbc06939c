"""Errors as OpenAI's JSON shape (``{"error": {"message", "type", "param", "code"}}``), with
the call's id where the request was a call (``error.call_id`` and ``x-cortex-call-id``)."""

from __future__ import annotations

from starlette.responses import JSONResponse

from cortexd.errors import CortexError

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
}


class ApiError(CortexError):
    """An error answer: its status, message, and OpenAI's code and param fields; `retry`
    False tells SDK clients that trying again cannot help (``x-should-retry: false``);
    `call_id` names the call in the ledger (set where the call is known, by the pipeline, or
    at the edge for a call refused before it was parsed)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        retry: bool = True,
        call_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retry = retry
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.retry_after = retry_after
        self.call_id = call_id

    def response(self) -> JSONResponse:
        """The JSON response for this error."""
        error: dict[str, str | None] = {
            "message": self.message,
            "type": _TYPES.get(self.status, "api_error"),
            "param": self.param,
            "code": self.code,
        }
        headers = {}
        if self.call_id is not None:
            # The SDKs keep unknown keys of `error` (openai: APIError.body), and the header
            # is the one a successful pass-through answer carries.
            error["call_id"] = self.call_id
            headers["x-cortex-call-id"] = self.call_id
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, round(self.retry_after)))
        if not self.retry:
            headers["x-should-retry"] = "false"  # the OpenAI and Anthropic SDKs obey it
        return JSONResponse({"error": error}, status_code=self.status, headers=headers)

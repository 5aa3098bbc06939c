"""Reading a request's JSON body within the daemon's limits.

Every endpoint reads its body here, so what no upstream could be sent is refused here once,
as a 400 in the endpoint's own error shape: bytes that are not UTF-8, text that cannot be
encoded (a lone surrogate, which JSON can spell as ``"\\ud800"``), and numbers that are not
finite (``1e999``, ``NaN``). A body declared as something other than JSON is a 415.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from cortexd.api.errors import ApiError

if TYPE_CHECKING:
    from cortexd.services import Limits

#: A ``\u`` escape of a UTF-16 surrogate: the only way a lone surrogate gets into a body that
#: decodes as strict UTF-8. Escaped pairs (Python's ``json.dumps`` writes emoji so) are
#: common and fine; finding one only means the decoded body is walked to look closer.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


async def read_json(request: Request, limits: Limits) -> Any:
    """The body as JSON within `limits`: 413 beyond the size (before reading it whole), 408
    when too slow, 415 when it is declared as something else, 400 when it cannot be sent on as
    it is."""
    _check_content_type(request.headers.get("content-type"))
    limit = limits.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and not declared.isdigit():
        raise ApiError(400, "Content-Length is not a number")
    if declared is not None and int(declared) > limit:
        raise ApiError(413, f"the request body is over the {limit} byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(limits.body_timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, f"the request body is over the {limit} byte limit")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, "the request body arrived too slowly") from None
    return decode_json(b"".join(chunks))


def decode_json(raw: bytes) -> Any:
    """`raw` as JSON, or a 400 saying why it cannot be forwarded as it is.

    >>> decode_json(b'{"content": "\\\\ud83d\\\\ude00"}')  # an escaped pair is one character
    {'content': '😀'}
    >>> decode_json(b'{"messages": [{"content": "a\\\\ud800"}]}')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cortexd.api.errors.ApiError: messages.0.content: the text holds a lone surrogate (\\ud800), ...
    >>> decode_json(b'{"temperature": 1e999}')
    Traceback (most recent call last):
    cortexd.api.errors.ApiError: the body holds a number that is not finite (1e999)
    """
    try:
        # Strict UTF-8 (what JSON between systems must be, RFC 8259 §8.1): json.loads would
        # take the bytes of a surrogate, and UTF-16, and hand them on.
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, f"the body is not UTF-8 text: {exc.reason} at byte {exc.start}"
        ) from None
    try:
        data = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except ValueError as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "the body's JSON is nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text):
        where = unencodable(data)
        if where is not None:
            path, char = where
            what = f"{path}: the text" if path else "the text"
            raise ApiError(
                400,
                f"{what} holds a lone surrogate (\\u{ord(char):04x}), which cannot be encoded "
                "as UTF-8; nothing was sent",
                param=path or None,
                code="unencodable_text",
            )
    return data


def unencodable(data: object) -> tuple[str, str] | None:
    """Where in decoded JSON the first string (value or key) that UTF-8 cannot encode is,
    as a dotted path and the offending character; None when every string encodes.

    >>> unencodable({"a": ["ok", {"b\\ud800": 1}]})
    ('a.1.b\\\\ud800', '\\ud800')
    >>> unencodable({"a": "😀"}) is None
    True
    """
    # A stack, not recursion: the body may be as deep as the parser allowed.
    stack: list[tuple[str, object]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            bad = _lone_surrogate(value)
            if bad is not None:
                return path, bad
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                where = _join(path, key)
                bad = _lone_surrogate(key)
                if bad is not None:
                    return where, bad
                stack.append((where, item))
        elif isinstance(value, list):
            stack.extend(
                (_join(path, str(i)), item) for i, item in reversed(list(enumerate(value)))
            )
    return None


def _lone_surrogate(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return text[exc.start]
    return None


def _join(path: str, key: str) -> str:
    # The path is shown in the error: a key holding the surrogate is shown escaped.
    safe = key.encode("utf-8", "backslashreplace").decode("utf-8")
    return f"{path}.{safe}" if path else safe


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ApiError(400, f"the body holds a number that is not finite ({literal[:40]})")
    return value


def _no_constant(name: str) -> float:
    raise ApiError(400, f"the body holds {name}, which is not a JSON number")


#: Media types read as JSON (besides none at all, which clients such as curl omit).
_JSON_TYPES = ("application/json", "text/json")


def _check_content_type(header: str | None) -> None:
    """415 for a body declared as something other than JSON (a form, multipart, text)."""
    if header is None or not header.strip():
        return
    media = header.split(";", 1)[0].strip().lower()
    if media in _JSON_TYPES or media.endswith("+json"):
        return
    shown = media.encode("ascii", "backslashreplace").decode("ascii")[:80]
    raise ApiError(
        415,
        f"the body is declared as '{shown}'; this API takes JSON: send "
        "Content-Type: application/json",
        code="unsupported_media_type",
    )

"""A batch's input: one request per JSON line, in OpenAI's batch format or a short form.

OpenAI's form is what its Batch API takes (``{"custom_id", "method": "POST", "url", "body"}``),
so a file made for OpenAI runs here unchanged, and a line may name any of cortexd's three
chat wires or embeddings. The short form is for people: ``{"id", "prompt"}`` or
``{"id", "messages"}``, with an optional ``task`` and ``model``; it is sent as Chat
Completions. A line that cannot be sent (not JSON, a duplicate id, too big, an unknown key)
is kept as an error with its line number, so that it is reported in its place in the output
and never stops the others.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: The endpoints a line in OpenAI's form may name.
URLS = ("/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/embeddings")
_SHORT_KEYS = ("id", "prompt", "messages", "task", "model", "max_tokens", "system")


@dataclass(frozen=True)
class BatchLine:
    """One input line: `seq` its place among the lines (from 0), `line_no` its line in the
    file (from 1), `custom_id` its id, and either the request (`url`, `body`) or `error`."""

    seq: int
    line_no: int
    custom_id: str | None
    url: str | None = None
    body: dict[str, Any] | None = None
    error: str | None = None
    #: OpenAI's batch form (its output lines follow OpenAI's output format) or the short form.
    openai_form: bool = False


def parse_lines(lines: Iterable[str], max_line_bytes: int) -> list[BatchLine]:
    """Every non-blank line of a batch file, parsed or with the reason it cannot be sent.

    >>> [(b.custom_id, b.url, b.error) for b in parse_lines(['{"id": "a", "prompt": "hi"}',
    ...     '{"id": "a", "prompt": "again"}', 'nope'], 1000)]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('a', '/v1/chat/completions', None),
     ('a', None, "duplicate id 'a' (first on line 1)"),
     (None, None, 'not JSON: Expecting value at column 1')]
    """
    found: list[BatchLine] = []
    first_seen: dict[str, int] = {}
    for line_no, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        line = _parse(len(found), line_no, raw, max_line_bytes)
        key = line.custom_id
        if key is not None and line.error is None:
            if key in first_seen:
                where = first_seen[key]
                line = BatchLine(
                    line.seq,
                    line_no,
                    line.custom_id,
                    error=f"duplicate id '{line.custom_id}' (first on line {where})",
                    openai_form=line.openai_form,
                )
            else:
                first_seen[key] = line_no
        found.append(line)
    return found


def _parse(seq: int, line_no: int, raw: str, max_line_bytes: int) -> BatchLine:
    size = len(raw.encode("utf-8", "surrogatepass"))
    if size > max_line_bytes:
        return BatchLine(
            seq, line_no, None, error=f"line too long: {size} bytes, at most {max_line_bytes}"
        )
    try:
        data = json.loads(raw)
    except ValueError as error:
        message = getattr(error, "msg", str(error))
        column = getattr(error, "colno", None)
        where = f" at column {column}" if column else ""
        return BatchLine(seq, line_no, None, error=f"not JSON: {message}{where}")
    if not isinstance(data, dict):
        return BatchLine(seq, line_no, None, error="a line must be a JSON object")
    if "custom_id" in data or "url" in data or "body" in data:
        return _openai_line(seq, line_no, data)
    return _short_line(seq, line_no, data)


def _id(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _openai_line(seq: int, line_no: int, data: dict[str, Any]) -> BatchLine:
    custom_id = _id(data.get("custom_id"))

    def bad(why: str) -> BatchLine:
        return BatchLine(seq, line_no, custom_id, error=why, openai_form=True)

    if custom_id is None:
        return bad("custom_id must be a non-empty string")
    if str(data.get("method", "POST")).upper() != "POST":
        return bad(f"method must be POST, not {data.get('method')!r}")
    url = data.get("url")
    if url not in URLS:
        return bad(f"url must be one of {', '.join(URLS)}; got {url!r}")
    body = data.get("body")
    if not isinstance(body, dict):
        return bad("body must be a JSON object")
    return BatchLine(seq, line_no, custom_id, url, body, openai_form=True)


def _short_line(seq: int, line_no: int, data: dict[str, Any]) -> BatchLine:
    custom_id = _id(data.get("id"))

    def bad(why: str) -> BatchLine:
        return BatchLine(seq, line_no, custom_id, error=why)

    unknown = [k for k in data if k not in _SHORT_KEYS]
    if unknown:
        near = difflib.get_close_matches(unknown[0], _SHORT_KEYS, n=1, cutoff=0.5)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        return bad(f"unknown key '{unknown[0][:60]}'{hint} (the keys are {', '.join(_SHORT_KEYS)})")
    if custom_id is None:
        return bad("id must be a non-empty string")
    prompt, messages = data.get("prompt"), data.get("messages")
    if (prompt is None) == (messages is None):
        return bad("give either prompt or messages")
    if prompt is not None and not (isinstance(prompt, str) and prompt.strip()):
        return bad("prompt must be non-empty text")
    if messages is not None and not (isinstance(messages, list) and messages):
        return bad("messages must be a non-empty list")
    if messages is None:
        messages = [{"role": "user", "content": prompt}]
    if isinstance(data.get("system"), str):
        messages = [{"role": "system", "content": data["system"]}, *messages]
    body: dict[str, Any] = {"model": data.get("model") or "auto", "messages": messages}
    if data.get("max_tokens") is not None:
        body["max_tokens"] = data["max_tokens"]
    if data.get("task") is not None:
        body["cortex"] = {"task": data["task"]}
    return BatchLine(seq, line_no, custom_id, URLS[0], body)

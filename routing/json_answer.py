"""The JSON object in a model's answer: what a model asked for JSON sends back, code fence
and all (some models wrap it in one even in JSON mode)."""

from __future__ import annotations

import json
import re
from typing import Any

from cortexd.errors import CortexError

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


class NotAJsonObject(CortexError, ValueError):
    """The answer holds no JSON object; the message says what it holds instead."""


def json_object(text: str) -> dict[str, Any]:
    """The JSON object `text` holds, a code fence around it allowed.

    >>> json_object('```json\\n{"agree": true}\\n```')
    {'agree': True}
    >>> json_object("[1, 2]")
    Traceback (most recent call last):
    ...
    cortexd.routing.json_answer.NotAJsonObject: not a JSON object
    """
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        data = json.loads(body)
    except ValueError as error:
        raise NotAJsonObject(f"not JSON ({error})") from None
    if not isinstance(data, dict):
        raise NotAJsonObject("not a JSON object")
    return data

"""Anthropic's prompt caching as the real API computes it, for the fake: what a request
reads from the cache and writes to it follows from its `cache_control` breakpoints, not
from a script.

The rules (Anthropic's prompt-caching docs):
- the prompt is tools, then system, then messages, block by block; a breakpoint on a block
  caches the prefix ending there; a top-level `cache_control` (automatic caching) puts one
  on the last cacheable block; at most 4 breakpoints, or a 400;
- a read finds the longest cached prefix ending at a breakpoint or at any of the 20 blocks
  before it (the lookback), for the same model;
- a prefix shorter than the model's minimum (1,024 tokens here) is not cached;
- an entry lives 5 minutes (or an hour with ``ttl: 1h``), refreshed by each read.
Tokens are counted as the fake counts them elsewhere: 4 characters a token.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20
MIN_CACHEABLE_TOKENS = 1024
_TTL_S = {"5m": 300.0, "1h": 3600.0}


@dataclass(frozen=True)
class CacheUse:
    """A request's prompt tokens: all of them, read from the cache, written to it."""

    total: int
    read: int
    written: int
    written_1h: int


def problem(body: dict[str, Any]) -> str | None:
    """The real API's 400 message for the request's breakpoints, or None."""
    found = len(_marks(body, _blocks(body)))
    if found > MAX_BREAKPOINTS:
        return (
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {found}."
        )
    return None


def without_breakpoints(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with every `cache_control` removed: what a request that asks for no caching
    would have been."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "cache_control"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    stripped: dict[str, Any] = strip(body)
    return stripped


def _marks(body: dict[str, Any], blocks: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The breakpoints: each block's own, and automatic caching's on the last block."""
    marks = {i: b["cache_control"] for i, b in enumerate(blocks) if b.get("cache_control")}
    auto = body.get("cache_control")
    if isinstance(auto, dict) and blocks:
        marks.setdefault(len(blocks) - 1, auto)
    return marks


def _blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's prompt as the cache sees it: tools, system, then each message's blocks."""
    out: list[dict[str, Any]] = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    system = body.get("system")
    if isinstance(system, str):
        out.append({"type": "text", "text": system})
    elif isinstance(system, list):
        out += [b for b in system if isinstance(b, dict)]
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        role = message.get("role") if isinstance(message, dict) else None
        if isinstance(content, str):
            out.append({"role": role, "type": "text", "text": content})
        elif isinstance(content, list):
            out += [{"role": role, **b} for b in content if isinstance(b, dict)]
    return out


def _tokens(block: dict[str, Any]) -> int:
    plain = {k: v for k, v in block.items() if k != "cache_control"}
    return max(1, math.ceil(len(json.dumps(plain, sort_keys=True)) / 4))


class PromptCache:
    """One organisation's prompt cache, as the API keeps it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[float, float]] = {}  # key → (expires at, ttl)

    def clear(self) -> None:
        self._entries.clear()

    def use(self, body: dict[str, Any]) -> CacheUse:
        """Read and write the cache for one request (`problem` said it may be sent)."""
        blocks = _blocks(body)
        marks = _marks(body, blocks)
        model = str(body.get("model", ""))
        sizes = [_tokens(b) for b in blocks]
        ends = [sum(sizes[: i + 1]) for i in range(len(sizes))]
        keys = self._keys(model, blocks)
        now = self._clock()
        read = 0
        for mark in marks:
            for i in range(mark, max(-1, mark - LOOKBACK_BLOCKS - 1), -1):
                entry = self._entries.get(keys[i])
                if entry is not None and entry[0] > now:
                    read = max(read, ends[i])
                    self._entries[keys[i]] = (now + entry[1], entry[1])
                    break
        # What is written: the prompt past what was read, up to the last breakpoint long
        # enough to cache (each breakpoint's prefix is stored, or its life renewed).
        cacheable = sorted(m for m in marks if ends[m] >= MIN_CACHEABLE_TOKENS)
        written = written_1h = 0
        for mark in cacheable:
            ttl = _TTL_S.get(str(marks[mark].get("ttl", "5m")), _TTL_S["5m"])
            self._entries[keys[mark]] = (now + ttl, ttl)
        if cacheable:
            top = cacheable[-1]
            written = max(0, ends[top] - read)
            if str(marks[top].get("ttl", "5m")) == "1h":
                written_1h = written
        return CacheUse(ends[-1] if ends else 0, read, written, written_1h)

    @staticmethod
    def _keys(model: str, blocks: list[dict[str, Any]]) -> list[str]:
        digest = hashlib.sha256(model.encode())
        keys = []
        for block in blocks:
            plain = {k: v for k, v in block.items() if k != "cache_control"}
            digest.update(json.dumps(plain, sort_keys=True).encode())
            keys.append(digest.copy().hexdigest())
        return keys

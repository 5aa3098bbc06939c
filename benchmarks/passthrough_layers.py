"""A cProfile profile of cortexd's event-loop thread, broken down by layer (for
benchmarks/passthrough.py).

*Own* time charges each function's time to its layer, and the time of code that belongs to
no layer (built-ins, pydantic, the standard library) to the layer that called it: the rows
add up to the whole. *Inclusive* time is the time spent once a layer is entered from outside
it, including what it calls; the SDK's row is `post` less the httpx2 send inside it, i.e.
what the SDK adds around a request it is handed as bytes.
"""

from __future__ import annotations

import pstats
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: This checkout: where cortexd's own code is read from unless --source says otherwise.
ROOT = Path(__file__).resolve().parent.parent
# The layers, in the order they are reported, and what each one is.
LAYERS = {
    "sdk": "the provider SDK (anthropic/openai: post, request building, options)",
    "httpx2": "httpx2/httpcore2 transport (the upstream connection, its reads)",
    "ledger": "the ledger (cortexd/ledger, the call's record in api/recording.py)",
    "uvicorn": "uvicorn/httptools (the HTTP server)",
    "starlette": "starlette (request, StreamingResponse)",
    "json": "json (parsing the body, the events read on the side)",
    "ours": "our pipeline (cortexd/pipeline, cortexd/api, routing/ incl. forward.py)",
    "loop": "asyncio/uvloop, threads",
    "other": "other",
}
_LIBRARIES = {
    "anthropic": "sdk",
    "openai": "sdk",
    "httpx2": "httpx2",
    "httpcore2": "httpx2",
    "h11": "httpx2",
    "anyio": "httpx2",
    "sniffio": "httpx2",
    "uvicorn": "uvicorn",
    "httptools": "uvicorn",
    "starlette": "starlette",
    "json": "json",
    "asyncio": "loop",
    "uvloop": "loop",
    "threading.py": "loop",
    "selectors.py": "loop",
    "concurrent": "loop",
}
_OURS = ("cortexd", "routing", "hardware", "service", "context")
#: Where cortexd's own code is read from: this checkout, and a --source tree.
SOURCES: list[Path] = [ROOT]
Key = tuple[str, int, str]


def layer_of(key: Key) -> str | None:
    """The layer a profiled function belongs to; None: charged to its callers.

    >>> layer_of(("/x/.venv/lib/python3.11/site-packages/anthropic/lib/streaming/a.py", 1, "f"))
    'sdk'
    >>> layer_of(("/usr/lib/python3.11/json/decoder.py", 1, "decode"))
    'json'
    >>> layer_of((str(ROOT / "cortexd/ledger/writer.py"), 1, "submit"))
    'ledger'
    >>> layer_of((str(ROOT / "routing/providers/forward.py"), 1, "forward"))
    'ours'
    >>> layer_of(("~", 0, "<built-in method builtins.len>")) is None
    True
    """
    parts = Path(key[0]).parts
    if "site-packages" in parts:
        top = parts[parts.index("site-packages") + 1 :]
        return _LIBRARIES.get(top[0]) if top else None
    for i, part in enumerate(parts):
        if part.startswith("python3") and parts[i - 1] == "lib" and i + 1 < len(parts):
            return _LIBRARIES.get(parts[i + 1])  # the standard library
    for root in SOURCES:
        if not key[0].startswith(str(root) + "/"):
            continue
        mine = Path(key[0]).relative_to(root).parts
        if mine[0] not in _OURS:
            return None
        if mine[:2] == ("cortexd", "ledger") or mine[:3] == ("cortexd", "api", "recording.py"):
            return "ledger"
        return "ours"
    return None


class Breakdown:
    """A profile's main-thread time by layer: own (adds up) and inclusive (nests)."""

    def __init__(self, stats: pstats.Stats) -> None:
        self.raw: dict[Key, Any] = stats.stats  # type: ignore[attr-defined]
        self._shares: dict[Key, dict[str, float]] = {}
        self.total = sum(entry[2] for entry in self.raw.values())

    def shares(self, key: Key, seen: frozenset[Key] = frozenset()) -> dict[str, float]:
        """The fractions of `key`'s time each layer is charged (its own, or its callers')."""
        if key in self._shares:
            return self._shares[key]
        layer = layer_of(key)
        if layer is not None:
            result = {layer: 1.0}
        else:
            callers = self.raw[key][4]
            weights = {c: edge[2] or edge[3] for c, edge in callers.items() if c not in seen}
            total = sum(weights.values())
            result = defaultdict(float)
            if not total:
                result["other"] = 1.0
            for caller, weight in weights.items() if total else ():
                for name, share in self.shares(caller, seen | {key}).items():
                    result[name] += share * weight / total
            result = dict(result)
        if not seen:
            self._shares[key] = result
        return result

    def main_layer(self, key: Key) -> str:
        shares = self.shares(key)
        return max(shares, key=lambda name: shares[name])

    def own(self) -> dict[str, float]:
        """Seconds per layer; they add up to the main thread's profiled time."""
        out: dict[str, float] = defaultdict(float)
        for key, entry in self.raw.items():
            for layer, share in self.shares(key).items():
                out[layer] += entry[2] * share
        return out

    def entered(self, into: str, source: str | None = None) -> float:
        """Seconds inside `into` once entered from another layer (from `source` only, if
        given), including what it calls."""
        total = 0.0
        for key, entry in self.raw.items():
            if layer_of(key) != into:
                continue
            for caller, edge in entry[4].items():
                from_layer = self.main_layer(caller)
                if from_layer != into and (source is None or from_layer == source):
                    total += edge[3]
        return total

    def inclusive(self) -> dict[str, float]:
        out = {layer: self.entered(layer) for layer in LAYERS}
        out["sdk"] -= self.entered("httpx2", source="sdk")  # the send the SDK wraps
        return out

    def top_own(self, count: int) -> list[tuple[Key, float]]:
        """The `count` functions with the most own time."""
        ranked = sorted(self.raw.items(), key=lambda item: -item[1][2])
        return [(key, entry[2]) for key, entry in ranked[:count]]

    def functions(self, predicate: Callable[[Key], bool]) -> list[tuple[Key, float, int]]:
        """(function, inclusive seconds, calls) for the functions `predicate` picks."""
        picked = [(k, e[3], e[1]) for k, e in self.raw.items() if predicate(k)]
        return sorted(picked, key=lambda item: -item[1])

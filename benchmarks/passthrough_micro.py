"""The SDK's request building, in-process (`python -m benchmarks.passthrough --micro`).

The cost per call of sending a prepared body with the SDK's
`post(..., cast_to=httpx2.Response, content=bytes)` (what `routing/providers/forward.py`
does) against sending the same bytes with the same URL and headers through the SDK's own
httpx2 client (`client._client`), both answered at once by an httpx2 `MockTransport`, so
that only the request building differs. No daemon runs.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anthropic
import httpx2
import openai

from benchmarks.processes import FAKE_KEY

_SSE = b"event: message_stop\ndata: {}\n\n"


class _Upstream:
    """A mock transport's handler: answers at once, and keeps the last request it saw."""

    def __init__(self) -> None:
        self.last: httpx2.Request | None = None

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.last = request
        return httpx2.Response(200, content=_SSE, headers={"content-type": "text/event-stream"})


def _clients(upstream: _Upstream) -> dict[str, tuple[Any, str, dict[str, str]]]:
    """Each SDK client on a mock transport, the path forward() posts to, and its headers."""

    def http() -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(upstream), timeout=60)

    claude = anthropic.AsyncAnthropic(
        base_url="http://upstream", api_key=FAKE_KEY, max_retries=0, http_client=http()
    )
    gpt = openai.AsyncOpenAI(
        base_url="http://upstream/v1", api_key=FAKE_KEY, max_retries=0,
        http_client=http(),
    )  # fmt: skip
    # What forward() sends for a stream: the client's own headers, the SDK's raw switch.
    stream = {"Content-Type": "application/json", "Accept": "text/event-stream",
              "X-Stainless-Raw-Response": "stream"}  # fmt: skip
    return {
        "anthropic": (claude, "/v1/messages", {**stream, "anthropic-version": "2023-06-01"}),
        "openai": (gpt, "/responses", stream),
    }


async def _time_per_call(send: Callable[[], Awaitable[None]], calls: int, repeats: int) -> float:
    """The median over `repeats` runs of the µs per call of `calls` sends in a row."""
    for _ in range(200):
        await send()
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            await send()
        runs.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(runs)


async def micro(calls: int, repeats: int) -> dict[str, dict[str, float]]:
    """µs per call: the SDK's `post` with bytes, and its httpx2 client sending the same."""
    body = json.dumps(
        {"model": "m", "max_tokens": 64, "stream": True,
         "messages": [{"role": "user", "content": "What is the answer?"}]},
        separators=(",", ":"),
    ).encode()  # fmt: skip
    upstream = _Upstream()
    results: dict[str, dict[str, float]] = {}
    for name, (client, path, headers) in _clients(upstream).items():

        async def sdk_post(client: Any = client, path: str = path, headers: Any = headers) -> None:
            response = await client.post(
                path, cast_to=httpx2.Response, content=body, options={"headers": headers}
            )
            await response.aclose()

        await sdk_post()
        assert upstream.last is not None
        # The raw client sends the very URL and headers the SDK sent (auth, its own).
        http: httpx2.AsyncClient = client._client
        url, sent = upstream.last.url, dict(upstream.last.headers)

        async def raw_send(http: httpx2.AsyncClient = http, url: Any = url,
                           sent: dict[str, str] = sent) -> None:  # fmt: skip
            response = await http.send(
                http.build_request("POST", url, content=body, headers=sent), stream=True
            )
            await response.aclose()

        async def build_only(http: httpx2.AsyncClient = http, url: Any = url,
                             sent: dict[str, str] = sent) -> None:  # fmt: skip
            http.build_request("POST", url, content=body, headers=sent)

        results[name] = {
            "sdk post": await _time_per_call(sdk_post, calls, repeats),
            "httpx2 send": await _time_per_call(raw_send, calls, repeats),
            "httpx2 build_request": await _time_per_call(build_only, calls, repeats),
        }
    return results


def report_micro(results: dict[str, dict[str, float]], calls: int, repeats: int) -> str:
    lines = [
        f"Request building, in-process (median of {repeats} runs of {calls} calls; "
        "the transport answers at once):",
        "",
        "| SDK | `post(..., content=bytes)` µs/call | `client._client` build + send µs/call "
        "| the SDK adds µs/call | httpx2 `build_request` alone µs |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['sdk post']:.0f} | {r['httpx2 send']:.0f} "
            f"| {r['sdk post'] - r['httpx2 send']:.0f} | {r['httpx2 build_request']:.0f} |"
        )
    return "\n".join(lines)

"""Where the pass-through path's added time goes: `uv run python -m benchmarks.passthrough`.

Two measurements:

- **profile** (the default): N pass-through calls one at a time, profiled in cortexd
  (cProfile on the event loop's thread, switched on after the warm-up and off after the
  last call: `benchmarks/profiled_daemon.py`), through each agent front-end
  (`POST /v1/messages` with the anthropic SDK, model `claude-sonnet-4-5`;
  `POST /v1/responses` with the openai SDK, model `gpt-4o`), streamed unless `--whole`;
  `--front translated`: Chat Completions with the openai SDK to sonnet, translated to
  Anthropic's Messages.
  The event loop's thread (all of the request path but the ledger's writer thread) is then
  broken down by layer. *Own* time charges each function's time to its layer, and the time
  of code that belongs to no layer (built-ins, pydantic, the standard library) to the layer
  that called it: the rows add up to the whole. *Inclusive* time is the time spent once a
  layer is entered from outside it, including what it calls; the SDK's row is `post` less
  the httpx2 send inside it, i.e. what the SDK adds around a request it is handed as bytes.
- **micro** (`--micro` for it alone; it also follows the profile): in-process, no daemon:
  the cost per call of sending a prepared body with the SDK's
  `post(..., cast_to=httpx2.Response, content=bytes)` (what `routing/providers/forward.py`
  does) against sending the same bytes with the same URL and headers through the SDK's own
  httpx2 client (`client._client`), both answered at once by an httpx2 `MockTransport`, so
  that only the request building differs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import uvloop

from benchmarks import processes
from benchmarks.load import Samples, Scenario, run_batch
from benchmarks.targets import (
    Target,
    messages_through_cortexd,
    responses_through_cortexd,
    through_cortexd,
)

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


# The request path's steps, by (file, function): inclusive, so they nest as the code does.
STEPS = (
    ("cortexd/api/tcp_guard.py", "__call__", "the ASGI app: all of the request below uvicorn"),
    ("cortexd/api/body.py", "read_json", "read and parse the body"),
    ("cortexd/pipeline/plan.py", "plan_call", "plan: routing, the family, budgets"),
    ("routing/classifier/classify.py", "classify", "  of which classification"),
    ("cortexd/pipeline/run.py", "open_call", "open the call's record"),
    ("cortexd/pipeline/run.py", "open_stream", "dispatch to the first event (send, first read)"),
    ("cortexd/pipeline/run.py", "answer_whole", "dispatch to the whole answer"),
    ("_base_client.py", "post", "  of which the SDK's post (request out, headers in)"),
    ("cortexd/api/relay.py", "sse", "relay the events (reads, split, decode, write)"),
    ("routing/providers/forward.py", "_relay", "  of which reading and splitting them"),
    ("cortexd/api/recording.py", "commit", "commit the call (the hand-off to the ledger)"),
)


def _named(suffix: str, name: str) -> Callable[[Key], bool]:
    return lambda key: key[0].endswith("/" + suffix) and key[2] == name


def _sdk_build(key: Key) -> bool:
    """The SDK's request-building and preparing functions (in `_base_client`/`_models`)."""
    name = key[2]
    in_sdk = layer_of(key) == "sdk" and Path(key[0]).name in ("_base_client.py", "_models.py")
    return in_sdk and (
        name.startswith(("_build", "_prepare", "_copy_and_prepare", "_idempotency"))
        or name in ("construct", "model_copy", "_process_response", "post", "request",
                    "_request", "_attempt_request", "_should_stream_response_body")
    )  # fmt: skip


def _start_profiled(
    upstream_port: int, out: Path, source: Path | None
) -> tuple[processes.Started, Path]:
    home = Path(tempfile.mkdtemp(prefix="cxp", dir="/tmp"))
    env = processes.cortexd_env(home, upstream_port)
    env["CORTEX_BENCH_PROFILE"] = str(out)
    python = [sys.executable]
    if source is not None:
        # Another checkout's cortexd, imported ahead of this environment's; -P: not the cwd's.
        env["PYTHONPATH"] = f"{source}:{ROOT}:{env['PYTHONPATH']}"
        python.append("-P")
    process = subprocess.Popen(
        [*python, "-m", "benchmarks.profiled_daemon", "--log-level", "warning",
         "--max-in-flight", "256"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    daemon = processes.Started(process, home)
    sock = home / "run" / "cortexd.sock"
    processes.wait_sdks_loaded(daemon, sock)
    return daemon, sock


@dataclass
class Run:
    """A batch of calls and the daemon's CPU over it, its event loop's thread apart."""

    samples: Samples
    loop_cpu: float = 0.0
    other_cpu: float = 0.0

    def per_call_ms(self, seconds: float) -> float:
        return seconds / max(1, self.samples.calls) * 1e3


def _threads_cpu(daemon: processes.Started) -> tuple[float, float]:
    """CPU seconds so far of the daemon's main thread (the event loop) and of the others."""
    main = other = 0.0
    for thread in daemon.ps.threads():
        spent = thread.user_time + thread.system_time
        if thread.id == daemon.process.pid:
            main += spent
        else:
            other += spent
    return main, other


def _batch(loop: asyncio.AbstractEventLoop, target: Target, scenario: Scenario,
           daemon: processes.Started) -> Run:  # fmt: skip
    run = Run(Samples())
    main, other = _threads_cpu(daemon)
    loop.run_until_complete(run_batch(target.call, scenario, run.samples, daemon.cpu_seconds))
    main_after, other_after = _threads_cpu(daemon)
    run.loop_cpu, run.other_cpu = main_after - main, other_after - other
    return run


def profile(
    front: str, calls: int, stream: bool, out: Path, source: Path | None = None
) -> tuple[Breakdown, Run, Run]:
    """N calls through one front-end unprofiled, then N profiled in the same daemon; the
    profile's breakdown and both runs. `source`: a checkout whose cortexd runs instead."""
    upstream, port = processes.start_upstream()
    daemon, sock = _start_profiled(port, out, source)
    try:
        fronts = {
            "messages": messages_through_cortexd,
            "responses": responses_through_cortexd,
            # Chat Completions answered by sonnet: the translated path (issue 24).
            "translated": lambda sock, cpu: through_cortexd(sock, cpu, "sonnet"),
        }
        target: Target = fronts[front](sock, daemon.cpu_seconds)
        loop = uvloop.new_event_loop()
        for warm in (False, True):  # connections, caches: not profiled
            for _ in range(20):
                loop.run_until_complete(target.call(warm))
        scenario = Scenario(front, 1, calls, stream)
        plain = _batch(loop, target, scenario, daemon)
        daemon.process.send_signal(signal.SIGUSR1)
        loop.run_until_complete(asyncio.sleep(0.2))  # the handler runs on the daemon's loop
        profiled = _batch(loop, target, scenario, daemon)
        daemon.process.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 30
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        loop.close()
    finally:
        daemon.stop()
        upstream.stop()
    return Breakdown(pstats.Stats(str(out))), plain, profiled


def _short(key: Key) -> str:
    path = Path(key[0])
    return f"{path.parent.name}/{path.name}:{key[2]}" if key[0] != "~" else key[2]


def report_profile(
    front: str, breakdown: Breakdown, plain: Run, profiled: Run, stream: bool, top: int = 15
) -> str:
    n = profiled.samples.calls
    # The profile's shares, applied to the loop thread's CPU per call without the profiler.
    scale = plain.per_call_ms(plain.loop_cpu) / breakdown.total * n  # × seconds / n: ms
    own, inclusive = breakdown.own(), breakdown.inclusive()
    lines = [
        f"### {front}: {n} {'streamed' if stream else 'JSON'} calls at concurrency 1",
        "",
        f"Without the profiler: latency p50 {plain.samples.quantile(50):.2f} ms, the daemon's "
        f"CPU {plain.per_call_ms(plain.loop_cpu):.2f} ms/call on the event loop's thread and "
        f"{plain.per_call_ms(plain.other_cpu):.2f} ms/call on its other threads (the "
        f"ledger's writer, chiefly). Under cProfile (the loop's thread, its CPU clock): "
        f"{profiled.per_call_ms(profiled.loop_cpu):.2f} ms/call. The estimates below apply "
        "the profile's shares to the unprofiled figure (the profiler inflates many small "
        "Python calls more than a few large ones: read them as ±30 %).",
        "",
        "| layer | own % | own, est. ms/call | inclusive % | inclusive, est. ms/call |",
        "|---|---:|---:|---:|---:|",
    ]
    for layer, what in LAYERS.items():
        mine = own.get(layer, 0.0)
        if mine < 1e-9:
            continue
        incl = inclusive.get(layer, 0.0)
        # The server, the framework, our code and the loop call one another in turn (our
        # middleware calls Starlette, which calls our route): inclusive time would nest.
        show = layer in ("sdk", "httpx2", "ledger", "json")
        lines.append(
            f"| {what} | {mine / breakdown.total:.0%} | {mine * scale / n:.2f} "
            f"| {f'{incl / breakdown.total:.0%}' if show else '–'} "
            f"| {f'{incl * scale / n:.2f}' if show else '–'} |"
        )
    lines.append(
        f"| other threads, not profiled (the ledger's writer, chiefly) | – "
        f"| {plain.per_call_ms(plain.other_cpu):.2f} | – | – |"
    )
    lines += [
        "",
        "The request path's steps, inclusive (they nest; entries count each resumption of "
        "a coroutine):",
        "",
        "| step | function | est. ms/call | % | entries/call |",
        "|---|---|---:|---:|---:|",
    ]
    for suffix, name, label in STEPS:
        found = breakdown.functions(_named(suffix, name))
        seconds, count = sum(f[1] for f in found), sum(f[2] for f in found)
        if count:
            lines.append(
                f"| {label} | `{suffix.rsplit('/', 1)[-1]}:{name}` | {seconds * scale / n:.2f} "
                f"| {seconds / breakdown.total:.0%} | {count / n:.1f} |"
            )
    lines += [
        "",
        "The SDK's request path, inclusive (nested: `post` holds `request` holds the rest; "
        "entries count each resumption of a coroutine):",
        "",
        "| function | est. ms/call | entries/call |",
        "|---|---:|---:|",
    ]
    for key, seconds, count in breakdown.functions(_sdk_build)[:12]:
        lines.append(f"| `{_short(key)}` | {seconds * scale / n:.3f} | {count / n:.1f} |")
    lines += [
        "",
        "The functions with the most own time (built-ins charged to their callers' layer):",
        "",
        "| function | layer | own, est. ms/call | own % |",
        "|---|---|---:|---:|",
    ]
    for key, seconds in breakdown.top_own(top):
        layer = breakdown.main_layer(key)
        lines.append(
            f"| `{_short(key)}` | {layer} | {seconds * scale / n:.3f} "
            f"| {seconds / breakdown.total:.1%} |"
        )
    return "\n".join(lines)


# -- micro: the SDK's post against its own httpx2 client ----------------------------------


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
        base_url="http://upstream", api_key=processes.FAKE_KEY, max_retries=0, http_client=http()
    )
    gpt = openai.AsyncOpenAI(
        base_url="http://upstream/v1", api_key=processes.FAKE_KEY, max_retries=0,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1000, help="profiled calls per front-end")
    parser.add_argument("--whole", action="store_true", help="JSON answers instead of streams")
    parser.add_argument(
        "--front", choices=("messages", "responses", "translated", "both"), default="both",
        help="which front-end to profile (default both: the pass-through ones); translated:"
        " Chat Completions answered by sonnet",
    )  # fmt: skip
    parser.add_argument("--micro", action="store_true", help="only the request-building micro")
    parser.add_argument("--top", type=int, default=15, help="functions listed by own time")
    parser.add_argument("--micro-calls", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument(
        "--source", type=Path, metavar="DIR",
        help="profile the cortexd of this source tree (e.g. a `git archive` of a commit, "
        "its routing/ etc. linked under cortexd/) instead of this environment's",
    )  # fmt: skip
    args = parser.parse_args()
    sections = []
    if args.source is not None:
        SOURCES.insert(0, args.source.resolve())
    if not args.micro:
        fronts = ("messages", "responses") if args.front == "both" else (args.front,)
        for front in fronts:
            out = args.out / f"cortexd-{front}.prof"
            out.unlink(missing_ok=True)
            print(f"profiling {front}...", file=sys.stderr)
            breakdown, plain, profiled = profile(
                front, args.calls, not args.whole, out, args.source
            )
            sections.append(
                report_profile(front, breakdown, plain, profiled, not args.whole, args.top)
            )
    results = uvloop.run(micro(args.micro_calls, 5))
    sections.append(report_micro(results, args.micro_calls, 5))
    print("\n\n".join(sections))


if __name__ == "__main__":
    main()

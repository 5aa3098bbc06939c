"""The Markdown report of a pass-through profile (for benchmarks/passthrough.py): its layers,
the request path's steps, the SDK's request building and the functions with the most time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.load import Samples
from benchmarks.passthrough_layers import LAYERS, Breakdown, Key, layer_of


@dataclass
class Run:
    """A batch of calls and the daemon's CPU over it, its event loop's thread apart."""

    samples: Samples
    loop_cpu: float = 0.0
    other_cpu: float = 0.0

    def per_call_ms(self, seconds: float) -> float:
        return seconds / max(1, self.samples.calls) * 1e3


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

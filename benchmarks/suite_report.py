"""The whole table's report (`python -m benchmarks`): Markdown tables of a run's figures
against the direct calls, and the same figures as JSON for `--json`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from datetime import date
from typing import Any

from benchmarks.suite_run import Results
from benchmarks.targets import AGENT_SCENARIOS

#: The issue's targets for the streamed pass-through, against the direct call.
TTFT_TARGET_MS, THROUGHPUT_TARGET = 1.0, 0.6


def _ms(value: float) -> str:
    return "–" if value != value else f"{value:.2f}"  # NaN: not measured


def report(results: Results, args: argparse.Namespace) -> str:
    """The Markdown tables."""
    lines = [
        f"Measured {date.today().isoformat()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"with `{' '.join(['uv run --group bench python -m benchmarks', *sys.argv[1:]])}` "
        f"({args.rounds} interleaved rounds, upstream delay {args.delay * 1000:.0f} ms).",
    ]
    if results.chat_paths:
        lines += ["", *_chat_tables(results)]
    if results.agent_paths:
        lines += ["", *_pass_through_table(results)]
    if results.memory:
        lines += ["", "| process | memory (RSS, MiB) |", "|---|---|"]
    for name, figures in results.memory.items():
        text = ", ".join(f"{what} {mib:.0f}" for what, mib in figures.items())
        lines.append(f"| {name} | {text} |")
    if results.startup:
        lines += ["", "| start-up | median | min | max |", "|---|---|---|---|"]
    for name, values in results.startup.items():
        lines.append(
            f"| {name} | {statistics.median(values) * 1000:.0f} ms "
            f"| {min(values) * 1000:.0f} ms | {max(values) * 1000:.0f} ms |"
        )
    if results.routing:
        lines += [
            "",
            "| routing decision (per prompt) | p50 µs | p99 µs | mean µs |",
            "|---|---|---|---|",
        ]
    for name, values in results.routing.items():
        q = statistics.quantiles(values, n=100)
        lines.append(
            f"| {name} | {q[49] * 1000:.0f} | {q[98] * 1000:.0f} "
            f"| {statistics.fmean(values) * 1000:.0f} |"
        )
    lines += ["", *results.notes]
    return "\n".join(lines)


def _chat_tables(results: Results) -> list[str]:
    lines = [
        "| path | calls | c | p50 ms | p95 ms | p99 ms | added p50 | added p99 "
        "| calls/s | × direct | client CPU ms/call | router CPU ms/call | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario in results.scenarios:
        if scenario.stream:
            continue
        for name in results.chat_paths:
            s = results.samples.get((name, scenario.name))
            if s is None:
                continue
            base = results.samples[(results.baselines[name], scenario.name)]
            lines.append(
                f"| {name} | {s.calls} | {scenario.concurrency} | {_ms(s.quantile(50))} "
                f"| {_ms(s.quantile(95))} | {_ms(s.quantile(99))} "
                f"| {_ms(s.quantile(50) - base.quantile(50))} "
                f"| {_ms(s.quantile(99) - base.quantile(99))} | {s.rps:.0f} "
                f"| {s.rps / base.rps:.2f} | {_ms(s.cpu_per_call_ms(server=False))} "
                f"| {_ms(s.cpu_per_call_ms(server=True))} | {s.errors} |"
            )
    lines += [
        "",
        "Streaming, concurrency 1 (time to the first content token, and to the end):",
        "",
        "| path | TTFT p50 ms | TTFT p99 ms | added TTFT p50 | end p50 ms | added end p50 |",
        "|---|---|---|---|---|---|",
    ]
    for name in results.chat_paths:
        s = results.samples.get((name, "c1 stream"))
        if s is None:
            continue
        base = results.samples[(results.baselines[name], "c1 stream")]
        lines.append(
            f"| {name} | {_ms(s.quantile(50, ttft=True))} | {_ms(s.quantile(99, ttft=True))} "
            f"| {_ms(s.quantile(50, ttft=True) - base.quantile(50, ttft=True))} "
            f"| {_ms(s.quantile(50))} | {_ms(s.quantile(50) - base.quantile(50))} |"
        )
    return lines


def _pass_through_table(results: Results) -> list[str]:
    """The agents' front-ends against their SDK straight to the upstream, and the targets."""
    lines = [
        "Pass-through (Messages and Responses): each path against its SDK straight to the "
        'upstream (TTFT: the first text delta; "daemon CPU": cortexd\'s, per call):',
        "",
        "| path | scenario | calls | p50 ms | added p50 | TTFT p50 ms | TTFT p95 ms "
        "| added TTFT p50 | added TTFT p95 | calls/s | × direct | daemon CPU ms/call | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = [n for n in results.agent_paths if results.baselines.get(n) == n]
    order = [m for d in order for m in results.agent_paths if results.baselines.get(m) == d]
    for name in order:
        if name in results.unavailable:
            why = results.unavailable[name]
            lines.append(f"| {name} | all | n/a ({why}) |" + " |" * 10)
            continue
        base_name = results.baselines[name]
        for scenario in AGENT_SCENARIOS:
            s, base = results.samples[(name, scenario)], results.samples[(base_name, scenario)]
            ttft = scenario.endswith("stream")
            t50, t95 = s.quantile(50, ttft=True), s.quantile(95, ttft=True)
            b50, b95 = base.quantile(50, ttft=True), base.quantile(95, ttft=True)
            lines.append(
                f"| {name} | {scenario} | {s.calls} | {_ms(s.quantile(50))} "
                f"| {_ms(s.quantile(50) - base.quantile(50))} "
                f"| {_ms(t50) if ttft else '–'} | {_ms(t95) if ttft else '–'} "
                f"| {_ms(t50 - b50) if ttft else '–'} | {_ms(t95 - b95) if ttft else '–'} "
                f"| {s.rps:.0f} | {s.rps / base.rps:.2f} "
                f"| {_ms(s.cpu_per_call_ms(server=True))} | {s.errors} |"
            )
    verdicts = []
    for name in ("cortexd-messages", "cortexd-responses"):
        if name not in results.agent_paths:
            continue
        direct = results.baselines[name]
        one, many = results.samples[(name, "c1 stream")], results.samples[(name, "c32 stream")]
        direct_one = results.samples[(direct, "c1 stream")]
        added = one.quantile(50, ttft=True) - direct_one.quantile(50, ttft=True)
        ratios = [
            one.rps / direct_one.rps,
            many.rps / results.samples[(direct, "c32 stream")].rps,
        ]
        verdicts.append(
            f"- {name}: added TTFT p50 {added:.2f} ms at c1 (target ≤ {TTFT_TARGET_MS:.0f} ms: "
            f"{'met' if added <= TTFT_TARGET_MS else 'missed'}); streamed throughput "
            f"{ratios[0]:.2f}× direct at c1, {ratios[1]:.2f}× at c32 (target ≥ "
            f"{THROUGHPUT_TARGET}×: {'met' if min(ratios) >= THROUGHPUT_TARGET else 'missed'})"
        )
    if verdicts:
        lines += ["", "Against the issue's targets for the streamed pass-through:", "", *verdicts]
    return lines


def to_json(results: Results) -> dict[str, Any]:
    """Every figure, for `--json FILE`."""
    return {
        "samples": {
            f"{name} / {scenario}": {
                "calls": s.calls,
                "errors": s.errors,
                "p50_ms": s.quantile(50),
                "p95_ms": s.quantile(95),
                "p99_ms": s.quantile(99),
                "ttft_p50_ms": s.quantile(50, ttft=True),
                "ttft_p95_ms": s.quantile(95, ttft=True),
                "rps": s.rps,
                "client_cpu_ms": s.cpu_per_call_ms(False),
                "server_cpu_ms": s.cpu_per_call_ms(True),
            }
            for (name, scenario), s in results.samples.items()
        },
        "unavailable": results.unavailable,
        "memory_mib": results.memory,
        "startup_s": results.startup,
        "routing_ms_p50": {k: statistics.median(v) for k, v in results.routing.items()},
    }

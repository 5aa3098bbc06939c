"""The whole performance table in one command: `uv run --group bench python -m benchmarks`.

Starts a fake upstream (benchmarks/upstream.py), cortexd pointed at it, and, when the
`bench` dependency group is installed, LiteLLM's proxy pointed at it too; then sends chat
calls with the official SDKs through each path, interleaved round by round so that a noisy
machine treats them alike, and prints Markdown tables: added latency against the direct
call, throughput, CPU per call, streaming time to first token, memory, start-up and the
router's own decisions. `--json FILE` also writes every figure.

`--paths` picks what runs: `chat` (Chat Completions through cortexd, the Anthropic pair
routed from it, LiteLLM; with memory, start-up and routing decisions), `agents` (the
pass-through front-ends the agents use, `POST /v1/messages` and `POST /v1/responses`, each
against its SDK straight to the upstream), or `all` (the default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import uvloop

from benchmarks import classify, startup
from benchmarks.load import Samples, Scenario, run_batch
from benchmarks.processes import (
    BIN,
    Started,
    litellm_installed,
    start_cortexd,
    start_litellm_proxy,
    start_upstream,
)
from benchmarks.targets import (
    AGENT_SCENARIOS,
    TRANSLATED_SCENARIOS,
    Target,
    anthropic_direct,
    direct,
    litellm_proxy,
    litellm_router,
    messages_through_cortexd,
    responses_direct,
    responses_through_cortexd,
    through_cortexd,
)

PATH_GROUPS = ("chat", "agents")
#: The issue's targets for the streamed pass-through, against the direct call.
TTFT_TARGET_MS, THROUGHPUT_TARGET = 1.0, 0.6


@dataclass
class Results:
    """Everything one run measured."""

    scenarios: list[Scenario]
    samples: dict[tuple[str, str], Samples] = field(default_factory=dict)
    # Each measured path's direct baseline, the chat paths and the agents' paths in order,
    # and the paths that could not be measured (a baseline build without the endpoint).
    baselines: dict[str, str] = field(default_factory=dict)
    chat_paths: list[str] = field(default_factory=list)
    agent_paths: list[str] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    memory: dict[str, dict[str, float]] = field(default_factory=dict)
    startup: dict[str, list[float]] = field(default_factory=dict)
    routing: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _scenarios(scale: float) -> list[Scenario]:
    def n(count: int) -> int:
        return max(10, int(count * scale))

    return [
        Scenario("c1", 1, n(150)),
        Scenario("c1 stream", 1, n(150), stream=True),
        Scenario("c32", 32, n(640)),
        Scenario("c128", 128, n(1280)),
        Scenario("c32 stream", 32, n(640), stream=True),
    ]


async def _measure(targets: Sequence[Target], results: Results, rounds: int) -> None:
    # Warm every path (connections, imports, caches) before anything is recorded.
    for target in targets:
        for stream in (False, True):
            for _ in range(20):
                await target.call(stream)
    for round_no in range(rounds):
        for scenario in results.scenarios:
            # Rotate the order each round so no target always runs first or last.
            shift = round_no % len(targets)
            for target in [*targets[shift:], *targets[:shift]]:
                if scenario.name not in target.scenarios:
                    continue
                samples = results.samples.setdefault((target.name, scenario.name), Samples())
                await run_batch(target.call, scenario, samples, target.server_cpu)
        print(f"  round {round_no + 1}/{rounds} done", file=sys.stderr)


async def _probe(target: Target) -> str | None:
    """None if the path answers a call and a stream; else why not (a build without the
    endpoint answers 404), so that it is reported as n/a instead of failing every call."""
    for stream in (False, True):
        try:
            await target.call(stream)
        except Exception as error:  # any failure: the path is left out, and says why
            status = getattr(error, "status_code", None)
            if status == 404:
                return "answers 404: this build has no such endpoint"
            return f"{type(error).__name__}: {str(error)[:120]}"
    return None


async def _hammer(target: Target, calls: int) -> None:
    await run_batch(target.call, Scenario("memory", 32, calls), Samples(), target.server_cpu)


def _cortex_ask(sock: Path, rounds: int) -> list[float]:
    """Seconds for `cortex ask --model gpt-4o` against the running daemon, exec to exit."""
    env = {**os.environ, "CORTEX_SOCKET": str(sock)}
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(
            [str(BIN / "cortex"), "ask", "--model", "gpt-4o", "hi"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - started)
    return times


def run(args: argparse.Namespace) -> Results:
    results = Results(_scenarios(args.scale))
    upstream, port = start_upstream(args.delay)
    started: list[Started] = [upstream]
    try:
        print("starting cortexd and its SDKs...", file=sys.stderr)
        daemon, sock = start_cortexd(port, args.cortexd)
        started.append(daemon)
        results.memory["cortexd"] = {"idle": daemon.rss_mib()}
        chat, agents = "chat" in args.paths, "agents" in args.paths
        targets: list[Target] = []
        if chat:
            targets += [direct(port), through_cortexd(sock, daemon.cpu_seconds)]
        claude = anthropic_direct(port)
        targets.append(claude if agents else replace(claude, scenarios=TRANSLATED_SCENARIOS))
        if chat:
            targets.append(through_cortexd(sock, daemon.cpu_seconds, model="sonnet"))
        if agents:
            targets += [
                messages_through_cortexd(sock, daemon.cpu_seconds),
                responses_direct(port),
                responses_through_cortexd(sock, daemon.cpu_seconds),
            ]
        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        if args.baseline is not None:
            print(f"starting the baseline cortexd from {args.baseline}...", file=sys.stderr)
            base, base_sock = start_cortexd(port, args.baseline)
            started.append(base)
            results.memory["cortexd-baseline"] = {"idle": base.rss_mib()}
            based: list[Target] = []
            if chat:
                based.append(through_cortexd(base_sock, base.cpu_seconds, name="cortexd-baseline"))
                translated = "cortexd-anthropic-baseline"
                based.append(through_cortexd(base_sock, base.cpu_seconds, "sonnet", translated))
            if agents:
                based += [
                    messages_through_cortexd(
                        base_sock, base.cpu_seconds, name="cortexd-messages-baseline"
                    ),
                    responses_through_cortexd(
                        base_sock, base.cpu_seconds, name="cortexd-responses-baseline"
                    ),
                ]
            for target in based:
                why = loop.run_until_complete(_probe(target))
                if why is None:
                    targets.append(target)
                else:
                    print(f"  {target.name}: n/a ({why})", file=sys.stderr)
                    results.unavailable[target.name] = why
                    results.baselines[target.name] = target.baseline
        proxy: Started | None = None
        if not chat:
            pass  # LiteLLM is measured on the chat paths only
        elif args.no_litellm:
            results.notes.append("LiteLLM skipped (--no-litellm).")
        elif not litellm_installed():
            results.notes.append(
                "LiteLLM is not installed: `uv run --group bench python -m benchmarks` adds it."
            )
        else:
            print("starting LiteLLM's proxy...", file=sys.stderr)
            proxy, proxy_port, master_key = start_litellm_proxy(port)
            started.append(proxy)
            results.memory["litellm-proxy"] = {"idle": proxy.rss_mib()}
            results.startup["litellm proxy: exec -> first answer"] = [proxy.seconds_to_ready]
            started_import = time.perf_counter()
            targets.append(litellm_router(port))
            results.startup["litellm: import + Router()"] = [time.perf_counter() - started_import]
            targets.append(litellm_proxy(proxy_port, master_key, proxy.cpu_seconds))
        for target in targets:
            results.baselines[target.name] = target.baseline
            if target.scenarios != AGENT_SCENARIOS or (chat and target.name == "anthropic-direct"):
                results.chat_paths.append(target.name)
            if target.scenarios == AGENT_SCENARIOS:
                results.agent_paths.append(target.name)
        results.agent_paths += results.unavailable.keys() - {
            "cortexd-baseline",
            "cortexd-anthropic-baseline",
        }
        print(f"measuring {len(targets)} paths, {args.rounds} rounds...", file=sys.stderr)
        loop.run_until_complete(_measure(targets, results, args.rounds))
        results.memory["cortexd"]["after warm-up"] = daemon.rss_mib()
        by_name = {t.name: t for t in targets}
        if chat and args.memory_calls > 0:
            print(f"{args.memory_calls} calls for the memory figures...", file=sys.stderr)
            loop.run_until_complete(_hammer(by_name["cortexd"], args.memory_calls))
            results.memory["cortexd"][f"after {args.memory_calls} more calls"] = daemon.rss_mib()
            if proxy is not None:
                results.memory["litellm-proxy"]["after warm-up"] = proxy.rss_mib()
                loop.run_until_complete(_hammer(by_name["litellm-proxy"], args.memory_calls))
                results.memory["litellm-proxy"][f"after {args.memory_calls} more calls"] = (
                    proxy.rss_mib()
                )
        if chat:
            results.startup["cortex ask (exec -> exit, answered)"] = _cortex_ask(sock, 5)
        loop.close()
    finally:
        for process in reversed(started):
            process.stop()
    if not chat:
        return results
    print("start-up and routing decisions...", file=sys.stderr)
    startup.daemon_once()  # warm the file cache and the bytecode
    runs = [startup.daemon_once() for _ in range(5)]
    results.startup["cortexd: exec -> socket accepts"] = [r[0] for r in runs]
    results.startup["cortexd: exec -> first /v1/health"] = [r[1] for r in runs]
    results.startup["cortexd: exec -> SDKs loaded"] = [r[2] for r in runs]
    results.startup["cortex --help"] = [startup.cli_once() for _ in range(5)]
    results.routing = classify.measure(2)
    return results


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


def _json(results: Results) -> dict[str, Any]:
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


def _paths(text: str) -> tuple[str, ...]:
    """`--paths`: `all`, or groups from PATH_GROUPS, comma-separated."""
    names = {n.strip() for n in text.split(",") if n.strip()}
    if "all" in names:
        return PATH_GROUPS
    unknown = names - set(PATH_GROUPS)
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown path group {', '.join(sorted(unknown)) or '(none)'}: "
            f"choose from {', '.join(PATH_GROUPS)} or all"
        )
    return tuple(g for g in PATH_GROUPS if g in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--scale", type=float, default=1.0, help="calls per batch, × (default 1)")
    parser.add_argument("--delay", type=float, default=0.0, help="upstream delay, seconds")
    parser.add_argument("--memory-calls", type=int, default=10_000)
    parser.add_argument("--no-litellm", action="store_true", help="measure cortexd only")
    parser.add_argument(
        "--paths",
        type=_paths,
        default=PATH_GROUPS,
        metavar="GROUPS",
        help="what to measure, comma-separated: chat (Chat Completions, the Anthropic pair, "
        "LiteLLM, memory, start-up, routing), agents (the pass-through front-ends "
        "/v1/messages and /v1/responses), all (the default)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--cortexd",
        type=Path,
        default=BIN,
        metavar="BIN",
        help="the bin folder of the cortexd to measure (default: this environment's)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="BIN",
        help="also measure the cortexd in this bin folder (e.g. another checkout's .venv/bin)",
    )
    args = parser.parse_args()
    results = run(args)
    print(report(results, args))
    if args.json:
        args.json.write_text(json.dumps(_json(results), indent=2, default=str))


if __name__ == "__main__":
    main()

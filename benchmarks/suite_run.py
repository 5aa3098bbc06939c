"""The whole table's run (`python -m benchmarks`): start the upstream, cortexd and LiteLLM,
measure every path in interleaved rounds, then memory, start-up and routing decisions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import uvloop

from benchmarks import classify, startup
from benchmarks.load import Samples, Scenario, run_batch, warm_up
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
        await warm_up(target.call)
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

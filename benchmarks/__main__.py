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
import json
from pathlib import Path

from benchmarks.processes import BIN
from benchmarks.suite_report import report, to_json
from benchmarks.suite_run import run

PATH_GROUPS = ("chat", "agents")


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
        args.json.write_text(json.dumps(to_json(results), indent=2, default=str))


if __name__ == "__main__":
    main()

"""``cortexd``: the daemon's entry point.

On first run it installs the default routing file; it loads and validates the routing file
(a bad one: exit 1 with every problem), reads the keys, opens the socket (a second instance:
exit 1 naming the running one) and serves until SIGTERM or SIGINT. ``--check`` only
validates and prints the active table and which providers have keys (never the keys).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cortexd.environment import KEY_VARIABLES, Environment
from cortexd.paths import Paths, install_default_routing_file
from cortexd.routing import (
    RoutingFileError,
    RoutingTable,
    Toggle,
    WorkflowKind,
    load_routing_file,
    redact_url,
)


def build_parser() -> argparse.ArgumentParser:
    """The daemon's command-line flags."""
    parser = argparse.ArgumentParser(prog="cortexd", description="The cortexd LLM routing daemon.")
    parser.add_argument(
        "--routing-file", type=Path, help="routing file (default: in the context folder)"
    )
    parser.add_argument("--socket", type=Path, help="Unix socket path (default: runtime folder)")
    parser.add_argument("--key-file", type=Path, help="API keys, NAME=value lines, mode 0600")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument(
        "--drain-seconds", type=float, default=10.0, help="time calls in flight get at shutdown"
    )
    parser.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        help="also listen on loopback TCP (e.g. 127.0.0.1:8765), with a bearer token",
    )
    parser.add_argument(
        "--max-in-flight", type=int, default=64, help="calls at once before answering 503"
    )
    parser.add_argument(
        "--check", action="store_true", help="validate the routing file, show it, and exit"
    )
    return parser


def render(table: RoutingTable, env: Environment, console: Console) -> None:
    """Print the active routing table and the providers' key status."""
    routes = Table(title=f"Routing table — {escape(table.source)}")
    for column in ("task type", "chain (primary → fallbacks)", "line"):
        routes.add_column(column, overflow="fold")
    for route in table.routes.values():
        routes.add_row(escape(route.task), escape(" → ".join(route.chain)), str(route.line))
    for rule in table.workflow:
        if rule.kind is WorkflowKind.TASK and rule.scenario not in table.routes:
            routes.add_row(escape(rule.scenario), " → ".join(rule.models), str(rule.line))
    console.print(routes)
    local = Table(title="Local models (need the hardware probe, not built yet)")
    for column in ("task type", "local model", "cloud fallback", "state"):
        local.add_column(column, overflow="fold")
    for row in table.local.values():
        state = {Toggle.ON: "forced on", Toggle.OFF: "off"}.get(row.toggle, "auto: inactive")
        local.add_row(escape(row.task), escape(row.model), " → ".join(row.fallback) or "—", state)
    console.print(local)
    providers = Table(title="Providers")
    providers.add_column("provider")
    providers.add_column("credentials")
    for name, variable in KEY_VARIABLES.items():
        ok = name in env.keys_present
        providers.add_row(name, f"{variable} set" if ok else f"no key ({variable} unset)")
    ollama = env.ollama_host or table.ollama_host or "http://localhost:11434"
    providers.add_row("ollama", f"{escape(redact_url(ollama))} (not contacted yet)")
    console.print(providers)
    for warning in table.warnings:
        console.print(f"[yellow]{escape(warning.describe(table.source))}[/]")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cortexd``; returns the exit status."""
    args = build_parser().parse_args(argv)
    env = Environment.read()
    paths = Paths.resolve(env)
    console = Console(stderr=not args.check)
    path = args.routing_file or paths.routing_file
    # Only the default location is seeded: a mistyped --routing-file or CORTEX_ROUTING_FILE
    # must be reported as missing, not silently created.
    chosen = args.routing_file is not None or env.routing_file is not None
    if not chosen and install_default_routing_file(path):
        console.print(
            f"created {escape(str(path))} from the default routing file; edit it to change routes"
        )
    try:
        table = load_routing_file(path)
    except RoutingFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.check:
        render(table, env, console)
        console.print("cortexd: routing file valid.")
        return 0
    from cortexd.daemon import run  # the server stack, only when serving

    return run(table, path, paths, env, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

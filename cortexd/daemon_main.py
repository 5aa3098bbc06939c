"""``cortexd``: the daemon's entry point.

Until the daemon proper is built (socket, API, dispatch), it does its start-up checks and
exits: installs the default routing file on first run, loads and validates it, prints the
active routing table and which providers have keys (never the keys), and exits 0 — or 1
with every problem of a bad routing file.
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
    console = Console()
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
    render(table, env, console)
    console.print(
        "cortexd: routing file valid. The daemon itself (socket, API) arrives in a later release."
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``cortexd``: the daemon's entry point.

It opens the socket first (a second instance: exit 1 naming the running one), so that the
socket accepts a fraction of a second after exec; then, on first run, it installs the
default routing file, loads and validates it (a bad one: exit 1 with every problem), reads
the keys and serves until SIGTERM or SIGINT. ``--check`` only validates and prints the
active table and which providers have keys (never the keys).
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cortexd.context.environment import KEY_VARIABLES, Environment
from cortexd.context.paths import Paths, install_default_routing_file
from cortexd.daemon.malloc import tune_malloc

if TYPE_CHECKING:
    from rich.console import Console

    from cortexd.daemon.listener import Listener
    from cortexd.routing import RoutingTable


def _at_least(low: float, kind: type[int] | type[float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}")
        return value

    return parse


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
        "--drain-seconds",
        type=_at_least(0.0, float),
        default=10.0,
        help="time calls in flight get at shutdown",
    )
    parser.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        help="the loopback TCP listener, guarded by a bearer token (default 127.0.0.1:7462;"
        " 'off' turns it off; env CORTEX_TCP, which this flag overrides)",
    )
    parser.add_argument(
        "--max-in-flight",
        type=_at_least(1, int),
        default=64,
        help="calls at once before answering 503",
    )
    parser.add_argument(
        "--warm-up-budget",
        type=_at_least(0.0, float),
        default=3.0,
        metavar="SECONDS",
        help="a local model not in memory that loads slower than this lets the cloud answer"
        " while it loads (default 3)",
    )
    parser.add_argument(
        "--background-after",
        type=_at_least(0.0, float),
        default=1.0,
        metavar="SECONDS",
        help="start the inbox, batches, scheduled jobs and file watchers this long after"
        " serving begins, so that the call that started the daemon is answered first"
        " (default 1; 0: before serving)",
    )
    parser.add_argument(
        "--keep-prompts",
        type=_at_least(0.0, float),
        default=0.0,
        metavar="DAYS",
        help="store prompts and answers in the ledger for DAYS days (default 0: never)",
    )
    parser.add_argument(
        "--check", action="store_true", help="validate the routing file, show it, and exit"
    )
    return parser


def render(table: RoutingTable, env: Environment, console: Console) -> None:
    """Print the active routing table and the providers' key status."""
    from rich.markup import escape
    from rich.table import Table

    from cortexd.routing import Toggle, WorkflowKind, redact_url
    from cortexd.routing.providers import OLLAMA_DEFAULT_HOST

    routes = Table(title=f"Routing table — {escape(table.source)}")
    for column in ("task type", "chain (primary → fallbacks)", "line"):
        routes.add_column(column, overflow="fold")
    for route in table.routes.values():
        routes.add_row(escape(route.task), escape(" → ".join(route.chain)), str(route.line))
    for rule in table.workflow:
        if rule.kind is WorkflowKind.TASK and rule.scenario not in table.routes:
            routes.add_row(escape(rule.scenario), " → ".join(rule.models), str(rule.line))
    console.print(routes)
    local = Table(title="Local models (`cortex hardware` says which are active on this machine)")
    for column in ("task type", "local model", "cloud fallback", "state"):
        local.add_column(column, overflow="fold")
    for row in table.local.values():
        state = {Toggle.ON: "forced on", Toggle.OFF: "off"}.get(row.toggle, "auto: if it fits")
        local.add_row(escape(row.task), escape(row.model), " → ".join(row.fallback) or "—", state)
    console.print(local)
    providers = Table(title="Providers")
    providers.add_column("provider")
    providers.add_column("credentials")
    for name, variable in KEY_VARIABLES.items():
        ok = name in env.keys_present
        providers.add_row(name, f"{variable} set" if ok else f"no key ({variable} unset)")
    ollama = env.ollama_host or table.ollama_host or OLLAMA_DEFAULT_HOST
    providers.add_row("ollama", f"{escape(redact_url(ollama))} (not contacted yet)")
    console.print(providers)
    for warning in table.warnings:
        console.print(f"[yellow]{escape(warning.describe(table.source))}[/]")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cortexd``; returns the exit status."""
    # What start-up makes (modules, the router's tables) lives as long as the process: the
    # cyclic collector's passes over it while it is made find nothing. Collection resumes,
    # with those objects frozen out of its passes, once the daemon serves (server.py).
    gc.disable()
    tune_malloc(os.environ)  # before any thread starts
    args = build_parser().parse_args(argv)
    env = Environment.read()
    paths = Paths.resolve(env)
    listener: Listener | None = None
    if not args.check:
        from cortexd.daemon.listener import ListenerError, open_listener

        # `cortex` sends SIGHUP to the lock's holder; until the server's handler is in place
        # (and again once it is gone at shutdown) a reload request must not kill the daemon.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

        own = args.socket is None and env.socket is None
        try:
            listener = open_listener(args.socket or paths.socket, os.environ, own_folder=own)
        except ListenerError as error:
            print(f"cortexd: {error}", file=sys.stderr)
            return 1
    try:
        loaded = _load_table(args, env, paths)
    except BaseException:
        if listener is not None:
            listener.close()
        raise
    if loaded is None:
        if listener is not None:
            listener.close()
        return 1
    table, path, digest = loaded
    if listener is None:
        from rich.console import Console

        console = Console()
        render(table, env, console)
        console.print("cortexd: routing file valid.")
        return 0
    from cortexd.daemon.run import run  # the server stack, only when serving

    return run(table, path, paths, env, args, listener, digest)


def _load_table(
    args: argparse.Namespace, env: Environment, paths: Paths
) -> tuple[RoutingTable, Path, str] | None:
    """The routing file, installed on first run and validated; None after printing why not."""
    from cortexd.routing import RoutingFileError, load_routing_file_with_digest

    path = args.routing_file or paths.routing_file
    # Only the default location is seeded: a mistyped --routing-file or CORTEX_ROUTING_FILE
    # must be reported as missing, not silently created.
    chosen = args.routing_file is not None or env.routing_file is not None
    if not chosen and install_default_routing_file(path):
        # Plain text, not rich: rich would stay loaded for the daemon's life (3.9 MiB) to
        # print one line.
        print(
            f"created {path} from the default routing file; edit it to change routes",
            file=sys.stdout if args.check else sys.stderr,
        )
    try:
        table, digest = load_routing_file_with_digest(path)
        return table, path, digest
    except RoutingFileError as exc:
        print(exc, file=sys.stderr)
        return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

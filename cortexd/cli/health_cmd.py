"""``cortex health``: is the daemon up, which routing file, its TCP listener, which providers
answer, which models' circuits are open and until when."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("health", help="the daemon's health: routing file, keys, providers")
    p.add_argument("--json", action="store_true", help="print the raw JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from cortexd.cli.common import ask_daemon, rich_console

    answer = ask_daemon(lambda client: client.health(check_all=True), args.json)
    if answer is None:
        return 0
    health = answer.json  # providers, circuits, budgets, local rows, the listener
    console = rich_console()
    routing = answer.routing_file
    console.print(f"cortexd {answer.version}, up {answer.uptime_s:.0f} s")
    console.print(f"routing file: {escape(routing.path)} (generation {routing.generation})")
    if routing.last_error:
        console.print(
            "[red]last reload failed, the previous file serves:[/]\n" + escape(routing.last_error)
        )
    listener = health.get("listener") or {}
    if listener.get("tcp"):
        console.print(
            f"TCP listener: {escape(listener['tcp'])}, token file"
            f" {escape(str(listener.get('token_file')))} (cortex connect sets up clients)"
        )
    elif listener.get("error"):
        console.print(f"[yellow]TCP listener: not listening: {escape(listener['error'])}[/]")
    budgets = health.get("budgets") or {}
    if budgets.get("set"):
        used = ", ".join(f"{b['scope']} {b['percent']:.0f}%" for b in budgets["budgets"])
        console.print(f"budgets used this month: {used}")
    elif budgets:
        console.print(f"[yellow]{escape(budgets['note'])}[/]")
    rows = health.get("local_rows") or []
    if rows:
        active = [r for r in rows if r["active"]]
        names = ", ".join(sorted({escape(r["model"]) for r in active})) or "none"
        console.print(
            f"local rows active: {len(active)} of {len(rows)} ({names}); why the others are"
            " not: cortex hardware"
        )
    if answer.keys_missing:
        console.print(f"[yellow]no API key for: {', '.join(answer.keys_missing)}[/]")
    table = Table(title="providers")
    for column in ("provider", "endpoint", "reachable", "detail"):
        table.add_column(column, overflow="fold")
    for p in health.get("providers") or ():
        reachable = {True: "yes", False: "no", None: "—"}[p.get("reachable")]
        table.add_row(
            p["provider"],
            escape(str(p.get("endpoint", ""))),
            reachable,
            escape(str(p.get("detail", ""))),
        )
    console.print(table)
    _circuits(console, health.get("circuits") or [])
    return 0 if not routing.last_error else 1


def _circuits(console: Any, circuits: list[dict[str, Any]]) -> None:
    """The models dispatch skips now, and when each is tried again (in local time)."""
    from datetime import datetime

    from rich.markup import escape

    if not circuits:
        console.print("open circuits: none (every model may be tried)")
        return
    console.print("[yellow]open circuits (skipped until then):[/]")
    for c in circuits:
        at = datetime.fromisoformat(c["until"]).astimezone().strftime("%H:%M:%S")
        console.print(
            f"  {escape(c['model'])}: {escape(c['why'])}; tried again at {at} "
            f"(in {c['in_s']:.0f} s)",
            highlight=False,
        )

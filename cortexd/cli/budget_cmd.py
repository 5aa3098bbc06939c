"""``cortex budget``: this month's spend against each budget, and ``cortex budget set
PROVIDER AMOUNT``, which writes the routing file's Budgets section for the user."""

from __future__ import annotations

import argparse
import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cortexd.errors import CortexError

if TYPE_CHECKING:
    from cortexd.client_spend import Budgets

SCOPES = ("anthropic", "openai", "total")


def register(sub: Any) -> None:
    p = sub.add_parser("budget", help="monthly budgets: where spend stands, or set one")
    p.add_argument("--json", action="store_true", help="print the raw JSON")
    p.set_defaults(run=run_show)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    s = actions.add_parser("set", help="set a monthly limit in USD in the routing file")
    s.add_argument("scope", choices=SCOPES, metavar="PROVIDER", help="anthropic, openai or total")
    s.add_argument("amount", help="USD per month, e.g. 50 or 12.50")
    s.add_argument(
        "--yes", "-y", action="store_true", help="write without asking (a script needs it)"
    )
    s.set_defaults(run=run_set)


def print_budgets(console: Any, data: Budgets) -> None:
    """The budgets table (shared with cortex costs), or why there is none."""
    from rich.table import Table

    from cortexd.cli.common import usd_text
    from cortexd.formatting import money

    if not data.any_set:
        console.print(f"[yellow]{data.note}[/]")
        return
    table = Table(title=f"budgets in {data.month}", title_justify="left")
    columns = ("budget", "limit", "spent", "in flight", "used", "alerts reached", "at 100%")
    for column in columns:
        table.add_column(column, justify="left" if column in ("budget", "at 100%") else "right")
    for b in data.budgets:
        used = f"{b.percent:.0f}%"
        style = "red" if b.percent >= 100 else "yellow" if b.reached else None
        reached = ", ".join(f"{t}%" for t in b.reached) or "—"
        held = money(usd_text(b.reserved_usd)) if b.reserved_usd else "—"
        table.add_row(
            b.scope, money(usd_text(b.limit_usd)), money(usd_text(b.spent_usd)), held, used,
            reached, b.at_limit, style=style,
        )  # fmt: skip
    console.print(table)
    console.print(
        "spent: recorded in the ledger (as cortex costs says); in flight: held by calls still"
        " running, which the limits count too",
        highlight=False,
    )


def run_show(args: argparse.Namespace) -> int:
    from cortexd.cli.common import ask_daemon, rich_console

    data = ask_daemon(lambda client: client.budgets(), args.json)
    if data is not None:
        print_budgets(rich_console(), data)
    return 0


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().lstrip("$").replace(",", ""))
    except InvalidOperation:
        raise CortexError(f"'{text}' is not an amount in USD (write it like 50 or 12.50)") from None
    if not value.is_finite() or value <= 0:
        raise CortexError("a monthly limit must be more than $0")
    return value


def run_set(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from cortexd.cli.common import rich_console
    from cortexd.cli.file_edit import confirm, read_routing, write_and_reload
    from cortexd.client import Client, DaemonNotRunning
    from cortexd.context.environment import Environment
    from cortexd.context.paths import Paths
    from cortexd.routing import set_budget, unified_diff

    amount = _amount(args.amount)
    console = rich_console()
    with Client() as client:
        try:
            before: dict[str, Any] | None = dict(client.health().json["routing_file"])
        except DaemonNotRunning:
            before = None
        socket = client.socket
    path = Path(str(before["path"])) if before else Paths.resolve(Environment.read()).routing_file
    raw, text = read_routing(path)
    new = set_budget(text, args.scope, amount, today=datetime.date.today())
    console.print(escape(unified_diff(text, new, path.name)), highlight=False)
    if not confirm(console, "write this budget?", args.yes):
        console.print("nothing written")
        return 0
    return write_and_reload(console, path, new, was=raw, socket=socket, before=before)

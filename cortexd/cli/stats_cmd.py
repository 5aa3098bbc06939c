"""``cortex stats`` and ``cortex costs``: what the ledger says of models, tasks and money."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cortexd.client_spend import GroupTotal


def register(sub: Any) -> None:
    p = sub.add_parser("stats", help="calls, success, latency and cost per task type × model")
    p.add_argument("--task", help="only this task type")
    p.add_argument(
        "--since", help="from: a date (2026-11-01), 7d, 12h, 2w, today or month (default)"
    )
    p.add_argument(
        "--by",
        choices=["client", "project", "session"],
        help="one row per client, project or session, and what each cost in all",
    )
    p.add_argument("--json", action="store_true", help="print the raw JSON")
    p.set_defaults(run=run_stats)
    c = sub.add_parser("costs", help="this month's spend per provider, and its projection")
    c.add_argument("--json", action="store_true", help="print the raw JSON")
    c.set_defaults(run=run_costs)


def run_stats(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from cortexd.cli.common import ask_daemon, rich_console, usd_text
    from cortexd.formatting import bars, money, percent, seconds

    data = ask_daemon(
        lambda client: client.stats(since=args.since, task=args.task, by=args.by), args.json
    )
    if data is None:
        return 0
    console = rich_console()
    table = Table(title="calls per task type × model", title_justify="left")
    columns = ["task type", "model"]
    if args.by:
        columns.append(args.by)
    columns += ["tries", "completed", "achieved", "total p50/p95", "TTFT p50/p95"]
    columns += ["tokens in/out", "cost"]
    for column in columns:
        table.add_column(column, overflow="fold")
    for r in data.rows:
        model = f"{r.model} ({r.provider})"
        if r.role != "answer":  # a cross-validated call's extra try
            model += f", {r.role}"
        cells = [escape(r.task), escape(model)]
        if args.by:
            cells.append(escape(r.group or "—"))
        cost = money(usd_text(r.cost_usd)) + (" [red]+ ?[/]" if r.unpriced_tries else "")
        cells += [
            str(r.tries),
            percent(r.completed_rate),
            percent(r.achieved_rate),
            f"{seconds(r.total_s.p50)} / {seconds(r.total_s.p95)}",
            f"{seconds(r.first_token_s.p50)} / {seconds(r.first_token_s.p95)}",
            f"{r.input_tokens:,} / {r.output_tokens:,}",
            cost,
        ]
        table.add_row(*cells)
    if not data.rows:
        console.print("no calls recorded in this period")
    else:
        console.print(table)
    if args.by and data.rows:
        console.print(_totals_table(data.totals, args.by))
    chart = bars([{"day": d.day, "cost_usd": usd_text(d.cost_usd)} for d in data.spend_per_day])
    if chart:
        console.print("\nspend per day")
        for line in chart:
            console.print(line, highlight=False)
    if any(r.unpriced_tries for r in data.rows):
        console.print("[red]+ ?: some tries have no known price (see cortex costs)[/]")
    return 0


def _totals_table(totals: tuple[GroupTotal, ...], by: str) -> Any:
    """What each client (project, session) cost in all, the dearest first."""
    from rich.markup import escape
    from rich.table import Table

    from cortexd.cli.common import usd_text
    from cortexd.formatting import money

    table = Table(title=f"cost per {by}", title_justify="left")
    for column in (by, "calls", "tokens in/out", "cost"):
        table.add_column(column, overflow="fold", justify="left" if column == by else "right")
    for t in totals:
        cost = money(usd_text(t.cost_usd)) + (" [red]+ ?[/]" if t.unpriced_tries else "")
        table.add_row(
            escape(t.name or "—"),
            str(t.calls),
            f"{t.input_tokens:,} / {t.output_tokens:,}",
            cost,
        )
    return table


def run_costs(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from cortexd.cli.common import ask_daemon, rich_console, usd_text
    from cortexd.formatting import money

    data = ask_daemon(lambda client: client.costs(), args.json)
    if data is None:
        return 0
    console = rich_console()
    table = Table(
        title=f"spend in {data.month} ({data.days_elapsed:.1f} of {data.days_in_month} days)",
        title_justify="left",
    )
    for column in ("provider", "calls", "spent", "projected at month end"):
        table.add_column(column, justify="left" if column == "provider" else "right")
    for p in data.providers:
        table.add_row(
            escape(p.provider),
            str(p.calls),
            money(usd_text(p.cost_usd)),
            money(usd_text(p.projected_usd)),
        )
    total, projected = money(usd_text(data.total_usd)), money(usd_text(data.projected_usd))
    table.add_row("total", "", total, projected, style="bold")
    console.print(table)
    if data.estimated_usd:
        console.print(
            f"of which {money(usd_text(data.estimated_usd))} is estimated: streams cut short"
            " are counted by what they sent, since the provider's own count never came",
            highlight=False,
        )
    for u in data.unpriced:
        console.print(
            f"[red]price unknown:[/] {u.tries} tries of {escape(u.model)} "
            f"({escape(u.provider)}) are not in these sums"
        )
    if data.budgets is not None:
        from cortexd.cli.budget_cmd import print_budgets

        print_budgets(console, data.budgets)
    return 0

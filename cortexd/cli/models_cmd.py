"""``cortex models``: the model catalog as a table (aliases, ids, windows, prices).

The running daemon's catalog when it runs, else the routing file's (``--local`` forces it).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from cortexd.cli.common import load_table

if TYPE_CHECKING:
    from cortexd.client_admin import CatalogModel


def register(sub: Any) -> None:
    p = sub.add_parser("models", help="list the model catalog")
    p.add_argument("--file", help="routing file (default: yours, else the shipped one)")
    p.add_argument("--json", action="store_true", help="print the catalog as JSON")
    p.add_argument(
        "--local", action="store_true", help="read the file here, even if the daemon runs"
    )
    p.set_defaults(run=run)


def _from_daemon() -> tuple[CatalogModel, ...] | None:
    from cortexd.client import Client, DaemonNotRunning

    try:
        with Client() as client:
            listing = client.models()
    except DaemonNotRunning:
        return None
    return listing.catalog


def run(args: argparse.Namespace) -> int:
    rows = None if args.local or args.file else _from_daemon()
    if rows is None:
        from cortexd.client_admin import CatalogModel
        from cortexd.models_json import model_row
        from cortexd.routing import catalog_for

        catalog = catalog_for(load_table(args.file))
        rows = tuple(CatalogModel.from_json(model_row(catalog, spec)) for spec in catalog)
    if args.json:
        print(json.dumps([r.json for r in rows], indent=2))
        return 0
    from rich.markup import escape
    from rich.table import Table

    from cortexd.cli.common import rich_console

    table = Table(title="cortexd model catalog")
    for column in ("alias", "provider", "model id", "context", "$ in/MTok", "$ out/MTok"):
        right = column.startswith(("$", "context"))
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    unknown = "[bold red]unknown[/]"
    for r in rows:
        price_in, price_out = r.input_usd_per_mtok, r.output_usd_per_mtok
        table.add_row(
            escape(r.alias),
            r.provider,
            escape(r.model_id),
            f"{r.context_window:,}" if r.context_window else "?",
            unknown if price_in is None else str(price_in),
            unknown if price_out is None else str(price_out),
        )
    rich_console().print(table)
    return 0

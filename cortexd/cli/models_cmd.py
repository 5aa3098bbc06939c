"""``cortex models``: the model catalog as a table (aliases, ids, windows, prices)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cortexd.cli.common import load_table
from cortexd.routing import Catalog, ModelSpec, catalog_for, redact_url


def register(sub: Any) -> None:
    p = sub.add_parser("models", help="list the model catalog")
    p.add_argument("--file", help="routing file (default: yours, else the shipped one)")
    p.add_argument("--json", action="store_true", help="print the catalog as JSON")
    p.set_defaults(run=run)


def model_row(catalog: Catalog, spec: ModelSpec) -> dict[str, Any]:
    """One catalog entry as JSON-ready data; an unknown price is null, never 0."""
    price = catalog.price(spec)
    return {
        "alias": spec.name,
        "provider": spec.provider.value,
        "model_id": spec.model_id,
        "api": spec.api.value,
        "context_window": spec.context_window,
        "input_usd_per_mtok": None if price is None else str(price.input_mtok),
        "output_usd_per_mtok": None if price is None else str(price.output_mtok),
        "price_source": None if price is None else price.source,
        "base_url": None if spec.base_url is None else redact_url(spec.base_url),
        "gguf_path": None if spec.gguf_path is None else str(spec.gguf_path),
    }


def run(args: argparse.Namespace) -> int:
    catalog = catalog_for(load_table(args.file))
    rows = [model_row(catalog, spec) for spec in catalog]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="cortexd model catalog")
    for column in ("alias", "provider", "model id", "context", "$ in/MTok", "$ out/MTok"):
        right = column.startswith(("$", "context"))
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    for r in rows:
        unknown = "[bold red]unknown[/]"
        table.add_row(
            escape(r["alias"]),
            r["provider"],
            escape(r["model_id"]),
            f"{r['context_window']:,}" if r["context_window"] else "?",
            r["input_usd_per_mtok"] or unknown,
            r["output_usd_per_mtok"] or unknown,
        )
    Console().print(table)
    return 0

"""``cortex config check``: validate a routing file and list every problem."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cortexd.cli.common import load_table


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="routing file commands")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    check = verbs.add_parser("check", help="validate a routing file; non-zero exit on errors")
    check.add_argument("file", nargs="?", help="default: yours, else the shipped one")
    check.set_defaults(run=run_check)


def run_check(args: argparse.Namespace) -> int:
    from cortexd.routing import RoutingFileError

    try:
        table = load_table(args.file)
    except RoutingFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    for warning in table.warnings:
        print(warning.describe(table.source), file=sys.stderr)
    local = len(table.local)
    print(
        f"{table.source}: ok — {len(table.routes)} routes, {local} local rows, "
        f"{len(table.workflow)} workflow rules, mode '{table.mode.value}'"
    )
    return 0

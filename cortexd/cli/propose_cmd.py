"""``cortex propose``: routing changes the ledger supports, with their evidence; ``--apply N``
makes one (a diff, only the cells it needs, then the daemon reloads); ``--reject N`` sets one
aside until new evidence."""

from __future__ import annotations

import argparse
import datetime
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cortexd.errors import CortexError

if TYPE_CHECKING:
    from cortexd.client import Client
    from cortexd.client_admin import Proposal, Proposals


def register(sub: Any) -> None:
    p = sub.add_parser("propose", help="routing changes the performance data supports")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--apply", metavar="N", help="make proposal N (its number or id)")
    what.add_argument("--reject", metavar="N", help="set proposal N aside until new evidence")
    p.add_argument("--dry-run", action="store_true", help="with --apply: show the diff only")
    p.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="with --apply: write without asking (a script needs it)",
    )
    p.add_argument("--json", action="store_true", help="print the raw JSON")
    p.set_defaults(run=run)


def _pick(data: Proposals, which: str) -> Proposal:
    """Proposal `which`: its number as listed, or (4 characters or more) its id."""
    found = data.proposals
    match = [p for p in found if str(p.number) == which]
    if not match and len(which) >= 4:
        match = [p for p in found if p.id.startswith(which.lower())]
    if len(match) != 1:
        count = len(found)
        listed = f"there are {count} (cortex propose lists them)" if count else "there are none"
        raise CortexError(f"no proposal {which!r}: {listed}")
    return match[0]


def run(args: argparse.Namespace) -> int:
    from cortexd.cli.common import rich_console
    from cortexd.client import Client

    with Client() as client:
        if args.reject:
            data = client.proposals()
            chosen = _pick(data, args.reject)
            answer = client.reject(chosen.id)
            rich_console().print(
                f"set aside {answer.id} ({chosen.summary}); it comes back only "
                "when the calls made from now on support it by themselves"
            )
            return 0
        data = client.proposals()
        if args.apply:
            return _apply(rich_console(), client, data, args)
    if args.json:
        import json

        print(json.dumps(data.json, indent=2))
        return 0
    _show(rich_console(), data)
    return 0


def _show(console: Any, data: Proposals) -> None:
    from rich.markup import escape

    if not data.proposals:
        console.print(f"no routing change is supported by the last {data.days} days of calls")
    for p in data.proposals:
        advice = "" if p.changes else " [dim](advice: edit the file yourself)[/]"
        console.print(f"[bold]{p.number}. {escape(p.summary)}[/]{advice}  [dim]{p.id}[/]")
        for line in p.evidence:
            console.print(f"   {escape(line)}")
    for pending in data.pending:
        console.print(
            f"[dim]not yet: {escape(pending.summary)} — about {pending.needs_calls} more calls[/]"
        )
    if data.proposals:
        console.print("cortex propose --apply N makes one; --reject N sets it aside")
        if data.mode != "adaptive":
            console.print(f"[dim]mode '{data.mode}': proposals are never applied on their own[/]")


def _apply(console: Any, client: Client, data: Proposals, args: argparse.Namespace) -> int:
    from rich.markup import escape

    from cortexd.cli.file_edit import confirm, read_routing, write_and_reload
    from cortexd.routing import CellChange, apply_changes, unified_diff

    chosen = _pick(data, args.apply)
    if not chosen.changes:
        raise CortexError(
            f"proposal {chosen.number} is advice only (no cell to change): {chosen.summary}"
        )
    path = Path(data.routing_file)
    raw, text = read_routing(path)
    if hashlib.sha256(raw).hexdigest() != data.digest:
        raise CortexError(
            f"{path} changed since the daemon read it and made this proposal; "
            "nothing was written. Let the daemon reload it (or restart it), then run "
            "cortex propose again"
        )
    changes = [CellChange(c.section, c.row, c.column, c.old, c.new) for c in chosen.changes]
    new = apply_changes(text, changes, today=datetime.date.today())
    console.print(escape(unified_diff(text, new, path.name)), highlight=False)
    if args.dry_run or not confirm(console, "apply this change?", args.yes):
        console.print("nothing written")
        return 0
    before = dict(client.health().json["routing_file"])
    return write_and_reload(console, path, new, was=raw, socket=client.socket, before=before)

"""``cortex calls`` (the latest calls), ``cortex tail`` (calls as they are recorded),
``cortex why CALL_ID`` and ``cortex rate``."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cortexd.client_calls import CallDetail, CallSummary


def register(sub: Any) -> None:
    c = sub.add_parser("calls", help="the latest calls: who made them, in which session, cost")
    c.add_argument("-n", "--lines", type=int, default=20, help="how many (at most 1000)")
    c.add_argument("--json", action="store_true", help="print the raw JSON")
    c.set_defaults(run=run_calls)
    t = sub.add_parser("tail", help="the latest calls, then each new one as it happens")
    t.add_argument("-n", "--lines", type=int, default=10, help="how many past calls first")
    t.add_argument("--json", action="store_true", help="one JSON object per line")
    t.set_defaults(run=run_tail)
    w = sub.add_parser("why", help="how one call was routed, and every attempt it made")
    w.add_argument("call_id", help="the call's id (from the cortex block; a prefix will do)")
    w.add_argument("--json", action="store_true", help="print the raw JSON")
    w.set_defaults(run=run_why)
    r = sub.add_parser("rate", help="say whether a call's answer did its job")
    r.add_argument("call_id", help="the call's id (a prefix will do)")
    r.add_argument("rating", choices=["good", "bad"])
    r.add_argument("--note", help="why, in a few words")
    r.set_defaults(run=run_rate)


def _model(call: CallSummary) -> str:
    return f"{call.model or '—'}{' (fallback)' if call.fallback else ''}"


def line(call: CallSummary) -> str:
    """One call on one line."""
    from cortexd.cli.common import usd_text
    from cortexd.formatting import money, seconds

    when = time.strftime("%H:%M:%S", time.localtime(call.started_at))
    return (
        f"{when} {call.id[:12]} {call.task} → {_model(call)} {call.result}"
        f" {call.input_tokens}/{call.output_tokens} tok"
        f" ttft {seconds(call.first_token_s)} total {seconds(call.total_s)}"
        f" {money(usd_text(call.cost_usd))}"
        + (f" [{call.client}]" if call.client else "")
        + (f" session {call.session}" if call.session else "")
    )


def run_calls(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from cortexd.cli.common import rich_console, usd_text
    from cortexd.client import Client
    from cortexd.formatting import money

    with Client() as client:
        calls = client.calls(max(1, min(1000, args.lines)))
    if args.json:
        print(json.dumps([c.json for c in calls], indent=2))
        return 0
    console = rich_console(highlight=False)
    if not calls:
        console.print("no calls recorded yet")
        return 0
    table = Table(title="latest calls", title_justify="left")
    for column in ("when", "id", "client", "session", "task", "model", "outcome", "tokens", "cost"):
        table.add_column(column, overflow="fold")
    for call in calls:
        table.add_row(
            time.strftime("%m-%d %H:%M:%S", time.localtime(call.started_at)),
            call.id[:12],
            escape(call.client or "—"),
            escape(call.session or "—"),
            escape(call.task),
            escape(_model(call)),
            call.result,
            f"{call.input_tokens}/{call.output_tokens}",
            money(usd_text(call.cost_usd)),
        )
    console.print(table)
    return 0


def run_tail(args: argparse.Namespace) -> int:
    from cortexd.client import Client

    with Client() as client:
        try:
            for call in client.tail(max(1, args.lines)):
                print(json.dumps(call.json) if args.json else line(call), flush=True)
        except KeyboardInterrupt:
            return 0
    return 0


def run_why(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from cortexd.cli.common import ask_daemon, rich_console, usd_text
    from cortexd.formatting import money, seconds

    call = ask_daemon(lambda client: client.call(args.call_id), args.json)
    if call is None:
        return 0
    console = rich_console(highlight=False)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(call.started_at))
    console.print(
        f"call {call.id} at {when}"
        + (f" from {escape(call.client)}" if call.client else "")
        + (f", session {escape(call.session)}" if call.session else "")
        + (f", turn {escape(call.turn)}" if call.turn else "")
    )
    console.print(
        f"task {escape(call.task)} ({call.decided_by}); chain {' → '.join(call.chain)}"
        f"; routing file generation {call.routing_generation}"
    )
    for reason in call.reasons:
        console.print(f"  · {escape(reason)}")
    answered = f"{call.model} via {call.provider}" if call.model else "no model"
    console.print(
        f"answered by {escape(answered)}{' (fallback)' if call.fallback else ''}: "
        f"{call.outcome}, {'completed' if call.completed else 'not completed'}, "
        f"achieved: {({True: 'yes', False: 'no', None: '—'})[call.achieved]}; "
        f"{money(usd_text(call.cost_usd))}, ttft {seconds(call.first_token_s)}, "
        f"total {seconds(call.total_s)}"
    )
    if call.agent_model:
        console.print(f"the agent's own model: {escape(call.agent_model)}")
    if call.losses:
        console.print(f"translated; left out: {escape('; '.join(call.losses))}")
    if call.moved:
        for text in moved_lines(call):
            console.print(escape(text))
    if call.error:
        console.print(f"[red]{escape(call.error)}[/]")
    table = Table(title="attempts", title_justify="left")
    for column in ("#", "model", "outcome", "tokens in/out", "ttft", "total", "cost", "detail"):
        table.add_column(column, overflow="fold")
    for a in call.attempts:
        detail = a.error or a.skipped or ""
        if a.second_opinion:
            detail = f"second opinion {detail}".strip()
        skipped = a.outcome == "skipped"
        table.add_row(
            str(a.number or "—"),
            escape(f"{a.model} ({a.provider})"),
            a.outcome,
            f"{a.input_tokens}/{a.output_tokens}",
            seconds(a.first_token_s),
            "—" if skipped else seconds(a.total_s),
            "—" if skipped else money(usd_text(a.cost_usd)),
            escape(detail),
        )
    console.print(table)
    for s in call.signals:
        console.print(f"signal: {s.signal} — {escape(s.detail or '')}")
    for r in call.ratings:
        note = f": {escape(r.note)}" if r.note else ""
        console.print(f"rated {r.rating}{note}")
    return 0


def moved_lines(call: CallDetail | Mapping[str, Any]) -> list[str]:
    """What `cortex why` says of a call that moved its session to another provider: from
    where and why, and what the move cost (time, and the prompt cache left behind). The
    call as the client library answers it, or its JSON."""
    from cortexd.cli.common import usd_text
    from cortexd.client_calls import CallDetail
    from cortexd.formatting import money, seconds

    if isinstance(call, Mapping):
        call = CallDetail.from_json(call)
    m = call.moved
    if m is None:
        return []
    lines = [
        f"session moved from {m.from_provider} ({m.from_model}) to "
        f"{m.to_provider} ({m.to_model}): {m.reason}",
        f"  first call after the move: ttft {seconds(call.first_token_s)}, total "
        f"{seconds(call.total_s)} (the session's last call before it: ttft "
        f"{seconds(m.before_ttft_s)})",
        f"  cache lost: {m.cache_lost_tokens:,} prompt tokens {m.from_provider} had "
        f"cached ({money(usd_text(m.cache_lost_usd))} more at the full input price); read "
        f"from {m.to_provider}'s cache: {call.cache_read_tokens:,}",
    ]
    turn = m.turn
    if turn and turn.calls:
        lines.append(
            f"  the turn on {m.to_provider}: {turn.calls} calls, "
            f"{seconds(turn.total_s)}, {turn.cache_share:.0%} of their prompts read from the"
            " cache"
        )
    return lines


def run_rate(args: argparse.Namespace) -> int:
    from cortexd.client import Client

    with Client() as client:
        done = client.feedback(args.call_id, args.rating, args.note)
    print(f"rated {done.call_id} {done.rating}")
    return 0

"""``cortex batch run IN.jsonl -o OUT.jsonl``, ``cortex batch list|status ID|cancel ID``.

The daemon runs the batch; this command asks it to, after showing the estimate (and asking
to go on, where there is a terminal), then follows the run with a progress bar until it
ends. Leaving (Ctrl-C, ``--detach``) leaves the batch running.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cortexd.client import Client
    from cortexd.client_batches import Batch, BatchEstimate

#: How often the progress is asked for.
POLL_S = 0.5


def register(sub: Any) -> None:
    b = sub.add_parser("batch", help="run many requests from a JSONL file, in the daemon")
    bsub = b.add_subparsers(dest="batch_command", required=True, metavar="ACTION")
    r = bsub.add_parser("run", help="run IN.jsonl, writing one result per line to OUT")
    r.add_argument("input", help="the requests: OpenAI's batch format, or {id, prompt|messages}")
    r.add_argument("-o", "--output", required=True, help="where the results go (JSONL)")
    r.add_argument("--concurrency", type=int, help="sends at once per provider")
    r.add_argument(
        "--provider-batch",
        action="store_true",
        help="send what they take through Anthropic's and OpenAI's Batch APIs: half price, "
        "answered within 24 hours",
    )
    r.add_argument(
        "--retry-failed",
        action="store_true",
        help="with --provider-batch: send a line the provider's batch did not answer "
        "(errored, expired) again the normal way",
    )
    r.add_argument(
        "--poll",
        type=float,
        metavar="SECONDS",
        help="how often the providers' batches are asked whether they are done (default 60)",
    )
    r.add_argument("--yes", action="store_true", help="start without asking (no terminal)")
    r.add_argument("--detach", action="store_true", help="start it and return at once")
    r.add_argument("--json", action="store_true", help="JSON lines of progress, for scripts")
    r.set_defaults(run=run_batch)
    ls = bsub.add_parser("list", help="the latest batches")
    ls.add_argument("--json", action="store_true", help="print the raw JSON")
    ls.set_defaults(run=list_batches)
    st = bsub.add_parser("status", help="one batch's progress")
    st.add_argument("batch_id")
    st.add_argument("--json", action="store_true", help="print the raw JSON")
    st.set_defaults(run=batch_status)
    c = bsub.add_parser("cancel", help="stop a batch: lines not yet sent are reported unsent")
    c.add_argument("batch_id")
    c.set_defaults(run=cancel_batch)


def _money(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def describe_estimate(found: BatchEstimate) -> list[str]:
    """The estimate in a few lines of words."""
    models = ", ".join(f"{n} × {m}" for m, n in sorted(found.per_model.items()))
    out = [
        f"{found.lines} lines → {models or 'no model'}",
        f"estimated cost: about {_money(found.cost_usd)}"
        + (" (at the Batch APIs' prices where they take the line)" if found.provider_batch else ""),
    ]
    if found.unpriced_lines:
        out.append(f"  ({found.unpriced_lines} lines to models with no known price)")
    for problem in found.problems[:10]:
        out.append(f"line {problem.line}: {problem.error} (reported in the output)")
    if len(found.problems) > 10:
        out.append(f"… and {len(found.problems) - 10} more lines that will fail")
    for warning in found.over_budget:
        out.append(f"over budget: {warning}")
    return out


def run_batch(args: argparse.Namespace) -> int:
    from cortexd.client import Client

    source, output = Path(args.input).resolve(), Path(args.output).resolve()
    with Client() as client:
        found = client.estimate_batch(source, provider_batch=args.provider_batch)
        if args.json:
            print(json.dumps({"estimate": found.json}), flush=True)
        else:
            for line in describe_estimate(found):
                print(line, file=sys.stderr)
        if not args.yes:
            if not sys.stdin.isatty():
                print("cortex: no terminal to ask on: add --yes to start", file=sys.stderr)
                return 2
            if input("start it? [y/N] ").strip().lower() not in ("y", "yes"):
                return 1
        started = client.start_batch(
            source,
            output,
            concurrency=args.concurrency or None,
            provider_batch=args.provider_batch,
            retry_failed=args.retry_failed,
            poll_seconds=args.poll or None,
        )
        batch_id = started.id
        if args.detach:
            print(
                json.dumps(started.json)
                if args.json
                else f"started {batch_id}; follow it with `cortex batch status {batch_id}`"
            )
            return 0
        try:
            final = _follow(client, batch_id, args.json)
        except KeyboardInterrupt:
            print(f"\nleft {batch_id} running in the daemon", file=sys.stderr)
            return 130
    if not args.json:
        print(_ending(final))
    return 0 if final.state == "done" else 1


def _follow(client: Client, batch_id: str, as_json: bool) -> Batch:
    if as_json:
        while True:
            now = client.batch(batch_id)
            print(json.dumps(now.json), flush=True)
            if now.finished:
                return now
            time.sleep(POLL_S)
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[detail]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(batch_id, total=None, detail="")
        while True:
            now = client.batch(batch_id)
            detail = (
                f"✓{now.done} ✗{now.failed} ⟳{now.running} "
                f"{now.input_tokens + now.output_tokens:,} tok {_money(now.cost_usd)}"
            )
            if now.submitted:
                detail += f" ⧗{now.submitted} in providers' batches"
            bar.update(task, total=now.total, completed=now.done + now.failed, detail=detail)
            if now.finished:
                return now
            time.sleep(POLL_S)


def _ending(summary: Batch) -> str:
    line = (
        f"{summary.id} {summary.state}: {summary.done} answered, {summary.failed} "
        f"failed of {summary.total}; {_money(summary.cost_usd)}; results in "
        f"{summary.output}"
    )
    if summary.resent:
        line += f"; {summary.resent} sent again after a stop (each may be billed twice)"
    for sent in summary.provider_batches:
        line += (
            f"\n  {sent.provider} batch {sent.provider_batch_id or sent.key}: "
            f"{sent.requests} requests, {sent.state}"
            + (f" ({sent.status})" if sent.status else "")
            + (f": {sent.note}" if sent.note else "")
        )
    if summary.submitted:
        line += f"\n  {summary.submitted} lines waiting on the providers' batches"
    if summary.note:
        line += f"\n{summary.note}"
    return line


def list_batches(args: argparse.Namespace) -> int:
    from cortexd.cli.common import ask_daemon

    answer = ask_daemon(lambda c: c.batches(), args.json)
    if answer is None:
        return 0
    if not answer.batches:
        print("no batches yet")
    for b in answer.batches:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(b.created_at))
        print(
            f"{b.id}  {when}  {b.state:9}  {b.done + b.failed}/{b.total}  "
            f"{_money(b.cost_usd)}  {b.input}"
        )
    return 0


def batch_status(args: argparse.Namespace) -> int:
    from cortexd.cli.common import ask_daemon

    answer = ask_daemon(lambda c: c.batch(args.batch_id), args.json)
    if answer is not None:
        print(_ending(answer))
    return 0


def cancel_batch(args: argparse.Namespace) -> int:
    from cortexd.client import Client

    with Client() as client:
        print(_ending(client.cancel_batch(args.batch_id)))
    return 0

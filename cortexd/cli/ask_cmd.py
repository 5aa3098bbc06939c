"""``cortex ask``: send a prompt through the daemon, stream the answer, say who answered."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cortexd.client_answers import CallInfo


def register(sub: Any) -> None:
    p = sub.add_parser("ask", help="ask through the daemon and stream the answer")
    p.add_argument("prompt", nargs="?", default="-", help="the prompt, or - for stdin")
    p.add_argument("--task", help="the task type (skips classification)")
    p.add_argument("--model", default="auto", help="a model alias or id (default: routed)")
    p.add_argument("--local-only", action="store_true", help="never leave this machine")
    p.add_argument(
        "--second-opinion",
        action="store_true",
        help="also ask a model of another provider, and show both answers side by side with"
        " a judge's verdict",
    )
    p.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    p.set_defaults(run=run)


#: How much of a call's id the footer shows: enough for `cortex why` and `cortex rate`.
SHORT_ID = 12


def describe(cortex: CallInfo) -> str:
    """One line: model, provider, task, fallback, cost, and the call's id for `cortex why`.

    >>> from decimal import Decimal
    >>> describe(CallInfo(id="19216780a635bc87793b2e20", task="Meeting summary",
    ...                   model="sonnet", provider="anthropic", cost_usd=Decimal("0.000074")))
    '[sonnet via anthropic, Meeting summary, $0.000074, call 19216780a635]'
    """
    cost = cortex.cost_usd
    price = "price unknown" if cost is None else f"${float(cost):.6f}"
    fallback = ", fallback" if cortex.fallback else ""
    who = f"{cortex.model} via {cortex.provider}"
    call = f", call {cortex.id[:SHORT_ID]}" if cortex.id else ""
    return f"[{who}, {cortex.task}{fallback}, {price}{call}]"


def run(args: argparse.Namespace) -> int:
    from cortexd.client import Client, chat_body  # here: `cortex --help` need not load httpx2

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        where = "on stdin" if args.prompt == "-" else "as the argument"
        print(f"cortex: the prompt {where} is empty: nothing to ask", file=sys.stderr)
        return 2
    messages = [{"role": "user", "content": prompt}]
    options: dict[str, Any] = {"task": args.task, "local_only": args.local_only}
    if args.second_opinion:
        options["second_opinion"] = True
    with Client() as client:
        if args.json or args.second_opinion:
            # Both answers are needed whole before they can be shown side by side.
            answer = client.chat(chat_body(messages, model=args.model, **options))
            if args.json:
                print(json.dumps(answer.json, indent=2, ensure_ascii=False))
                return 0
            _opinions(answer.text, answer.cortex)
            print(describe(answer.cortex), file=sys.stderr)
            return 0
        body = chat_body(messages, model=args.model, stream=True, **options)
        cortex = CallInfo()
        for chunk in client.stream(body):
            cortex = chunk.cortex or cortex
            if chunk.text:
                sys.stdout.write(chunk.text)
                sys.stdout.flush()
        sys.stdout.write("\n")
        if cortex.second_opinion:  # a Cross-Validation task: checked without asking
            _opinions(None, cortex)
        print(describe(cortex), file=sys.stderr)
    return 0


def _opinions(answer: str | None, cortex: CallInfo) -> None:
    # rich is loaded only when there is a second opinion to show.
    from cortexd.cli.common import rich_console
    from cortexd.cli.opinion_view import show_opinions

    show_opinions(rich_console(), answer, dict(cortex.json))

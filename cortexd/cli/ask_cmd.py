"""``cortex ask``: send a prompt through the daemon, stream the answer, say who answered."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("ask", help="ask through the daemon and stream the answer")
    p.add_argument("prompt", nargs="?", default="-", help="the prompt, or - for stdin")
    p.add_argument("--task", help="the task type (skips classification)")
    p.add_argument("--model", default="auto", help="a model alias or id (default: routed)")
    p.add_argument("--local-only", action="store_true", help="never leave this machine")
    p.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    p.set_defaults(run=run)


def describe(cortex: dict[str, Any]) -> str:
    """One line: model, provider, task, fallback, cost."""
    cost = cortex.get("cost_usd")
    price = "price unknown" if cost is None else f"${float(cost):.6f}"
    fallback = ", fallback" if cortex.get("fallback") else ""
    who = f"{cortex.get('model')} via {cortex.get('provider')}"
    return f"[{who}, {cortex.get('task')}{fallback}, {price}]"


def run(args: argparse.Namespace) -> int:
    from cortexd.client import Client, chat_body  # here: `cortex --help` need not load httpx2

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    messages = [{"role": "user", "content": prompt}]
    with Client() as client:
        if args.json:
            body = chat_body(messages, model=args.model, task=args.task, local_only=args.local_only)
            print(json.dumps(client.chat(body), indent=2, ensure_ascii=False))
            return 0
        body = chat_body(
            messages, model=args.model, task=args.task, stream=True, local_only=args.local_only
        )
        cortex: dict[str, Any] = {}
        for chunk in client.stream(body):
            cortex = chunk.get("cortex") or cortex
            for choice in chunk.get("choices") or ():
                text = (choice.get("delta") or {}).get("content")
                if text:
                    sys.stdout.write(text)
                    sys.stdout.flush()
        sys.stdout.write("\n")
        print(describe(cortex), file=sys.stderr)
    return 0

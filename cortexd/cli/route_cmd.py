"""``cortex route``: show where a prompt would go and why.

Through the daemon when it runs (its routing file, its view of which models are up), else
locally from the routing file — no daemon and no keys needed. ``--file`` always plans locally.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cortexd.cli.common import load_table


def register(sub: Any) -> None:
    p = sub.add_parser("route", help="print the plan for a prompt and the reasons behind it")
    p.add_argument("prompt", help="the prompt ('-' reads it from standard input)")
    p.add_argument("--task", help="give the task type instead of classifying the prompt")
    p.add_argument("--model", help="an explicit model (alias or model id), as a client would")
    p.add_argument("--client", help="the calling tool, e.g. claude-code")
    p.add_argument("--author", help="who wrote the code under review (e.g. claude, codex)")
    p.add_argument("--local-only", action="store_true", help="the request must stay local")
    p.add_argument("--file", help="routing file (default: yours, else the shipped one)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--local", action="store_true", help="plan here, even if the daemon runs")
    p.set_defaults(run=run)


def _from_daemon(args: argparse.Namespace, prompt: str) -> dict[str, Any] | None:
    from cortexd.client import Client, DaemonNotRunning, chat_body

    body = chat_body(
        [{"role": "user", "content": prompt}],
        model=args.model or "auto",
        task=args.task,
        client=args.client,
        author=args.author,
        local_only=args.local_only,
    )
    try:
        with Client() as client:
            return client.route(body)
    except DaemonNotRunning:
        return None


def run(args: argparse.Namespace) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    data = None if args.local or args.file else _from_daemon(args, prompt)
    if data is None:
        from cortexd.plans import plan_to_json
        from cortexd.routing import Message, Router, RouteRequest, TaskModel

        table = load_table(args.file)
        request = RouteRequest(
            messages=(Message("user", prompt),),
            model=args.model,
            task=args.task,
            client=args.client,
            author=args.author,
            local_only=args.local_only,
        )
        data = plan_to_json(Router(table, TaskModel.shipped()).plan(request), table.source)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    print(f"task:   {data['task']}  ({data['decided_by']})")
    print(f"chain:  {' → '.join(data['chain'])}")
    if data.get("override") is not None:
        print(f"prompt: {data['prompt']}")
    print("why:")
    for reason in data["reasons"]:
        print(f"  - {reason}")
    if data.get("refused"):
        print(f"refused: {data['refused']}")
    return 0

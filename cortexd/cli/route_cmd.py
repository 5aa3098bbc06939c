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
    p.add_argument("prompt", nargs="?", help="the prompt ('-' reads it from standard input)")
    p.add_argument(
        "--conversation",
        metavar="FILE",
        help="plan a whole conversation: a JSON file ('-' for standard input) holding a list "
        "of messages or a Chat Completions body; its session directives count",
    )
    p.add_argument("--task", help="give the task type instead of classifying the prompt")
    p.add_argument("--model", help="an explicit model (alias or model id), as a client would")
    p.add_argument("--client", help="the calling tool, e.g. claude-code")
    p.add_argument("--author", help="who wrote the code under review (e.g. claude, codex)")
    p.add_argument("--local-only", action="store_true", help="the request must stay local")
    p.add_argument("--file", help="routing file (default: yours, else the shipped one)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--local", action="store_true", help="plan here, even if the daemon runs")
    p.set_defaults(run=run)


def _from_daemon(args: argparse.Namespace, messages: list[dict[str, str]]) -> dict[str, Any] | None:
    from cortexd.client import Client, DaemonNotRunning, chat_body

    body = chat_body(
        messages,
        model=args.model or "auto",
        task=args.task,
        client=args.client,
        author=args.author,
        local_only=args.local_only,
    )
    try:
        with Client() as client:
            return dict(client.route(body).json)
    except DaemonNotRunning:
        return None


def conversation(text: str, where: str) -> list[dict[str, str]]:
    """The messages of a conversation file: a list of messages or a body with ``messages``;
    a part list's text parts are joined, tool messages left out. Raises ValueError saying
    what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: not JSON ({error.msg}, line {error.lineno})") from None
    items = data.get("messages") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise ValueError(f"{where}: expected a list of messages or an object with 'messages'")
    messages = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("role"), str):
            raise ValueError(f"{where}: message {n} needs a 'role'")
        content = item.get("content")
        if isinstance(content, list):
            content = "".join(
                p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
        if content is None:
            content = ""  # an assistant's tool call, as Chat Completions sends it
        if not isinstance(content, str):
            raise ValueError(f"{where}: message {n} needs text 'content'")
        if item["role"] in ("user", "assistant", "system", "developer"):
            # Tool results and calls say nothing of where the person's words go.
            messages.append({"role": item["role"], "content": content})
    return messages


def _messages(args: argparse.Namespace) -> list[dict[str, str]]:
    if args.conversation == "-":
        return conversation(sys.stdin.read(), "standard input")
    if args.conversation:
        with open(args.conversation, encoding="utf-8") as f:
            return conversation(f.read(), args.conversation)
    if args.prompt is None:
        raise ValueError("give a prompt, or --conversation FILE")
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    return [{"role": "user", "content": prompt}]


def run(args: argparse.Namespace) -> int:
    try:
        messages = _messages(args)
    except (OSError, ValueError) as error:
        print(f"cortex route: {error}", file=sys.stderr)
        return 2
    data = None if args.local or args.file else _from_daemon(args, messages)
    if data is None:
        from cortexd.plans import plan_to_json
        from cortexd.routing import Message, Router, RouteRequest, TaskModel

        table = load_table(args.file)
        request = RouteRequest(
            messages=tuple(Message(m["role"], m["content"]) for m in messages),
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
    for warning in data.get("warnings") or ():
        print(f"warning: {warning}")
    print("why:")
    for reason in data["reasons"]:
        print(f"  - {reason}")
    if data.get("refused"):
        print(f"refused: {data['refused']}")
    return 0

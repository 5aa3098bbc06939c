"""``cortex queue`` (what is pending, running, done) and ``cortex queue add "…" [--file F]``.

A task goes to the daemon's queue folder (``queue/`` beside ``inbox/``) and is answered by
the routing file's "dispatched from queue" tool; the answer is filed beside the task in
``queue/done/``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

#: The most a file added to a task may hold.
MAX_FILE_BYTES = 256 * 1024


def register(sub: Any) -> None:
    q = sub.add_parser("queue", help="coding tasks answered in the background")
    q.add_argument("--json", action="store_true", help="print the raw JSON")
    q.set_defaults(run=list_queue)
    qsub = q.add_subparsers(dest="queue_command", metavar="ACTION")
    a = qsub.add_parser("add", help="put a coding task on the queue")
    a.add_argument("text", help="what to do")
    a.add_argument("--file", action="append", default=[], help="a file the task is about")
    a.add_argument("--json", action="store_true", help="print the raw JSON")
    a.set_defaults(run=add_task)


def task_text(text: str, files: list[str]) -> str:
    """The task as Markdown: the request, then each file in a fenced block under its name."""
    from cortexd.errors import CortexError

    parts = [text.strip()]
    for name in files:
        path = Path(name)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise CortexError(f"{name}: over {MAX_FILE_BYTES} bytes; add a smaller file")
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CortexError(f"{name}: cannot be read as text ({error})") from None
        fence = "````" if "```" in content else "```"
        parts.append(f"### {name}\n\n{fence}\n{content.rstrip()}\n{fence}")
    return "\n\n".join(parts) + "\n"


def add_task(args: argparse.Namespace) -> int:
    from cortexd.client import Client

    with Client() as client:
        added = client.queue(task_text(args.text, args.file))
    if args.json:
        print(json.dumps(added.json))
    else:
        print(f"queued {added.name}; its answer will be {added.answer_file}")
    return 0


def list_queue(args: argparse.Namespace) -> int:
    from cortexd.cli.common import ask_daemon

    listed = ask_daemon(lambda c: c.queue(), args.json)
    if listed is None:
        return 0
    print(f"queue: {listed.folder}")
    states = {
        "pending": listed.pending,
        "running": listed.running,
        "done": listed.done,
        "failed": listed.failed,
    }
    for state, names in states.items():
        print(f"{state} ({len(names)})" + "".join(f"\n  {n}" for n in names[-20:]))
    return 0

"""``cortex capture FILE|-``: file a note through the daemon, as if dropped into the inbox."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cortexd.errors import CortexError

#: The daemon's limit on a note (docs/capture.md); checked here before sending.
MAX_NOTE_BYTES = 1024 * 1024


def register(sub: Any) -> None:
    p = sub.add_parser("capture", help="file a note under captured/ (like dropping it in inbox/)")
    p.add_argument("file", metavar="FILE", help="a text or Markdown file; - reads stdin")
    p.add_argument("--json", action="store_true", help="print the daemon's answer as JSON")
    p.set_defaults(run=run)


def read_note(file: str) -> tuple[str, str]:
    """The note's text and its source name; `CortexError` when it is not a text note."""
    if file == "-":
        data, name = sys.stdin.buffer.read(MAX_NOTE_BYTES + 1), "stdin"
    else:
        path = Path(file)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_NOTE_BYTES + 1)
        except OSError as error:
            raise CortexError(f"cannot read {file}: {error.strerror}") from None
        name = path.name
    if len(data) > MAX_NOTE_BYTES:
        raise CortexError(f"{name} is over the {MAX_NOTE_BYTES} byte limit of a note")
    try:
        return data.decode("utf-8-sig"), name
    except UnicodeDecodeError:
        raise CortexError(f"{name} is not UTF-8 text; only text and Markdown are filed") from None


def run(args: argparse.Namespace) -> int:
    from cortexd.client import Client  # here: `cortex --help` need not load httpx2

    text, name = read_note(args.file)
    with Client() as client:
        answer = client.capture(text, name)
    if args.json:
        print(json.dumps(answer.json, indent=2, ensure_ascii=False))
        return 0
    print(answer.path)
    tags = ", ".join(answer.tags)
    print(f"[{answer.category}] {answer.title}" + (f" ({tags})" if tags else ""), file=sys.stderr)
    return 0

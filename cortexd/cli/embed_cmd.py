"""``cortex embed TEXT…``: embed texts through the daemon (the Embeddings route: a local
model first); ``--type query`` for search queries, documents by default."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

TYPES = ("query", "document", "clustering", "classification")


def register(sub: Any) -> None:
    p = sub.add_parser("embed", help="embed texts (a local model first)")
    p.add_argument("texts", nargs="+", metavar="TEXT", help="texts to embed; - reads stdin")
    p.add_argument("--type", choices=TYPES, help="what the texts are for (default: document)")
    p.add_argument("--model", default="auto", help="a model (default: the Embeddings route)")
    p.add_argument("--json", action="store_true", help="print the vectors as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from cortexd.client import Client

    texts = [sys.stdin.read() if t == "-" else t for t in args.texts]
    body: dict[str, Any] = {"model": args.model, "input": texts}
    if args.type:
        body["input_type"] = args.type
    with Client() as client:
        answer = client.embed(body)
    if args.json:
        print(json.dumps(answer.json))
        return 0
    print(f"{len(answer.vectors)} vector(s) of {answer.dimensions} dimensions from {answer.model}")
    return 0

"""The ``cortex`` command: a thin client, split by command group. It imports no provider SDK."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cortexd.cli import (
    ask_cmd,
    batch_cmd,
    budget_cmd,
    calls_cmd,
    capture_cmd,
    config_cmd,
    connect_cmd,
    embed_cmd,
    hardware_cmd,
    health_cmd,
    models_cmd,
    propose_cmd,
    queue_cmd,
    route_cmd,
    service_cmd,
    stats_cmd,
)
from cortexd.errors import CortexError


class _Version(argparse.Action):
    """``--version``: the installed version, read only when asked (`cortexd.__version__`
    imports importlib.metadata, 40 ms that every other command would pay)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **_: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print cortex's version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        import cortexd

        print(f"cortex {cortexd.__version__}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``cortex`` subcommand."""
    parser = argparse.ArgumentParser(prog="cortex", description="Talk to the cortexd LLM router.")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ask_cmd.register(sub)
    route_cmd.register(sub)
    health_cmd.register(sub)
    config_cmd.register(sub)
    models_cmd.register(sub)
    stats_cmd.register(sub)
    calls_cmd.register(sub)
    budget_cmd.register(sub)
    hardware_cmd.register(sub)
    embed_cmd.register(sub)
    capture_cmd.register(sub)
    batch_cmd.register(sub)
    queue_cmd.register(sub)
    propose_cmd.register(sub)
    service_cmd.register(sub)
    connect_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cortex``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except BrokenPipeError:
        # `cortex … | head`: the reader left; say nothing more (and not at exit either).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CortexError as exc:
        print(f"cortex: {exc}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""What the CLI commands share: finding and loading the routing file, asking the daemon."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from cortexd.context.environment import Environment
from cortexd.context.paths import Paths, default_routing_text

if TYPE_CHECKING:  # the routing package is loaded by the commands that read a table only
    from rich.console import Console

    from cortexd.client import Client
    from cortexd.routing import RoutingTable

SHIPPED = "<shipped default model-routing.md>"
#: How wide tables may be when the output is not a terminal (a pipe, a file) and COLUMNS
#: does not say: wide enough that a row stays one line for grep, awk and cut.
PIPED_WIDTH = 512


def rich_console(**options: Any) -> Console:
    """The commands' rich console: the terminal's width on a terminal, COLUMNS where it is
    set, and no wrapping of a table's rows into the next lines when piped."""
    import os
    import sys

    from rich.console import Console

    if "width" not in options and "COLUMNS" not in os.environ and not sys.stdout.isatty():
        options["width"] = PIPED_WIDTH
    return Console(**options)


def load_table(path: str | None) -> RoutingTable:
    """The routing file named, else the user's, else the one shipped with cortexd."""
    from cortexd.routing import load_routing_file, parse_routing_text

    if path:
        return load_routing_file(Path(path))
    user_file = Paths.resolve(Environment.read()).routing_file
    if user_file.exists():
        return load_routing_file(user_file)
    return parse_routing_text(default_routing_text(), source=SHIPPED)


class Answer(Protocol):
    """A typed answer of the client library: it keeps the daemon's JSON."""

    @property
    def json(self) -> Mapping[str, Any]: ...


A = TypeVar("A", bound=Answer)


def ask_daemon(get: Callable[[Client], A], as_json: bool) -> A | None:
    """The daemon's answer to `get`; with `as_json` its JSON is printed instead (None)."""
    from cortexd.client import Client  # here: `cortex --help` need not load httpx2

    with Client() as client:
        answer = get(client)
    if as_json:
        print(json.dumps(answer.json, indent=2))
        return None
    return answer


def usd_text(amount: Decimal | float | None) -> str | None:
    """An amount as the text `cortexd.formatting.money` reads, exactly (None: unknown).

    >>> usd_text(Decimal("0.000412")), usd_text(None), usd_text(0.5)
    ('0.000412', None, '0.5')
    """
    return None if amount is None else str(Decimal(amount))

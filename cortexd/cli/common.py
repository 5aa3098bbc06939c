"""What the CLI commands share: finding and loading the routing file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cortexd.environment import Environment
from cortexd.paths import Paths, default_routing_text

if TYPE_CHECKING:  # the routing package is loaded by the commands that read a table only
    from cortexd.routing import RoutingTable

SHIPPED = "<shipped default model-routing.md>"


def load_table(path: str | None) -> RoutingTable:
    """The routing file named, else the user's, else the one shipped with cortexd."""
    from cortexd.routing import load_routing_file, parse_routing_text

    if path:
        return load_routing_file(Path(path))
    user_file = Paths.resolve(Environment.read()).routing_file
    if user_file.exists():
        return load_routing_file(user_file)
    return parse_routing_text(default_routing_text(), source=SHIPPED)

"""One generation of the routing file: its table, router and catalog, swapped whole on
reload, so a request that started keeps the generation it took."""

from __future__ import annotations

from dataclasses import dataclass

from cortexd.routing import Catalog, Router, RoutingTable


@dataclass(frozen=True)
class Routing:
    """One generation of the routing file: the table and what is built from it."""

    table: RoutingTable
    router: Router
    catalog: Catalog
    generation: int

"""The cold-start step of a chat call: a local model not in memory that would load slower
than the first-token budget lets the cloud answer, and is loaded in the background.

Asking whether a model is warm costs a local request (Ollama's ``/api/ps``) or nothing
(llama.cpp's worker tells), and happens only when a local model leads the chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from cortexd.routing import RoutePlan, skip_cold
from cortexd.routing.providers import ProviderError, Warming, Warmth

if TYPE_CHECKING:
    from cortexd.routing.providers import ProviderRegistry
    from cortexd.routing_generation import Routing
    from cortexd.services import Limits

log = logging.getLogger("cortexd.local")

#: Asking a backend whether a model is loaded must not hold a call up.
WARMTH_TIMEOUT_S = 0.5


async def _warmth(routing: Routing, registry: ProviderRegistry, name: str) -> Warmth | None:
    spec = routing.catalog.resolve(name)
    if spec is None or not spec.local:
        return None
    provider = registry(spec)
    if not isinstance(provider, Warming):
        return None
    with contextlib.suppress(TimeoutError, ProviderError):
        async with asyncio.timeout(WARMTH_TIMEOUT_S):
            return await provider.warmth(spec.model_id)
    return None


async def plan_cold(
    routing: Routing, registry: ProviderRegistry, limits: Limits, plan: RoutePlan
) -> tuple[RoutePlan, tuple[str, ...]]:
    """The plan with cold local models moved behind the cloud (asked of their adapters in
    `registry`; slower to load than `limits` allow), and the models to load in the
    background (`warm_in_background`: the caller starts them; planning loads nothing).
    `routing` is the generation the call took."""
    catalog = routing.catalog
    local = {n for n in plan.chain if (s := catalog.resolve(n)) and s.local}
    if not plan.chain or plan.chain[0] not in local or len(local) == len(plan.chain):
        return plan, ()  # nothing to gain: the cloud leads, or there is no cloud to answer
    warmth = {n: w for n in local if (w := await _warmth(routing, registry, n)) is not None}
    decided = skip_cold(plan.chain, local, warmth, limits.warm_up_budget_s)
    if not decided.skipped:
        return plan, ()
    reasons = tuple(f"{m} skipped: {why}" for m, why in decided.skipped)
    planned = replace(
        plan,
        chain=decided.chain,
        skipped=plan.skipped + decided.skipped,
        reasons=plan.reasons + reasons,
    )
    return planned, tuple(decided.warm)


def warm_in_background(
    routing: Routing,
    registry: ProviderRegistry,
    warming: dict[str, asyncio.Task[None]],
    name: str,
) -> None:
    """Load `name` (of `routing`'s catalog, by its adapter in `registry`) in a task of its
    own, kept in `warming` while it loads (once at a time per model); failures are logged."""
    if name in warming:
        return
    spec = routing.catalog.resolve(name)
    provider = registry(spec) if spec is not None else None
    if spec is None or not isinstance(provider, Warming):
        return

    async def load() -> None:
        try:
            await provider.warm(spec.model_id)
            log.info("%s is loaded: the next calls go to it", name)
        except ProviderError as error:
            log.warning("could not load %s ahead of its calls: %s", name, error)
        finally:
            warming.pop(name, None)

    warming[name] = asyncio.create_task(load())

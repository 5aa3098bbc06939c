"""Whether a cold local model should wait for its load, or let the cloud answer meanwhile.

A local model that is not in memory answers only after it loads: seconds for an 8 B model
from disk, tens of seconds for a large one. When that is longer than the first-token budget
and the chain has a cloud model after it, the cloud model answers this call, the local model
stays in the chain behind it, and the daemon loads it in the background for the next call.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from cortexd.routing.providers.contract import Warmth

#: How long a first token may wait for a local model to load, by default (the daemon's
#: ``--warm-up-budget``): about what a cloud model's first token takes on a slow day.
WARM_UP_BUDGET_S = 3.0


@dataclass(frozen=True)
class ColdStart:
    """The chain to use, the models moved back and why, and the models to load now."""

    chain: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    warm: tuple[str, ...] = ()


def skip_cold(
    chain: tuple[str, ...],
    local: Collection[str],
    warmth: Mapping[str, Warmth],
    budget_s: float = WARM_UP_BUDGET_S,
) -> ColdStart:
    """`chain` with each cold local model that loads slower than `budget_s` moved behind the
    first cloud model after it; a local model with no cloud model after it is kept (a
    local-only call waits for its load). Models without a known warmth stay where they are.

    >>> cold = {"llama3.1:8b": Warmth(loaded=False, load_seconds=4.2, measured=True)}
    >>> skip_cold(("llama3.1:8b", "haiku"), {"llama3.1:8b"}, cold).chain
    ('haiku', 'llama3.1:8b')
    >>> skip_cold(("llama3.1:8b",), {"llama3.1:8b"}, cold).chain
    ('llama3.1:8b',)
    """
    order = list(chain)
    skipped: list[tuple[str, str]] = []
    warm: list[str] = []
    for model in chain:
        state = warmth.get(model)
        if model not in local or state is None or state.loaded:
            continue
        if state.load_seconds <= budget_s:
            continue
        at = order.index(model)
        cloud = next((i for i in range(at + 1, len(order)) if order[i] not in local), None)
        if cloud is None:
            continue
        order.insert(cloud, order.pop(at))  # lands right behind that cloud model
        how = "" if state.measured else " (estimated from its size)"
        skipped.append(
            (
                model,
                f"not loaded; loading takes about {state.load_seconds:.1f} s{how}, more than"
                f" the {budget_s:g} s first-token budget: {order[cloud - 1]} answers while it"
                " loads",
            )
        )
        warm.append(model)
    return ColdStart(tuple(order), tuple(skipped), tuple(warm))

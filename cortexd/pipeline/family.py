"""Agent traffic and provider families: Claude Code on Claude, Codex on OpenAI, unless the
person says otherwise or the family is down.

The person decides, not the agent. An agent's ``model`` is its configured default: kept in
pass-through mode (with fallback inside its family, then across), ignored when it is
``auto`` or ``task:…`` (routed mode: the routing table decides, across providers). An
override phrase the person typed wins over both, whatever provider it names: another
wire's model answers translated (`across_families`; the front-ends' `relay.Translator`).
"""

from __future__ import annotations

from dataclasses import replace

from cortexd.routing import DEFAULT_TASK, Catalog, RoutePlan, RoutingTable

#: The family's everyday model: the fallback of last resort inside the family.
FAMILY_DEFAULT = {"anthropic": "sonnet", "openai": "gpt-4o"}
_AUTO = ("", "auto", "default")


def routed_mode(agent_model: str | None) -> bool:
    """Whether the agent leaves the choice to cortexd (``auto``, ``task:…``).

    >>> routed_mode("auto"), routed_mode("task:Code review"), routed_mode("claude-opus-4-8")
    (True, True, False)
    """
    name = (agent_model or "").strip().casefold()
    return name in _AUTO or name.startswith("task:")


def in_family(names: tuple[str, ...], family: str, catalog: Catalog) -> tuple[str, ...]:
    """The models of `names` the family serves, in order."""
    return tuple(
        n for n in names if (spec := catalog.resolve(n)) is not None and spec.provider == family
    )


def _task_chain(task: str, table: RoutingTable) -> tuple[str, ...]:
    route = table.routes.get(task) or table.routes.get(DEFAULT_TASK)
    return route.chain if route is not None else ()


def family_of(name: str, catalog: Catalog) -> str | None:
    """The provider family serving `name` (None: unknown)."""
    spec = catalog.resolve(name)
    return spec.provider.value if spec is not None else None


def across_families(
    routed: RoutePlan,
    pinned: RoutePlan | None,
    family: str,
    table: RoutingTable,
    catalog: Catalog,
) -> RoutePlan:
    """The plan for agent traffic when another provider's model may answer it (translated):
    an override to any model is taken; routed mode follows the routing table, whichever
    provider it names; the agent's own model (pass-through) falls back within its own
    family first, then across providers. Where a session then stays is `pipeline/pins`.

    `family` is the front-end's (the models that take the client's body as written)."""
    if routed.decided_by == "override" and routed.override is not None:
        return routed
    if pinned is None:
        # Routed mode: the routing table decides, whichever provider it names.
        first = family_of(routed.chain[0], catalog) if routed.chain else None
        if first in (None, family):
            return routed
        noted = (
            *routed.reasons,
            f"routed mode: the routing table's {routed.chain[0]} answers, translated from "
            f"{family}'s wire",
        )
        return replace(routed, reasons=noted)
    own = family_of(pinned.chain[0], catalog) or family
    task_chain = _task_chain(pinned.task, table)
    same = in_family(task_chain, own, catalog)
    other = tuple(n for n in task_chain if family_of(n, catalog) not in (own, None, "ollama"))
    last = tuple(d for f, d in FAMILY_DEFAULT.items() if f != own)
    chain = (pinned.chain[0], *same, *((FAMILY_DEFAULT[own],) if own in FAMILY_DEFAULT else ()))
    chain = tuple(dict.fromkeys((*chain, *other, *last)))
    reasons = [r for r in pinned.reasons if "no fallback" not in r]
    reasons.append(
        f"the agent's own model (pass-through), falling back within {own} first, then "
        f"across providers: {' → '.join(chain)}"
    )
    return replace(pinned, chain=chain, reasons=tuple(reasons))

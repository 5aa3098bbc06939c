"""Agent traffic stays in its provider family: Claude Code on Claude, Codex on OpenAI.

The person decides, not the agent. An agent's ``model`` is its configured default: kept in
pass-through mode (with fallback inside the family), ignored when it is ``auto`` or
``task:…`` (routed mode). An override phrase the person typed wins over both while it names
a model of the family; one that would cross providers is left for the translation layer
(issue 21) and said so in the plan's reasons.
"""

from __future__ import annotations

from dataclasses import replace

from cortexd.routing import DEFAULT_TASK, Catalog, Message, RoutePlan, RoutingTable

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


def keep_in_family(
    routed: RoutePlan,
    pinned: RoutePlan | None,
    family: str,
    table: RoutingTable,
    catalog: Catalog,
    messages: tuple[Message, ...],
) -> RoutePlan:
    """The plan for agent traffic, with a chain the family serves, and why.

    `routed` is the router's plan with the agent's model set aside (so an override phrase
    is seen); `pinned` the plan for the agent's own model in pass-through mode (None in
    routed mode); `messages` the request's, for when an override is not acted on.
    """
    default = FAMILY_DEFAULT.get(family)
    notes: list[str] = []
    if routed.decided_by == "override" and routed.override is not None:
        if in_family(routed.chain, family, catalog):
            return routed
        notes.append(
            f"override to {routed.override.model} not taken: this session stays on {family} "
            f"(answering with another provider needs translation, issue 21)"
        )
        if pinned is None:
            # The phrase stays in the person's words: it was not acted on.
            chain = _task_chain(routed.task, table)
            routed = replace(routed, chain=chain, messages=messages, override=None)
            routed = replace(routed, decided_by="classified")
    if pinned is not None:
        fallback = in_family(_task_chain(pinned.task, table), family, catalog)
        chain = tuple(dict.fromkeys((pinned.chain[0], *fallback, *((default,) if default else ()))))
        reasons = [r for r in pinned.reasons if "no fallback" not in r] + notes
        reasons.append(
            f"the agent's own model (pass-through), falling back within {family}: "
            f"{' → '.join(chain)}"
        )
        return replace(pinned, chain=chain, reasons=tuple(reasons))
    kept = in_family(routed.chain, family, catalog) or ((default,) if default else ())
    dropped = [n for n in routed.chain if n not in kept]
    if dropped:
        notes.append(
            f"{', '.join(dropped)} left out: the session stays on {family} "
            f"(crossing providers is issue 21): {' → '.join(kept)}"
        )
    return replace(routed, chain=kept, reasons=routed.reasons + tuple(notes))

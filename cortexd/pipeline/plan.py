"""The plan step: where a call goes and why, decided in one place for every front-end.

Router (explicit model > override > task type > classification) → the agent's provider
family (Messages and Responses traffic) → budgets (policies at 100%, a refusal) → cold
local models (moved behind the cloud while they load) → cross-validation. Each step adds
its reason to the plan. Nothing here sends, records or loads anything: `POST /v1/route`
shares this step by construction, and the call's side effects happen in `run`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cortexd.api.budgets import budget_plan
from cortexd.api.errors import ApiError
from cortexd.api.warmup import plan_cold
from cortexd.pipeline.call import Call
from cortexd.pipeline.family import in_family, keep_in_family, routed_mode
from cortexd.routing import (
    Availability,
    NoRouteError,
    RoutePlan,
    RouteRequest,
    UnknownModelError,
    UnknownTaskError,
)
from cortexd.routing.providers import ChatMessage, ChatRequest, ImagePart, TextPart

if TYPE_CHECKING:
    from cortexd.services import Routing, Services


@dataclass(frozen=True)
class Planned:
    """A call's plan and what the plan step decided around it.

    `chat` is the request to send (an override phrase removed, in the client's own body
    too); `refusal` why the budgets refuse it; `hold` the provider and estimate it holds
    against a budget while it runs; `warm` the cold local models to load in the background;
    `second` whether a second model answers too (Cross-Validation, or asked for); `priced`
    the request as budgets price it.
    """

    plan: RoutePlan
    chat: ChatRequest
    priced: ChatRequest
    refusal: str | None = None
    hold: tuple[str, int] | None = None
    warm: tuple[str, ...] = ()
    second: bool = False


def _route(
    services: Services, routing: Routing, route: RouteRequest, sim: object, health: bool = True
) -> RoutePlan:
    """The router's plan; `health` False plans models whose circuit is open too (dispatch
    then skips them with the reason, and the chain's fallback answers)."""
    available = services.dispatcher.health.unavailable(routing.catalog.models) if health else {}
    local = services.local.active_models
    try:
        return routing.router.plan(route, Availability(local, unavailable=available), sim)  # type: ignore[arg-type]
    except (UnknownModelError, UnknownTaskError) as error:
        model = isinstance(error, UnknownModelError)
        names = routing.catalog.names() if model else routing.table.task_types()
        raise ApiError(
            400,
            f"{error}; valid names: {', '.join(names)}",
            code="model_not_found" if model else "unknown_task",
            param="model",
        ) from None
    except NoRouteError as error:
        raise ApiError(503, str(error), code="no_route", retry_after=60) from None


def _classified_as(routed: RoutePlan, pinned: RoutePlan) -> RoutePlan:
    """`pinned`, planned with `routed`'s task given, saying how that task was decided."""
    said = f"task '{routed.task}'"
    how = next((r for r in routed.reasons if r.startswith(said)), None)
    reasons = tuple(how if how and r.startswith(said) else r for r in pinned.reasons)
    return replace(pinned, reasons=reasons, classification=routed.classification)


async def route_call(services: Services, call: Call) -> RoutePlan:
    """The router's plan, kept in the agent's provider family where the call has one."""
    routing = services.routing  # one generation for the whole request
    # Only when the task type will be classified and the local embedder is active; bounded
    # by a short timeout, after which the classifier decides without it.
    similarity = await services.similarity.scores(services, routing, call.route)
    if call.family is None:
        return _route(services, routing, call.route, similarity)
    agent = call.agent_model
    asked = replace(call.route, model=agent if routed_mode(agent) else "auto")
    routed = _route(services, routing, asked, similarity)
    pinned = None
    if not routed_mode(agent):
        # The task is the one just classified: the person's words are read once.
        given = replace(call.route, task=routed.task)
        pinned = _classified_as(routed, _route(services, routing, given, similarity, False))
        if not in_family(pinned.chain[:1], call.family, routing.catalog):
            raise ApiError(
                400,
                f"'{agent}' is not a {call.family} model: this endpoint passes requests "
                f"through to {call.family}'s models (answering it with another provider "
                "needs translation, which is not built yet); name one of those, or 'auto'",
                code="model_not_found",
                param="model",
            )
    messages = tuple(call.route.messages)
    return keep_in_family(routed, pinned, call.family, routing.table, routing.catalog, messages)


async def plan_call(services: Services, call: Call) -> Planned:
    """Every decision about `call` before anything is sent (see the module's docstring)."""
    plan = await route_call(services, call)
    chat = keep_forward(call, plan, _reworded(call, plan))
    estimated = _as_estimated(services, call, chat)
    plan, refusal, hold = budget_plan(services, plan, estimated)
    plan, warm = await plan_cold(services, plan)
    second = call.second_opinion
    found = services.routing.table.find_task(plan.task)
    if found and found in services.routing.table.cross_validation and call.family is None:
        second = True
        plan = replace(plan, reasons=(*plan.reasons, f"'{found}' is cross-validated"))
    return Planned(plan, chat, estimated, refusal, hold, warm, second)


def keep_forward(call: Call, plan: RoutePlan, chat: ChatRequest) -> ChatRequest:
    """A Chat Completions body goes through as written only to the model its client named:
    a client that says ``auto`` wrote it for no model in particular, and translation adapts
    it to whichever answers (``max_completion_tokens`` for reasoning models, efforts)."""
    if call.wire == "chat" and plan.decided_by != "explicit-model":
        return replace(chat, forward=None)
    return chat


def _reworded(call: Call, plan: RoutePlan) -> ChatRequest:
    """`call.chat` with the last user message's text as the router left it (an override
    phrase removed), in our request and in the client's own body."""
    chat = call.chat
    text = next((m.content for m in reversed(plan.messages) if m.role == "user"), None)
    if text is None or text == call.route.prompt:
        return chat
    if chat.forward is not None and call.reword is not None:
        chat = replace(chat, forward=call.reword(chat.forward, text))
    users = [i for i, m in enumerate(chat.messages) if m.role == "user"]
    if not users:
        return chat
    old = chat.messages[users[-1]]
    parts: tuple[TextPart | ImagePart, ...] = (TextPart(text), *old.images)
    messages = list(chat.messages)
    messages[users[-1]] = ChatMessage(
        old.role, parts, old.tool_calls, old.tool_call_id, old.reasoning, old.name
    )
    return replace(chat, messages=tuple(messages))


#: What a client's answers are taken to be before its calls have said (Claude Code's
#: "say hi" gets a few dozen tokens, a long agent turn a few thousand).
FIRST_CALLS_OUTPUT = 4096


def _as_estimated(services: Services, call: Call, chat: ChatRequest) -> ChatRequest:
    """The request as a budget should price it: an answer the size this client's calls
    really get (their recent 90th percentile), not the cap it asks for (Claude Code asks
    for 64,000 tokens on every call, and one check against that would block a session)."""
    cap = chat.max_tokens
    typical = services.recent_outputs.typical(call.client) or FIRST_CALLS_OUTPUT
    if cap is None or typical >= cap:
        return chat
    return replace(chat, max_tokens=max(typical, 1))

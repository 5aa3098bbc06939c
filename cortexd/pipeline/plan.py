"""The plan step: where a call goes and why, decided in one place for every front-end.

Router (explicit model > override > task type > classification) → the agent's provider
family (Messages and Responses traffic) → budgets (policies at 100%, a refusal) → cold
local models (moved behind the cloud while they load) → cross-validation. Each step adds
its reason to the plan. Nothing here sends, records or loads anything: `POST /v1/route`
shares this step by construction, and the call's side effects happen in `run`. A call this
step refuses leaves as `Refused`, which carries what was planned of it for its record.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from cortexd.api.agent_words import reworded
from cortexd.api.budgets import budget_plan
from cortexd.api.errors import ApiError
from cortexd.pipeline.call import Call
from cortexd.pipeline.cold_start import plan_cold
from cortexd.pipeline.family import across_families, family_of, routed_mode
from cortexd.pipeline.pins import Pin, pin_key, planned_move, stay_pinned
from cortexd.routing import (
    MAX_TURNS,
    Availability,
    Mode,
    NoRouteError,
    RoutePlan,
    RouteRequest,
    UnknownModelError,
    UnknownTaskError,
)
from cortexd.routing.providers import ChatMessage, ChatRequest, TextPart

if TYPE_CHECKING:
    from cortexd.bookkeeping.recent_outputs import RecentOutputs
    from cortexd.routing.dispatch import Dispatcher
    from cortexd.routing_generation import Routing
    from cortexd.services import Services


@dataclass(frozen=True)
class Planned:
    """A call's plan and what the plan step decided around it.

    `chat` is the request to send (an override phrase removed, in the client's own body
    too); `refusal` why the budgets refuse it; `hold` the provider and estimate it holds
    against a budget while it runs; `warm` the cold local models to load in the background;
    `second` whether a second model answers too (Cross-Validation, or asked for); `priced`
    the request as budgets price it; `passed_over` the models ahead of the plan's first that
    health held back (an open circuit, a paused provider); `pin` where the call's session
    was answered last (`pipeline/pins`), and `move` why this call takes it elsewhere.
    """

    plan: RoutePlan
    chat: ChatRequest
    priced: ChatRequest
    refusal: str | None = None
    hold: tuple[str, int] | None = None
    warm: tuple[str, ...] = ()
    second: bool = False
    passed_over: tuple[str, ...] = ()
    pin: Pin | None = None
    move: str | None = None

    @property
    def chain(self) -> tuple[str, ...]:
        """The chain dispatch walks: the models passed over first, so that dispatch skips
        each with its reason and an answer from the plan's first model is a fallback, as it
        is to the person (the primary's circuit is open)."""
        return (*self.passed_over, *self.plan.chain)


class Refused(ApiError):
    """A call the plan step refuses: the answer the client gets, and for the call's record
    what was planned of it (`plan`, whose chain may be empty) and why (`cause`)."""

    def __init__(
        self, status: int, message: str, *, plan: RoutePlan, cause: Exception, **answer: Any
    ) -> None:
        super().__init__(status, message, **answer)
        self.plan = plan
        self.cause = cause


#: A refused call's task, or how it was to be decided, where the request does not say.
UNROUTED = "unrouted"
#: A refusal's Retry-After when no circuit says when (a local-only request, say).
NO_ROUTE_RETRY_S = 60.0


def as_far_as_known(route: RouteRequest, *, task: str | None = None) -> RoutePlan:
    """The plan of a call refused before the router made one: its task and how it was to be
    decided, as far as the request says, for the call's record.

    >>> as_far_as_known(RouteRequest(messages=[], model="task:Code review")).task
    'Code review'
    >>> plan = as_far_as_known(RouteRequest(messages=[], model="gpt-9"))
    >>> plan.task, plan.decided_by
    ('unrouted', 'explicit-model')
    """
    model = (route.model or "").strip()
    given = model[5:].strip() if model.casefold().startswith("task:") else route.task
    if not routed_mode(model) and model.casefold() not in ("cortex", "cortex-auto"):
        decided_by = "explicit-model"
    else:
        decided_by = "task-given" if given else UNROUTED
    task = task or given or UNROUTED
    return RoutePlan(task, (), decided_by, (), tuple(route.messages), local_only=route.local_only)


def _route(routing: Routing, active: frozenset[str], route: RouteRequest, sim: object) -> RoutePlan:
    """The router's plan (`active`: the local models active on this machine), with the
    models health holds back still in it: `_healthy` takes them out, and knows which of
    them were ahead of the first model left."""
    try:
        return routing.router.plan(route, Availability(active), sim)  # type: ignore[arg-type]
    except (UnknownModelError, UnknownTaskError) as error:
        model = isinstance(error, UnknownModelError)
        names = routing.catalog.names() if model else routing.table.task_types()
        raise Refused(
            400,
            f"{error}; valid names: {', '.join(names)}",
            plan=as_far_as_known(route, task=None if model else error.name),
            cause=error,
            code="model_not_found" if model else "unknown_task",
            param="model",
        ) from None
    except NoRouteError as error:
        plan = as_far_as_known(route)
        raise Refused(
            503,
            str(error),
            plan=plan,
            cause=error,
            code="no_route",
            retry_after=NO_ROUTE_RETRY_S,
        ) from None


def _healthy(
    dispatcher: Dispatcher, routing: Routing, plan: RoutePlan
) -> tuple[RoutePlan, tuple[str, ...]]:
    """`plan` without the models the dispatcher's health holds back now (an open circuit,
    a paused provider), each skipped with why, and those of them ahead of its first model
    left.

    With every model held back the call is refused (503 ``no_route``), and told to retry
    when the first of them may be tried again: a circuit's cooldown, not a flat minute.
    """
    chain = plan.chain
    # The chain's own models: an agent's model named by its id is not in the catalog's list.
    in_chain = {n: spec for n in chain if (spec := routing.catalog.resolve(n)) is not None}
    held = dispatcher.health.unavailable(in_chain)
    out = tuple((n, held[n]) for n in chain if n in held)
    if not out:
        return plan, ()
    kept = tuple(n for n in chain if n not in held)
    reasons = plan.reasons + tuple(f"skipped {n}: {why}" for n, why in out)
    plan = replace(plan, chain=kept, reasons=reasons, skipped=plan.skipped + out)
    if kept:
        return plan, tuple(itertools.takewhile(lambda n: n in held, chain))
    detail = "; ".join(f"{n}: {why}" for n, why in plan.skipped)
    which = "is local-only and no local model" if plan.local_only else "has no model that"
    message = f"'{plan.task}' {which} can serve it right now ({detail})"
    specs = [spec for n, _ in out if (spec := routing.catalog.resolve(n)) is not None]
    free_in = dispatcher.health.free_in(specs)
    raise Refused(
        503,
        message,
        plan=plan,
        cause=NoRouteError(message),
        code="no_route",
        # Whole seconds, rounded up: a client back a moment early would be refused again.
        retry_after=math.ceil(free_in) if free_in is not None else NO_ROUTE_RETRY_S,
    )


def _classified_as(routed: RoutePlan, pinned: RoutePlan) -> RoutePlan:
    """`pinned`, planned with `routed`'s task given, saying how that task was decided."""
    said = f"task '{routed.task}'"
    how = next((r for r in routed.reasons if r.startswith(said)), None)
    reasons = tuple(how if how and r.startswith(said) else r for r in pinned.reasons)
    return replace(pinned, reasons=reasons, classification=routed.classification)


async def route_call(
    services: Services, routing: Routing, call: Call, active: frozenset[str] | None = None
) -> RoutePlan:
    """The router's plan under `routing` (the generation the call took), kept in the
    agent's provider family where the call has one, and without the models health holds
    back."""
    active = services.local.active_models if active is None else active
    return (await _routed(services, routing, call, active)).plan


@dataclass(frozen=True)
class _Routed:
    plan: RoutePlan
    passed_over: tuple[str, ...] = ()
    pin: Pin | None = None
    move: str | None = None


async def _routed(
    services: Services, routing: Routing, call: Call, active: frozenset[str]
) -> _Routed:
    """`route_call`'s plan, the models passed over ahead of its first (`_healthy`), and
    for an agent's session its pin and why the call moves it. `active`: the local models
    that may serve, as the call took them."""
    # Only when the task type will be classified and the local embedder is active; bounded
    # by a short timeout, after which the classifier decides without it.
    similarity = await services.similarity.scores(routing, active, call.route)
    if call.family is None:
        plan = _route(routing, active, call.route, similarity)
        return _Routed(*_healthy(services.dispatcher, routing, plan))
    agent = call.agent_model
    asked = replace(call.route, model=agent if routed_mode(agent) else "auto")
    routed = _route(routing, active, asked, similarity)
    pinned = None
    if not routed_mode(agent):
        # The task is the one just classified: the person's words are read once.
        given = replace(call.route, task=routed.task)
        pinned = _classified_as(routed, _route(routing, active, given, similarity))
    # Another wire's model answers translated (relay.Translator): an override to any model
    # is taken, routed mode follows the routing table, and the agent's own model falls back
    # within its family first, then across providers.
    plan = across_families(routed, pinned, call.family, routing.table, routing.catalog)
    if call.notes:
        plan = replace(plan, reasons=(*plan.reasons, *call.notes))
    crossing = [n for n in plan.chain if family_of(n, routing.catalog) != call.family]
    if crossing and call.losses:
        lost = "; ".join(call.losses)
        plan = replace(plan, reasons=(*plan.reasons, f"translated for {crossing[0]}: {lost}"))
    # A turn's tool loop stays where the turn's last call was answered.
    pin = services.pins.get(pin_key(call.client, call.session, agent))
    plan = stay_pinned(plan, pin, call.turn, routing.catalog)
    # Health last: the family's models are the ones whose circuits matter to this call.
    plan, passed_over = _healthy(services.dispatcher, routing, plan)
    plan, move = planned_move(plan, pin, routed=routed_mode(agent), catalog=routing.catalog)
    return _Routed(plan, passed_over, pin, move)


async def plan_call(
    services: Services, routing: Routing, call: Call, active: frozenset[str] | None = None
) -> Planned:
    """Every decision about `call` before anything is sent (see the module's docstring),
    under `routing`: the generation the call took as it started, used throughout. Raises
    `Refused` for a call that may not be sent."""
    # The local rows as the call takes them, for every step: a hardware probe that lands
    # meanwhile changes the next call, not this one.
    active = services.local.active_models if active is None else active
    routed = await _routed(services, routing, call, active)
    plan = routed.plan
    chat = keep_forward(call, plan, _reworded(routing, call, plan))
    estimated = _as_estimated(services.recent_outputs, call, chat)
    plan, refusal, hold = budget_plan(routing, services.spend, active, plan, estimated)
    plan, warm = await plan_cold(routing, services.registry, services.limits, plan)
    second = call.second_opinion
    found = routing.table.find_task(plan.task)
    if found and found in routing.table.cross_validation and call.family is None:
        second = True
        plan = replace(plan, reasons=(*plan.reasons, f"'{found}' is cross-validated"))
    return Planned(
        plan, chat, estimated, refusal, hold, warm, second, routed.passed_over, routed.pin,
        routed.move,
    )  # fmt: skip


def keep_forward(call: Call, plan: RoutePlan, chat: ChatRequest) -> ChatRequest:
    """A Chat Completions body goes through as written only to the model its client named:
    a client that says ``auto`` wrote it for no model in particular, and translation adapts
    it to whichever answers (``max_completion_tokens`` for reasoning models, efforts)."""
    if call.wire == "chat" and plan.decided_by != "explicit-model":
        return replace(chat, forward=None)
    return chat


def _reworded(routing: Routing, call: Call, plan: RoutePlan) -> ChatRequest:
    """`call.chat` with the person's words as the router left them (an override phrase
    removed), in our request and in the client's own body: the latest turn's, and each
    earlier turn's override phrase too, so that every turn of a session sends its history
    alike and the provider's cached prefix still matches it."""
    chat = call.chat
    redo = plan.override is not None and plan.override.scope == "redo"
    if redo and call.wire == "chat" and len(plan.messages) < len(call.route.messages):
        return _redone(chat, plan)
    text = next((m.content for m in reversed(plan.messages) if m.role == "user"), None)
    if text is not None and text != call.route.prompt:
        chat = _reworded_chat(chat, call, call.route.prompt, text, earlier=False)
    router = routing.router
    if router.table.mode is not Mode.STATIC_WITH_OVERRIDE:
        return chat  # the router read no directive in them either: they go as typed
    for words in call.earlier[-MAX_TURNS:]:  # as many as the router reads
        found = router.detector.detect(words)
        if found is not None:
            chat = _reworded_chat(chat, call, words, found.text, earlier=True)
    return chat


def _redone(chat: ChatRequest, plan: RoutePlan) -> ChatRequest:
    """`chat` as it stood when the re-answered request was asked (the router chose it:
    its user turn is the last of `plan.messages`), that turn's words as the router left
    them: "try that again with opus" asks it afresh, without the answer being redone."""
    asked = sum(1 for m in plan.messages if m.role == "user")
    users = [i for i, m in enumerate(chat.messages) if m.role == "user"]
    if not 0 < asked <= len(users):
        return chat
    at = users[asked - 1]
    words = plan.messages[-1].content
    m = chat.messages[at]
    parts = tuple(p for p in m.content if not isinstance(p, TextPart)) + (TextPart(words),)
    kept = ChatMessage(m.role, parts, m.tool_calls, m.tool_call_id, m.reasoning, m.name)
    return replace(chat, messages=(*chat.messages[:at], kept))


def _reworded_chat(
    chat: ChatRequest, call: Call, old: str, new: str, *, earlier: bool
) -> ChatRequest:
    """`chat` with the person's words `old` made `new`, in the latest user message that
    holds them (before the latest turn when `earlier`), and in the client's body."""
    if chat.forward is not None and call.reword is not None:
        chat = replace(chat, forward=call.reword(chat.forward, old, new, earlier))
    messages = list(chat.messages)
    latest = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if m.role != "user" or (earlier and i == latest):
            continue
        parts = tuple(
            TextPart(reworded(p.text, old, new), p.cache) if isinstance(p, TextPart) else p
            for p in m.content
        )
        if parts != m.content:
            messages[i] = ChatMessage(
                m.role, parts, m.tool_calls, m.tool_call_id, m.reasoning, m.name
            )
            return replace(chat, messages=tuple(messages))
    return chat


#: What a client's answers are taken to be before its calls have said (Claude Code's
#: "say hi" gets a few dozen tokens, a long agent turn a few thousand).
FIRST_CALLS_OUTPUT = 4096


def _as_estimated(recent: RecentOutputs, call: Call, chat: ChatRequest) -> ChatRequest:
    """The request as a budget should price it: an answer the size this client's calls
    really get (their recent 90th percentile in `recent`), not the cap it asks for (Claude
    Code asks for 64,000 tokens on every call, and one check against that would block a
    session)."""
    cap = chat.max_tokens
    typical = recent.typical(call.client) or FIRST_CALLS_OUTPUT
    if cap is None or typical >= cap:
        return chat
    return replace(chat, max_tokens=max(typical, 1))

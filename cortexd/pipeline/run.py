"""The run step: a planned call is opened on the record, dispatched, and committed.

Front-ends call `start_call` (the plan, and the call's record opened), then `answer_whole`
(one answer, with a second opinion where the plan asks for one) or `open_stream` (the first
event of the model that answers, so that an error before any byte is sent is still a plain
HTTP error). A call takes one routing generation as it starts and keeps it to its end: its
record holds it (`CallRecording.routing`). Every call that reaches routing is on the record,
a refused one too (no route, an unknown name, a budget). Errors leave here as `ApiError`s
carrying the call's id, which each front-end encodes in its own shape.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cortexd.api.budgets import budget_plan, within_budget
from cortexd.api.errors import ApiError
from cortexd.api.recording import AgentCall, CallRecording
from cortexd.pipeline.call import Call
from cortexd.pipeline.cold_start import warm_in_background
from cortexd.pipeline.hedging import hedge_policy
from cortexd.pipeline.plan import Planned, Refused, as_far_as_known, plan_call
from cortexd.routing import BudgetExceededError, RoutePlan
from cortexd.routing.dispatch import (
    ChainExhaustedError,
    Dispatch,
    DispatchResult,
    SecondOpinion,
    cross_validate,
    judge_chain,
    second_model_for,
)
from cortexd.routing.providers import (
    ContextLengthError,
    InvalidRequestError,
    ProviderError,
    RateLimitError,
    StreamEvent,
)

if TYPE_CHECKING:
    from cortexd.bookkeeping.spend import SpendTracker
    from cortexd.pipeline.hedging import RecentTtfts
    from cortexd.routing.dispatch import Dispatcher, HedgePolicy
    from cortexd.routing.providers import ProviderRegistry
    from cortexd.routing_generation import Routing
    from cortexd.services import Services


@dataclass(frozen=True)
class Whole:
    """A finished answer, and the second opinion on it when one was asked."""

    result: DispatchResult
    opinion: SecondOpinion | None = None


async def ready_for(routing: Routing, registry: ProviderRegistry, names: Iterable[str]) -> None:
    """The adapters (and SDKs) in `registry` of the models `names` (of `routing`'s catalog)
    built, and their genai-prices entries known, side by side: dispatch never imports on
    the loop, nor loads the price snapshot."""
    catalog = routing.catalog
    specs = [spec for name in names if (spec := catalog.resolve(name)) is not None]
    priced = [(s.provider.value, s.model_id) for s in specs if not s.local]
    # Every call asks; after the first few there is nothing to wait for, and no task is made.
    waits = [] if all(map(registry.built, specs)) else [registry.ready(specs)]
    if catalog.prices.to_fill(priced):
        waits.append(catalog.prices.ready(priced))
    if waits:
        await asyncio.gather(*waits)


def provider_error(
    error: ProviderError | ChainExhaustedError, call_id: str | None = None
) -> ApiError:
    """The API's error for a failed call: the request's own fault (400), every model
    exhausted (503; ``rate_limited`` when each one said so), or an upstream failure (502)."""
    if isinstance(error, InvalidRequestError):
        return ApiError(400, str(error), code="upstream_invalid_request", call_id=call_id)
    if isinstance(error, ChainExhaustedError):
        if too_long(error):
            # Retrying cannot help: the client must shorten it (Claude Code compacts on this).
            return ApiError(
                400, str(error), code="context_length_exceeded", retry=False, call_id=call_id
            )
        limited = bool(error.failures) and all(
            why.startswith(RateLimitError.__name__) for _, why in error.failures
        )
        code = "rate_limited" if limited else "no_model_available"
        return ApiError(503, str(error), code=code, retry_after=error.retry_after, call_id=call_id)
    return ApiError(502, str(error), code="upstream_error", call_id=call_id)


def too_long(error: ChainExhaustedError) -> bool:
    """Whether every model of the chain failed because the prompt is too long for it."""
    return bool(error.failures) and all(
        why.startswith(ContextLengthError.__name__) or "window" in why for _, why in error.failures
    )


async def start_call(services: Services, call: Call) -> tuple[Planned, CallRecording]:
    """The call planned (`plan_call`) and its record opened (`open_call`), both under the
    routing generation the call takes now. A call refused on the way is committed as an
    error before its `ApiError` leaves, with the call's id, and a planning step that failed
    for another reason is queued as one."""
    routing = services.routing  # one generation for the whole call
    active = services.local.active_models  # and one view of the local rows
    try:
        planned = await plan_call(services, routing, call, active)
    except ApiError as error:
        plan = error.plan if isinstance(error, Refused) else as_far_as_known(call.route)
        cause = error.cause if isinstance(error, Refused) else error
        await _recording(services, routing, call, plan).commit("error", error=cause)
        error.call_id = call.id
        raise
    except BaseException as error:
        # A bug, or the client left while the plan was made: on the record all the same.
        bug = None if isinstance(error, asyncio.CancelledError) else error
        _recording(services, routing, call, as_far_as_known(call.route)).abandon(bug)
        raise
    return planned, await open_call(services, routing, call, planned, active)


def _recording(
    services: Services,
    routing: Routing,
    call: Call,
    plan: RoutePlan,
    planned: Planned | None = None,
) -> CallRecording:
    """The call's record, opened under `routing`, its attempts from the attempt log, and
    what it teaches (answer sizes, times to first token, a session's pin) kept."""
    return CallRecording(
        call.id,
        plan,
        planned.chat if planned is not None else call.chat,
        routing=routing,
        attempt_log=services.attempt_log,
        ledger=services.ledger,
        recent_outputs=services.recent_outputs,
        ttfts=services.ttfts,
        pins=services.pins,
        client=call.client,
        project=call.project,
        stream=call.stream,
        asked_model=call.asked_model,
        session=call.session,
        turn=call.turn,
        agent=AgentCall(
            call.agent_model,
            call.family,
            call.losses,
            planned.pin if planned is not None else None,
            planned.move if planned is not None else None,
        )
        if call.family is not None
        else None,
    )


async def open_call(
    services: Services,
    routing: Routing,
    call: Call,
    planned: Planned,
    active: frozenset[str] | None = None,
) -> CallRecording:
    """The call's record, opened under `routing` (the generation it was planned with): a
    refused call is committed and raises a 429 ``budget_exceeded``; an allowed one holds
    its estimate and starts loading cold local models the plan put behind the cloud. The
    SDKs of the chain's providers are loaded first (off the loop), and no other: a call
    waits for what it uses."""
    await ready_for(routing, services.registry, planned.chain)
    # The budgets are asked again, with no await from here to the reservation: calls that
    # planned together cannot all slip past a hard limit before any of them holds its share.
    active = services.local.active_models if active is None else active
    plan, refusal, hold = budget_plan(routing, services.spend, active, planned.plan, planned.priced)
    recording = _recording(services, routing, call, plan, planned)
    if refusal is not None:
        await recording.commit("error", error=BudgetExceededError(refusal))
        month_end = services.spend.month.end
        # Retrying cannot help before the month ends or the limit is raised: SDKs are told.
        raise ApiError(
            429,
            refusal,
            code="budget_exceeded",
            retry_after=month_end - time.time(),
            retry=False,
            call_id=recording.id,
        )
    if hold is not None:
        services.spend.reserve(recording.id, *hold)
    for model in planned.warm:
        warm_in_background(routing, services.registry, services.warming, model)
    return recording


async def answer_whole(
    dispatcher: Dispatcher,
    registry: ProviderRegistry,
    spend: SpendTracker,
    ttfts: RecentTtfts,
    planned: Planned,
    recording: CallRecording,
) -> Whole:
    """The whole answer from `dispatcher`, committed; with a second opinion when the plan
    asks for one (its models' adapters built in `registry`, within the budgets at the
    month's `spend`). A late primary is hedged by its `ttfts` (`hedge_policy`). The call
    keeps the routing generation its record was opened with."""
    plan, chat = planned.plan, planned.chat
    routing = recording.routing
    opinion = None
    try:
        if planned.second:
            chosen = second_model_for(plan.task, plan.chain, routing.table, routing.catalog)
            seconds, held = within_budget(routing, spend, (chosen,) if chosen else (), chat)
            judges, judges_held = within_budget(routing, spend, judge_chain(routing.table), chat)
            await ready_for(routing, registry, (*seconds, *judges))
            opinion = await cross_validate(
                dispatcher,
                planned.chain,
                chat,
                task=plan.task,
                request_id=recording.id,
                second_model=seconds[0] if seconds and judges else None,
                judges=judges,
                # Why no second call: its own model first (the judge matters only after it).
                no_second="; ".join(held or judges_held) or "no model from another provider",
                catalog=routing.catalog,
            )
            result = opinion.main
        else:
            result = await dispatcher.complete(
                planned.chain,
                chat,
                task=plan.task,
                request_id=recording.id,
                hedge=_hedge(spend, ttfts, planned, recording),
                catalog=routing.catalog,
            )
    except (ProviderError, ChainExhaustedError) as error:
        await recording.commit("error", error=error)
        raise provider_error(error, recording.id) from None
    await recording.commit("ok", response=result.response, dispatch=result.dispatch, second=opinion)
    return Whole(result, opinion)


async def open_stream(
    dispatcher: Dispatcher,
    spend: SpendTracker,
    ttfts: RecentTtfts,
    planned: Planned,
    recording: CallRecording,
) -> tuple[Dispatch, AsyncIterator[StreamEvent], StreamEvent]:
    """The dispatch state of the call streamed by `dispatcher`, its events, and the first
    of them (errors before it are committed and raised as `ApiError`s: nothing has been
    sent yet). A late primary is hedged by its `ttfts`, a race held against `spend`."""
    plan = planned.plan
    state, events = dispatcher.stream(
        planned.chain,
        planned.chat,
        task=plan.task,
        request_id=recording.id,
        hedge=_hedge(spend, ttfts, planned, recording),
        catalog=recording.routing.catalog,
    )
    try:
        first = await anext(events)
    except (ProviderError, ChainExhaustedError) as error:
        await recording.commit("error", dispatch=state, error=error)
        raise provider_error(error, recording.id) from None
    return state, events, first


def _hedge(
    spend: SpendTracker, ttfts: RecentTtfts, planned: Planned, recording: CallRecording
) -> HedgePolicy | None:
    """The call's hedging rules, under the routing generation its record was opened with."""
    routing = recording.routing
    return hedge_policy(routing, spend, ttfts, planned, recording.id, session=recording.session)

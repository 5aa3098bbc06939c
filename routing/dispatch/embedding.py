"""Embeddings through dispatch: the chain walked under chat's rules.

Models that cannot serve are skipped with a reason (a paused provider, an open circuit, no
key, a model that makes no embeddings); a failure is classified by `policy` as for chat:
retry once, move on, or give the client the provider's message. One deadline covers every
attempt. An embedding answer comes whole, so each try is bounded the way chat bounds the
wait for a first event (`ttft_s`; a local model, which may have to load first, gets
`reasoning_ttft_s`) and by what is left of the deadline. Every try and skip becomes one
`Attempt` through the dispatcher's sink.

This is the `Dispatcher`'s embeddings half, kept apart from the chat walk in dispatcher.py;
it records through the dispatcher's own `_record`/`_skip`, so both halves write the same
attempts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from cortexd.routing.catalog import ModelSpec
from cortexd.routing.dispatch.errors import ChainExhaustedError
from cortexd.routing.dispatch.policy import Action, action_for, retry_delay, should_retry
from cortexd.routing.embed_prefixes import InputType, wants_prefixes, with_prefixes
from cortexd.routing.providers.chat import EmbedRequest, EmbedResponse
from cortexd.routing.providers.contract import Capabilities
from cortexd.routing.providers.errors import (
    NotConfiguredError,
    ProviderError,
    ProviderTimeoutError,
    TransientError,
)

if TYPE_CHECKING:
    from cortexd.routing.dispatch.dispatcher import Dispatcher
    from cortexd.routing.dispatch.state import Dispatch, Run

#: How one model's turn ended without an answer: `refused` it can never serve this (no
#: embeddings, no key, a non-transient error); `failed` it may serve another time.
_Miss = Literal["refused", "failed"]


class CannotEmbedError(ChainExhaustedError):
    """No model of the chain can make these embeddings at all — none embeds, has a key, or
    answered other than with a lasting refusal — so asking again will not help."""


@dataclass(frozen=True)
class EmbedResult:
    """A finished embedding answer and how it was reached."""

    response: EmbedResponse
    dispatch: Dispatch


def embeds(spec: ModelSpec, caps: Capabilities) -> bool:
    """Whether a model can be asked for embeddings.

    The cloud capability table knows the vendors' own model families; a model on a server
    the user named (an OpenAI-compatible ``base_url``) is not in it, so it is tried.
    """
    return caps.embeddings or spec.embedding or (not spec.local and spec.base_url is not None)


async def embed_chain(
    dispatcher: Dispatcher,
    chain: tuple[str, ...],
    request: EmbedRequest,
    state: Dispatch,
    run: Run,
    input_type: InputType | None,
) -> EmbedResult:
    """The first embedding answer the chain produces; raises `CannotEmbedError` when every
    model refused for good, `ChainExhaustedError` otherwise, or the provider's
    `InvalidRequestError` when the request itself is wrong."""
    refused = 0
    for index, name in enumerate(chain):
        spec = dispatcher._catalog(state).resolve(name)
        if spec is None:
            run.failures.append((name, "not in the model catalog"))
            refused += 1
            continue
        why = dispatcher.health.skip_reason(spec)
        if why is not None:
            dispatcher._skip(state, spec, run, index, why)
            continue
        try:
            answer = await _try_model(dispatcher, spec, index, request, state, run, input_type)
        finally:
            # skip_reason() may have made this request the circuit's probe: give the slot
            # back whatever happened (a verdict, if any, was recorded first).
            dispatcher.health.abandoned(spec)
        if isinstance(answer, EmbedResponse):
            return EmbedResult(answer, state)
        if answer == "refused":
            refused += 1
    error = CannotEmbedError if chain and refused == len(chain) else ChainExhaustedError
    raise error(run.failures, run.retry_hint)


async def _try_model(
    dispatcher: Dispatcher,
    spec: ModelSpec,
    index: int,
    request: EmbedRequest,
    state: Dispatch,
    run: Run,
    input_type: InputType | None,
) -> EmbedResponse | _Miss:
    """Ask one model (and once more when that may help)."""
    clock, settings = dispatcher.clock, dispatcher.settings
    provider = dispatcher._providers(spec)
    try:
        async with asyncio.timeout(max(0.0, min(settings.ttft_s, run.deadline - clock()))):
            caps = await dispatcher._capabilities(provider, spec)
    except NotConfiguredError as absent:
        dispatcher._skip(state, spec, run, index, absent.detail)
        return "refused"
    except ProviderError as unknown:
        dispatcher._skip(state, spec, run, index, f"cannot tell what it can do: {unknown.detail}")
        return "failed"
    except TimeoutError:
        dispatcher._skip(state, spec, run, index, "cannot tell what it can do: no answer in time")
        return "failed"
    if not embeds(spec, caps):
        what = "a chat model" if caps.chat else "not an embedding model"
        dispatcher._skip(state, spec, run, index, f"makes no embeddings ({what})")
        return "refused"
    inputs = request.inputs
    if wants_prefixes(spec.name, spec.model_id):
        # Trained with task prefixes: each model of the chain gets the texts it expects.
        inputs = with_prefixes(inputs, input_type)
    patience = settings.reasoning_ttft_s if spec.local else settings.ttft_s
    retries = 0
    while True:
        remaining = run.deadline - clock()
        if remaining <= 0:
            run.failures.append((spec.name, "the request's deadline passed"))
            raise ChainExhaustedError(run.failures, run.retry_hint)
        limit = min(patience, remaining)
        run.number += 1
        tried: dict[str, Any] = {"number": run.number, "fallback": index > 0, "retry": retries > 0}
        started = clock()
        try:
            # The provider is told the limit too, so it can give up cleanly on its side.
            async with asyncio.timeout(limit):
                answer = await provider.embed(
                    replace(request, model=spec.model_id, inputs=inputs, timeout=limit)
                )
        except NotConfiguredError as absent:
            # No key, no embeddings API: not a failure of the model, just not usable here.
            run.number -= 1
            dispatcher._skip(state, spec, run, index, absent.detail)
            return "refused"
        except ProviderError as failed:
            error = failed
        except TimeoutError:
            error = ProviderTimeoutError(
                f"no embeddings in {limit:.1f} s", provider=spec.provider.value, model=spec.name
            )
        except asyncio.CancelledError:
            dispatcher._record(state, spec, "cancelled", **tried, total_s=clock() - started)
            raise
        else:
            dispatcher.health.succeeded(spec)
            state.model, state.provider = spec.name, spec.provider.value
            state.fallback = index > 0
            dispatcher._record(
                state, spec, "ok", **tried, usage=answer.usage, total_s=clock() - started
            )
            return answer
        action = action_for(error)
        if action is Action.SKIP:
            run.number -= 1
            dispatcher._skip(state, spec, run, index, error.detail)
            return "refused"
        dispatcher.health.failed(spec, error)
        dispatcher._record(state, spec, "error", **tried, total_s=clock() - started, error=error)
        if action is Action.FAIL:
            raise error
        if should_retry(error, retries):
            left = run.deadline - clock()
            delay = retry_delay(retries, error.retry_after, left, dispatcher._rng)
            if delay is not None:
                await dispatcher._sleep(delay)
                retries += 1
                continue
        if error.retry_after is not None:
            run.retry_hint = min(run.retry_hint or error.retry_after, error.retry_after)
        run.failures.append((spec.name, f"{type(error).__name__}: {error.detail}"))
        return "failed" if isinstance(error, TransientError) else "refused"

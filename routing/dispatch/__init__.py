"""Dispatch: running a plan's chain across the providers, with fallback and second opinions."""

from __future__ import annotations

from cortexd.routing.dispatch.attempt import Attempt, AttemptSink, call_cost, cost_usd
from cortexd.routing.dispatch.circuit import CircuitBreakers
from cortexd.routing.dispatch.dispatcher import (
    Dispatch,
    Dispatcher,
    DispatchResult,
    DispatchSettings,
)
from cortexd.routing.dispatch.embedding import CannotEmbedError, EmbedResult
from cortexd.routing.dispatch.errors import ChainExhaustedError, PartialAnswerError
from cortexd.routing.dispatch.health import ModelHealth
from cortexd.routing.dispatch.hedge import HedgePolicy, hedge_threshold
from cortexd.routing.dispatch.policy import Action, action_for, retry_delay, should_retry
from cortexd.routing.dispatch.requirements import estimate_tokens
from cortexd.routing.dispatch.second_opinion import (
    SecondOpinion,
    Verdict,
    VerdictError,
    cross_validate,
    judge_chain,
    parse_verdict,
    second_model_for,
)

__all__ = [
    "Action",
    "Attempt",
    "AttemptSink",
    "CannotEmbedError",
    "ChainExhaustedError",
    "CircuitBreakers",
    "Dispatch",
    "DispatchResult",
    "DispatchSettings",
    "Dispatcher",
    "EmbedResult",
    "HedgePolicy",
    "ModelHealth",
    "PartialAnswerError",
    "SecondOpinion",
    "Verdict",
    "VerdictError",
    "action_for",
    "call_cost",
    "cost_usd",
    "cross_validate",
    "estimate_tokens",
    "hedge_threshold",
    "judge_chain",
    "parse_verdict",
    "retry_delay",
    "second_model_for",
    "should_retry",
]

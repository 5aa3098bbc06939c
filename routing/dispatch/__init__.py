"""Dispatch: running a plan's chain across the providers, with fallback and second opinions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cortexd.routing.lazy_exports import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from cortexd.routing.dispatch.attempt import Attempt, AttemptSink, call_cost, cost_usd
    from cortexd.routing.dispatch.circuit import CircuitBreakers
    from cortexd.routing.dispatch.dispatcher import Dispatcher
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
    from cortexd.routing.dispatch.state import Dispatch, DispatchResult, DispatchSettings

#: Where each public name lives: imported on first use (PEP 562), so that a process
#: loads only the modules it uses (the daemon's start, the CLI's commands).
_EXPORTS = {
    "Attempt": "cortexd.routing.dispatch.attempt",
    "AttemptSink": "cortexd.routing.dispatch.attempt",
    "call_cost": "cortexd.routing.dispatch.attempt",
    "cost_usd": "cortexd.routing.dispatch.attempt",
    "CircuitBreakers": "cortexd.routing.dispatch.circuit",
    "Dispatch": "cortexd.routing.dispatch.state",
    "Dispatcher": "cortexd.routing.dispatch.dispatcher",
    "DispatchResult": "cortexd.routing.dispatch.state",
    "DispatchSettings": "cortexd.routing.dispatch.state",
    "CannotEmbedError": "cortexd.routing.dispatch.embedding",
    "EmbedResult": "cortexd.routing.dispatch.embedding",
    "ChainExhaustedError": "cortexd.routing.dispatch.errors",
    "PartialAnswerError": "cortexd.routing.dispatch.errors",
    "ModelHealth": "cortexd.routing.dispatch.health",
    "HedgePolicy": "cortexd.routing.dispatch.hedge",
    "hedge_threshold": "cortexd.routing.dispatch.hedge",
    "Action": "cortexd.routing.dispatch.policy",
    "action_for": "cortexd.routing.dispatch.policy",
    "retry_delay": "cortexd.routing.dispatch.policy",
    "should_retry": "cortexd.routing.dispatch.policy",
    "estimate_tokens": "cortexd.routing.dispatch.requirements",
    "SecondOpinion": "cortexd.routing.dispatch.second_opinion",
    "Verdict": "cortexd.routing.dispatch.second_opinion",
    "VerdictError": "cortexd.routing.dispatch.second_opinion",
    "cross_validate": "cortexd.routing.dispatch.second_opinion",
    "judge_chain": "cortexd.routing.dispatch.second_opinion",
    "parse_verdict": "cortexd.routing.dispatch.second_opinion",
    "second_model_for": "cortexd.routing.dispatch.second_opinion",
}


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

__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS, __all__)

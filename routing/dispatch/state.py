"""What dispatch is told and what it keeps: its time limits, the state of one dispatched
request as it runs, and the answer it ends with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Required, TypedDict, Unpack

from cortexd.routing.catalog import Catalog, ModelSpec
from cortexd.routing.dispatch.attempt import Attempt, Outcome, cost_usd
from cortexd.routing.dispatch.liveness import HANG_S
from cortexd.routing.prices import Price
from cortexd.routing.providers.chat import ChatResponse, Usage


@dataclass(frozen=True)
class DispatchSettings:
    """Time limits. `ttft_s` bounds the wait for a model's first event (reasoning models get
    `reasoning_ttft_s`: they may think long before they say anything); `stall_s` bounds the
    gap between events once a stream moves. `deadline_s` covers every attempt of a request.
    `hang_s` bounds the wait for any sign of life (liveness.py): a model that sent nothing at
    all in it is hung, reasoning model or not.
    """

    deadline_s: float = 120.0
    ttft_s: float = 30.0
    reasoning_ttft_s: float = 120.0
    stall_s: float = 30.0
    hang_s: float = HANG_S  # no sign of life at all (liveness.py): a hang, whatever the model


class Tried(TypedDict, total=False):
    """What one try's record says beside its model and outcome (`Dispatch.attempt`)."""

    number: Required[int]
    fallback: bool
    retry: bool
    response: ChatResponse | None
    usage: Usage | None
    first_token_s: float | None
    total_s: float
    error: BaseException | None
    skip_reason: str | None
    estimated: bool


@dataclass
class Dispatch:
    """The state of one dispatched request, filled in as it runs.

    `model` and `provider` name the model that answered (or is answering); `attempts` every
    try and skip so far.
    """

    request_id: str
    task: str
    second_opinion: bool = False
    model: str | None = None
    provider: str | None = None
    fallback: bool = False
    hedged: bool = False  # the fallback was started beside a late primary
    attempts: list[Attempt] = field(default_factory=list)
    began: float = 0.0  # the dispatcher's clock when dispatch began
    # The catalog the request was planned with: a reload mid-call does not change its models
    # or their prices (None: the dispatcher's own, for a record made outside dispatch).
    catalog: Catalog | None = None

    def attempt(
        self,
        spec: ModelSpec,
        outcome: Outcome,
        *,
        price: Price | None,
        now: float,
        **tried: Unpack[Tried],
    ) -> Attempt:
        """One try of `spec` (or its skip) for this request, priced by `price` (None: no
        cost, as for a skip); `now` is the dispatcher's clock as the try ends."""
        response, error = tried.get("response"), tried.get("error")
        usage, first_token_s = tried.get("usage"), tried.get("first_token_s")
        total_s = tried.get("total_s", 0.0)
        if response is not None:
            usage = response.usage
            first_token_s = response.timing.first_token_s
        usage = usage or Usage()
        return Attempt(
            request_id=self.request_id,
            number=tried["number"],
            task=self.task,
            provider=spec.provider.value,
            model=spec.name,
            model_id=spec.model_id,
            outcome=outcome,
            fallback=tried.get("fallback", False),
            retry=tried.get("retry", False),
            usage=usage,
            first_token_s=first_token_s,
            total_s=total_s,
            error_class=type(error).__name__ if error is not None else None,
            error=str(error) if error is not None else None,
            skip_reason=tried.get("skip_reason"),
            # Partial and cancelled streams end before the provider counts tokens: their
            # usage is the tally's estimate (tally.py), priced all the same.
            cost_usd=cost_usd(price, usage) if price is not None else None,
            usage_estimated=tried.get("estimated", False),
            second_opinion=self.second_opinion,
            started_s=max(0.0, now - total_s - self.began),
        )


@dataclass
class Run:
    """What one request's walk down its chain has learned so far."""

    deadline: float
    number: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    retry_hint: float | None = None
    min_window: int = 0  # after a context-length error, only larger windows may try
    answered: bool = False
    size: int = 0  # the chain's length


@dataclass(frozen=True)
class DispatchResult:
    """A finished, non-streamed answer and how it was reached."""

    response: ChatResponse
    dispatch: Dispatch

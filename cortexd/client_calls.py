"""The ledger's calls as typed objects, for the client library (`cortexd.client`).

``GET /v1/calls`` (and its stream, ``cortex tail``) lists `CallSummary`s; ``GET
/v1/calls/{id}`` answers one call whole, a `CallDetail` with its plan, every `Attempt`,
its signals, ratings and any move of its session to another provider (``cortex why``);
``POST /v1/feedback`` answers a `Rated`. The JSON is `cortexd.ledger.call_views`'; each
object keeps it as `json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cortexd.client_json import (
    Json,
    opt_bool,
    opt_float,
    opt_int,
    opt_str,
    texts,
    usd,
)


@dataclass(frozen=True, kw_only=True)
class CallSummary:
    """One call as the ledger lists it: who made it (client, project, session and turn of a
    coding agent), how it was routed, who answered, how it went, its tokens, time and cost."""

    seq: int  # the ledger's order: a call recorded later has a higher one
    id: str
    started_at: float  # Unix time
    client: str | None
    project: str | None
    session: str | None
    turn: str | None
    kind: str  # what was asked: chat, embeddings, …
    task: str
    decided_by: str
    model: str | None  # None: no model answered
    provider: str | None
    fallback: bool
    stream: bool
    outcome: str  # ok, error, timeout, …
    completed: bool
    achieved: bool | None  # the latest rating, else completed with no signal against it
    input_tokens: int
    output_tokens: int
    usage_estimated: bool  # counted from what a stream cut short sent
    first_token_s: float | None
    total_s: float
    cost_usd: Decimal | None  # None: the price of a model tried is unknown
    price_unknown: bool
    json: Json = field(default_factory=dict, repr=False)

    @property
    def result(self) -> str:
        """The outcome as ``cortex calls`` says it: ``incomplete`` for an answer that ended
        before it was complete (the client left, the stream broke off)."""
        return self.outcome if self.completed or self.outcome != "ok" else "incomplete"

    @classmethod
    def from_json(cls, data: Json) -> CallSummary:
        """A call as ``GET /v1/calls`` lists it."""
        return cls(**_summary(data))


def _summary(data: Json) -> dict[str, Any]:
    """The fields of `CallSummary`, which `CallDetail` has too."""
    return {
        "seq": int(data.get("seq") or 0),
        "id": str(data.get("id", "")),
        "started_at": float(data.get("started_at") or 0.0),
        "client": opt_str(data.get("client")),
        "project": opt_str(data.get("project")),
        "session": opt_str(data.get("session")),
        "turn": opt_str(data.get("turn")),
        "kind": str(data.get("kind", "")),
        "task": str(data.get("task", "")),
        "decided_by": str(data.get("decided_by", "")),
        "model": opt_str(data.get("model")),
        "provider": opt_str(data.get("provider")),
        "fallback": bool(data.get("fallback")),
        "stream": bool(data.get("stream")),
        "outcome": str(data.get("outcome", "")),
        "completed": bool(data.get("completed")),
        "achieved": opt_bool(data.get("achieved")),
        "input_tokens": int(data.get("input_tokens") or 0),
        "output_tokens": int(data.get("output_tokens") or 0),
        "usage_estimated": bool(data.get("usage_estimated")),
        "first_token_s": opt_float(data.get("first_token_s")),
        "total_s": float(data.get("total_s") or 0.0),
        "cost_usd": usd(data.get("cost_usd")),
        "price_unknown": bool(data.get("price_unknown")),
        "json": data,
    }


@dataclass(frozen=True)
class Attempt:
    """One try of a model within a call: an answer, a failure, a model skipped (and why),
    or a cross-validated call's second opinion or judge (`role`)."""

    number: int
    provider: str
    model: str
    model_id: str | None
    outcome: str  # ok, error, timeout, skipped, …
    role: str  # answer, second opinion, judge (cross-check: an older row, one of the two)
    fallback: bool
    retry: bool
    second_opinion: bool
    usage_estimated: bool
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    reasoning_tokens: int
    started_s: float | None  # after the call began
    first_token_s: float | None
    total_s: float | None
    error: str | None  # "ErrorClass: message"
    skipped: str | None  # why the model was passed over
    cost_usd: Decimal | None  # None: its price is unknown
    price_unknown: bool
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> Attempt:
        """One of a call's ``attempts``."""
        return cls(
            number=int(data.get("number") or 0),
            provider=str(data.get("provider", "")),
            model=str(data.get("model", "")),
            model_id=opt_str(data.get("model_id")),
            outcome=str(data.get("outcome", "")),
            role=str(data.get("role") or "answer"),
            fallback=bool(data.get("fallback")),
            retry=bool(data.get("retry")),
            second_opinion=bool(data.get("second_opinion")),
            usage_estimated=bool(data.get("usage_estimated")),
            input_tokens=int(data.get("input_tokens") or 0),
            output_tokens=int(data.get("output_tokens") or 0),
            cache_read_tokens=int(data.get("cache_read_tokens") or 0),
            cache_write_tokens=int(data.get("cache_write_tokens") or 0),
            cache_write_1h_tokens=int(data.get("cache_write_1h_tokens") or 0),
            reasoning_tokens=int(data.get("reasoning_tokens") or 0),
            started_s=opt_float(data.get("started_s")),
            first_token_s=opt_float(data.get("first_token_s")),
            total_s=opt_float(data.get("total_s")),
            error=opt_str(data.get("error")),
            skipped=opt_str(data.get("skipped")),
            cost_usd=usd(data.get("cost_usd")),
            price_unknown=bool(data.get("price_unknown")),
            json=data,
        )


@dataclass(frozen=True)
class Signal:
    """An implicit sign that a call's answer did not do its job (the question asked again,
    an answer cut short), with when it was seen and what it was."""

    signal: str
    at: float
    detail: str | None


@dataclass(frozen=True)
class Rating:
    """The user's rating of a call (``cortex rate``, ``POST /v1/feedback``)."""

    rating: str  # good or bad
    note: str | None
    at: float


@dataclass(frozen=True)
class TurnOnProvider:
    """The calls of a coding agent's turn on the provider its session moved to: how many,
    their time together, and how much of their prompts was read from the cache."""

    calls: int
    total_s: float
    prompt_tokens: int
    cache_read_tokens: int

    @property
    def cache_share(self) -> float:
        """The share of the prompts read from the cache (0 with no prompt)."""
        return self.cache_read_tokens / self.prompt_tokens if self.prompt_tokens else 0


@dataclass(frozen=True)
class SessionMove:
    """A session that moved to another provider with this call: from where, why, and what
    the move cost: the prompt tokens the old provider had cached (and what they cost more
    at the new model's full input price; None when a price is unknown), and the time to
    first token of the session's last call before it."""

    from_provider: str
    from_model: str
    to_provider: str
    to_model: str
    reason: str
    cache_lost_tokens: int
    cache_lost_usd: float | None
    before_ttft_s: float | None
    turn: TurnOnProvider | None  # the turn on the new provider, when the call had one

    @classmethod
    def from_json(cls, data: Json) -> SessionMove:
        """A call's ``moved`` object."""
        turn = data.get("turn")
        return cls(
            from_provider=str(data.get("from_provider", "")),
            from_model=str(data.get("from_model", "")),
            to_provider=str(data.get("to_provider", "")),
            to_model=str(data.get("to_model", "")),
            reason=str(data.get("reason", "")),
            cache_lost_tokens=int(data.get("cache_lost_tokens") or 0),
            cache_lost_usd=opt_float(data.get("cache_lost_usd")),
            before_ttft_s=opt_float(data.get("before_ttft_s")),
            turn=None
            if turn is None
            else TurnOnProvider(
                int(turn.get("calls") or 0),
                float(turn.get("total_s") or 0.0),
                int(turn.get("prompt_tokens") or 0),
                int(turn.get("cache_read_tokens") or 0),
            ),
        )


@dataclass(frozen=True, kw_only=True)
class CallDetail(CallSummary):
    """One call whole (``GET /v1/calls/{id}``, ``cortex why``): besides the summary, its
    plan (chain, reasons, the routing file's generation), how it ended, its cache and
    reasoning tokens, every attempt, the signals and ratings it got."""

    override: str | None  # the model a directive in the prompt named
    routing_generation: int | None
    chain: tuple[str, ...]
    reasons: tuple[str, ...]
    local_only: bool
    finish_reason: str | None
    error: str | None  # "ErrorClass: message" when no model answered
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    reasoning_tokens: int
    json_requested: bool
    json_valid: bool | None
    second_opinion: str | None  # the second opinion's status (agree, disagree, …)
    verdict_agree: bool | None
    agent_model: str | None  # the model the coding agent asked for
    losses: tuple[str, ...]  # what a translation between APIs left out
    moved: SessionMove | None
    attempts: tuple[Attempt, ...]
    signals: tuple[Signal, ...]
    ratings: tuple[Rating, ...]

    @classmethod
    def from_json(cls, data: Json) -> CallDetail:
        """The answer of ``GET /v1/calls/{id}``."""
        moved = data.get("moved")
        return cls(
            **_summary(data),
            override=opt_str(data.get("override")),
            routing_generation=opt_int(data.get("routing_generation")),
            chain=texts(data.get("chain")),
            reasons=texts(data.get("reasons")),
            local_only=bool(data.get("local_only")),
            finish_reason=opt_str(data.get("finish_reason")),
            error=opt_str(data.get("error")),
            cache_read_tokens=int(data.get("cache_read_tokens") or 0),
            cache_write_tokens=int(data.get("cache_write_tokens") or 0),
            cache_write_1h_tokens=int(data.get("cache_write_1h_tokens") or 0),
            reasoning_tokens=int(data.get("reasoning_tokens") or 0),
            json_requested=bool(data.get("json_requested")),
            json_valid=opt_bool(data.get("json_valid")),
            second_opinion=opt_str(data.get("second_opinion")),
            verdict_agree=opt_bool(data.get("verdict_agree")),
            agent_model=opt_str(data.get("agent_model")),
            losses=texts(data.get("losses")),
            moved=None if moved is None else SessionMove.from_json(moved),
            attempts=tuple(Attempt.from_json(a) for a in data.get("attempts") or ()),
            signals=tuple(
                Signal(str(s.get("signal", "")), float(s.get("at") or 0), opt_str(s.get("detail")))
                for s in data.get("signals") or ()
            ),
            ratings=tuple(
                Rating(str(r.get("rating", "")), opt_str(r.get("note")), float(r.get("at") or 0))
                for r in data.get("ratings") or ()
            ),
        )


@dataclass(frozen=True)
class Rated:
    """``POST /v1/feedback``'s answer: the call rated (its whole id, where a prefix was
    given) and the rating recorded."""

    call_id: str
    rating: str
    recorded: bool
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> Rated:
        """The feedback answer."""
        return cls(
            str(data.get("call_id", "")),
            str(data.get("rating", "")),
            bool(data.get("recorded")),
            data,
        )

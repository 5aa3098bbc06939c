"""What the ledger stores: one `CallRecord` per call, holding the dispatch `Attempt`s it made."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from cortexd.routing.dispatch import Attempt, call_cost
from cortexd.routing.providers import Usage

CallOutcome = Literal["ok", "error", "partial", "cancelled"]
Rating = Literal["good", "bad"]

#: Costs are stored as whole pico-dollars (1e-12 USD): exact sums in SQL, and exact for any
#: price with up to six decimals per million tokens.
PICO = Decimal(10) ** 12


def to_pico(usd: Decimal | None) -> int | None:
    """USD as integer pico-dollars (None stays None)."""
    return None if usd is None else int((usd * PICO).to_integral_value())


def from_pico(pico: int | None) -> Decimal | None:
    """Integer pico-dollars as USD."""
    return None if pico is None else (Decimal(pico) / PICO).normalize()


@dataclass(frozen=True, slots=True)
class SessionMove:
    """A session that moved to another provider with this call: from where, why, and what
    the move cost. `cache_lost_tokens` is the prompt the old provider had cached as of the
    session's last call and the new one did not read from its cache, `cache_lost_usd` what
    those tokens cost more at the new model's full input price than from its cache (None:
    a price unknown); `before_ttft_s` the time to first token of that last call, beside
    this call's own."""

    from_provider: str
    from_model: str
    to_provider: str
    to_model: str
    reason: str
    cache_lost_tokens: int = 0
    cache_lost_usd: float | None = None
    before_ttft_s: float | None = None


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One request as it ended: how it was routed, who answered, and every attempt.

    `client`, `project`, `session` and `turn` say whose work it was: `cortex stats --by`
    groups by the first three.

    `prompt` and `answer` live only in memory unless prompt storage is turned on; the
    prompt's keyed hash is what finds "the same prompt asked again".
    """

    id: str
    started_at: float  # Unix time
    task: str
    decided_by: str  # explicit-model | override | task-given | classified | default
    outcome: CallOutcome
    kind: Literal["chat", "embeddings"] = "chat"
    attempts: tuple[Attempt, ...] = ()
    client: str | None = None
    project: str | None = None
    session: str | None = None  # the client's session (a coding agent's), when it names one
    turn: str | None = None  # the user's turn within that session
    agent_model: str | None = None  # the model a coding agent is configured with
    losses: tuple[str, ...] = ()  # what translation for another provider left out
    moved: SessionMove | None = None  # the session moved to another provider here
    override: str | None = None
    routing_generation: int | None = None
    chain: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    model: str | None = None
    provider: str | None = None
    fallback: bool = False
    local_only: bool = False
    stream: bool = False
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    usage_estimated: bool = False  # a stream cut short: its tokens counted from what it sent
    first_token_s: float | None = None
    total_s: float = 0.0
    error_class: str | None = None
    error: str | None = None
    json_requested: bool = False
    json_valid: bool | None = None
    second_opinion: str | None = None  # the cross-check's status: agree, disagree, …
    verdict_agree: bool | None = None
    #: The provider's batch that answered it (at the batch price), for a batch's line.
    batch: str | None = None
    prompt: str | None = field(default=None, repr=False)
    answer: str | None = field(default=None, repr=False)

    @property
    def completed(self) -> bool:
        """Answered whole: no error, not cut off by max_tokens, valid JSON where JSON was asked."""
        return (
            self.outcome == "ok" and self.finish_reason != "length" and self.json_valid is not False
        )

    @property
    def cost_usd(self) -> Decimal | None:
        """What every try cost (second opinions, judges and streams cut short included);
        None if any price is unknown."""
        return call_cost(self.attempts)


@dataclass(frozen=True, slots=True)
class Feedback:
    """The user's verdict on a call."""

    call_id: str
    rating: Rating
    note: str | None = None
    at: float = 0.0

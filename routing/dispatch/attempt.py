"""One record per attempt: what dispatch hands to the ledger (through an injected sink)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from cortexd.routing.prices import Part, Price
from cortexd.routing.providers.chat import Usage

Outcome = Literal["ok", "error", "partial", "skipped", "cancelled"]
Role = Literal["answer", "second opinion", "judge"]
_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of one model for one request, or one model skipped before any try.

    `number` counts tries of this request from 1 (skips are 0); `fallback` is true for any
    model after the plan's first; `retry` for a second try of the same model. `cost_usd` is
    None when the model's price is unknown — never a silent 0. A stream cut short (partial,
    cancelled) never gets the provider's count: its `usage` is estimated from what it
    streamed (`usage_estimated`), and priced all the same, since the provider bills it.
    """

    request_id: str
    number: int
    task: str
    provider: str
    model: str
    model_id: str
    outcome: Outcome
    fallback: bool = False
    retry: bool = False
    usage: Usage = Usage()
    first_token_s: float | None = None
    total_s: float = 0.0
    error_class: str | None = None
    error: str | None = None
    skip_reason: str | None = None
    cost_usd: Decimal | None = None
    second_opinion: bool = False
    started_s: float = 0.0  # from the start of the request's dispatch to this try's start
    usage_estimated: bool = False

    @property
    def role(self) -> Role:
        """What the try was for: the call's answer, its second opinion, or the judge of the
        two (dispatch names their requests ``<call id>:second`` and ``<call id>:judge``)."""
        suffix = self.request_id.partition(":")[2]
        if suffix == "judge":
            return "judge"
        return "second opinion" if self.second_opinion or suffix == "second" else "answer"


AttemptSink = Callable[[Attempt], None]


def cost_usd(price: Price | None, usage: Usage) -> Decimal | None:
    """What `usage` cost at `price` (USD per million tokens); None when the price is unknown.

    `usage.input_tokens` counts cached tokens too; those are charged at the cache prices
    where the catalog has them, and a long prompt moves every kind of token to its tier.
    Writes to Anthropic's 1-hour cache cost twice the input rate, the others the cache-write
    rate (1.25 times it at Anthropic).

    >>> from cortexd.routing.prices import Price
    >>> p = Price(Decimal(3), Decimal(15), Decimal("0.3"), Decimal("3.75"), "x")
    >>> cost_usd(p, Usage(input_tokens=1_000_000, output_tokens=100_000, cache_read_tokens=500_000))
    Decimal('3.15')
    >>> cost_usd(p, Usage(input_tokens=1_000_000, cache_write_tokens=1_000_000,
    ...                   cache_write_1h_tokens=400_000))
    Decimal('4.65')
    """
    if price is None:
        return None
    total_in = usage.input_tokens

    def rate(part: Part) -> Decimal:
        found = price.mtok(part, total_in)
        return found if found is not None else price.mtok("input", total_in) or Decimal(0)

    # The 1-hour writes are counted in cache_write_tokens; a provider that reported them
    # alone is not let to make them free.
    writes = max(usage.cache_write_tokens, usage.cache_write_1h_tokens)
    hour = usage.cache_write_1h_tokens
    plain = max(0, usage.input_tokens - usage.cache_read_tokens - writes)
    # Price holds no 1-hour rate: Anthropic's is twice the input rate, tiers included, as
    # genai-prices lists it (cache_write_1h_mtok), and only Anthropic has such a cache.
    total = (
        plain * rate("input")
        + usage.cache_read_tokens * rate("cache_read")
        + (writes - hour) * rate("cache_write")
        + hour * 2 * rate("input")
        + usage.output_tokens * rate("output")
    )
    return (total / _MILLION).normalize()


def call_cost(attempts: Iterable[Attempt]) -> Decimal | None:
    """What a call's tries cost together (second opinions and judges included, cut-short
    streams at their estimate); None when any try that ran has no known price.

    >>> ok = Attempt("c", 1, "t", "openai", "gpt-4o", "m", "ok", cost_usd=Decimal("0.5"))
    >>> judge = Attempt("c:judge", 1, "t", "anthropic", "haiku", "m", "ok", cost_usd=Decimal(1))
    >>> skip = Attempt("c", 0, "t", "anthropic", "sonnet", "m", "skipped")
    >>> call_cost([ok, judge, skip]), judge.role
    (Decimal('1.5'), 'judge')
    """
    total = Decimal(0)
    for attempt in attempts:
        if attempt.outcome == "skipped":
            continue
        if attempt.cost_usd is None:
            return None
        total += attempt.cost_usd
    return total

"""Model prices from genai-prices' bundled snapshot (offline: no network at run time).

A price keeps genai-prices' tiers: past a tier's threshold of *input* tokens every token of
that kind costs the tier's rate (the "cliff" model Anthropic, Google and OpenAI use).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal
from urllib.parse import urlsplit

#: The kinds of tokens a price names, as genai-prices calls them.
Part = Literal["input", "output", "cache_read", "cache_write"]


@dataclass(frozen=True)
class Tier:
    """From more than `start` input tokens on, `part` costs `mtok` USD per million."""

    part: Part
    start: int
    mtok: Decimal


@dataclass(frozen=True)
class Price:
    """Base prices in USD per million tokens, and the tiers that replace them for long prompts."""

    input_mtok: Decimal
    output_mtok: Decimal
    cache_read_mtok: Decimal | None
    cache_write_mtok: Decimal | None
    source: str  # the model genai-prices matched, e.g. "Claude Sonnet 4.5"
    tiers: tuple[Tier, ...] = ()

    @property
    def tiered(self) -> bool:
        """Whether long prompts cost more per token."""
        return bool(self.tiers)

    def mtok(self, part: Part, input_tokens: int) -> Decimal | None:
        """The rate of `part` for a request of `input_tokens` input tokens (cache included).

        >>> long = (Tier("input", 200_000, Decimal(6)),)
        >>> p = Price(Decimal(3), Decimal(15), None, None, "x", long)
        >>> p.mtok("input", 200_000), p.mtok("input", 200_001), p.mtok("output", 300_000)
        (Decimal('3'), Decimal('6'), Decimal('15'))
        """
        base = {
            "input": self.input_mtok,
            "output": self.output_mtok,
            "cache_read": self.cache_read_mtok,
            "cache_write": self.cache_write_mtok,
        }[part]
        rate = base
        crossed = -1
        for tier in self.tiers:
            if tier.part == part and input_tokens > tier.start > crossed:
                rate, crossed = tier.mtok, tier.start
        return rate


@dataclass(frozen=True)
class PriceLookup:
    """What genai-prices knows of a model: its price and context window (either may be missing)."""

    price: Price | None
    context_window: int | None


def _rate(part: Part, value: object, tiers: list[Tier]) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    base = getattr(value, "base", None)  # genai-prices' TieredPrices
    for tier in getattr(value, "tiers", ()):
        tiers.append(Tier(part, int(tier.start), Decimal(tier.price)))
    return base if isinstance(base, Decimal) else None


#: What the providers' Batch APIs charge, as both document it: half of each standard rate.
BATCH_DISCOUNT = Decimal("0.5")


def discounted(price: Price, factor: Decimal, source: str) -> Price:
    """`price` with every rate (tiers too) multiplied by `factor`.

    >>> p = Price(Decimal(3), Decimal(15), None, Decimal("3.75"), "x")
    >>> half = discounted(p, BATCH_DISCOUNT, "x, batch")
    >>> half.input_mtok, half.output_mtok, half.cache_read_mtok, half.cache_write_mtok
    (Decimal('1.5'), Decimal('7.5'), None, Decimal('1.875'))
    """

    def cut(rate: Decimal | None) -> Decimal | None:
        return None if rate is None else rate * factor

    tiers = tuple(Tier(t.part, t.start, t.mtok * factor) for t in price.tiers)
    return Price(
        price.input_mtok * factor,
        price.output_mtok * factor,
        cut(price.cache_read_mtok),
        cut(price.cache_write_mtok),
        source,
        tiers,
    )


def lookup_price(provider_id: str, model_id: str, *, batch: bool = False) -> PriceLookup:
    """Look a concrete model id up in genai-prices; an unknown model gives an empty lookup.
    `batch` asks for its price through the provider's Batch API, where genai-prices has one
    (else the standard price comes back: compare them)."""
    # Imported here: genai-prices loads pydantic and its snapshot (~0.3 s), which planning a
    # route never needs; the daemon warms it up at start instead.
    from genai_prices import Usage, calc_price

    try:
        calc = calc_price(
            Usage(input_tokens=0, output_tokens=0),
            model_id,
            provider_id=provider_id,
            price_context={"processing": "batch"} if batch else None,
        )
    except LookupError:
        return PriceLookup(price=None, context_window=None)
    mp = calc.model_price
    tiers: list[Tier] = []
    inp = _rate("input", mp.input_mtok, tiers)
    out = _rate("output", mp.output_mtok, tiers)
    cread = _rate("cache_read", mp.cache_read_mtok, tiers)
    cwrite = _rate("cache_write", mp.cache_write_mtok, tiers)
    price = None
    if inp is not None:
        # Embedding models have no output price: genai-prices charges their output as 0.
        out = out if out is not None else Decimal(0)
        name = calc.model.name or calc.model.id
        price = Price(inp, out, cread, cwrite, name, tuple(tiers))
    return PriceLookup(price=price, context_window=calc.model.context_window)


#: How a model is billed: a price of its own (``free`` is a price of 0), the list price
#: genai-prices has for its model id, or unknown (shown as unknown and never counted as 0).
Pricing = Price | Literal["list", "unknown"]

#: The hosts at which a provider bills its list price. genai-prices knows what the provider's
#: own API charges; a model served elsewhere (a vLLM box, a proxy) has no known price.
PROVIDER_HOSTS: dict[str, tuple[str, ...]] = {
    "anthropic": ("api.anthropic.com",),
    "openai": ("api.openai.com",),
}

_NUMBER = r"\$?\s*([0-9]+(?:\.[0-9]+)?)\s*(?:\$|usd)?"
_IN_OUT = re.compile(rf"^{_NUMBER}\s*/\s*{_NUMBER}(?:\s*(?:per|/)\s*(?:m|mtok|million)\w*)?$")
_FREE = frozenset({"free", "0", "$0", "0 / 0", "0/0"})
_LIST = frozenset({"list", "list price"})
_UNKNOWN = frozenset({"unknown", "?"})


def default_pricing(provider_id: str, base_url: str | None) -> Pricing:
    """List price at the provider's own API (no base URL, or its host); unknown elsewhere.

    >>> default_pricing("openai", None), default_pricing("openai", "https://api.openai.com/v1")
    ('list', 'list')
    >>> default_pricing("openai", "http://127.0.0.1:8000/v1")
    'unknown'
    """
    if base_url is None:
        return "list"
    host = (urlsplit(base_url).hostname or "").casefold()
    return "list" if host in PROVIDER_HOSTS.get(provider_id, ()) else "unknown"


def read_pricing(cell: str) -> Pricing | None:
    """A Model Aliases ``Price`` cell: USD per million input / output tokens (``3 / 15``,
    ``$0.15 / $0.60``), ``free``, ``list`` (genai-prices' list price) or ``unknown``; an empty
    cell is None (the host decides, see `default_pricing`). Raises ValueError otherwise.

    >>> read_pricing("3 / 15").input_mtok, read_pricing("$0.15/$0.6").output_mtok
    (Decimal('3'), Decimal('0.6'))
    >>> read_pricing("free").output_mtok, read_pricing("List"), read_pricing(" ")
    (Decimal('0'), 'list', None)
    """
    text = " ".join(cell.split()).casefold()
    if not text:
        return None
    if text in _FREE:
        zero = Decimal(0)
        return Price(zero, zero, zero, zero, source="free (routing file)")
    if text in _LIST:
        return "list"
    if text in _UNKNOWN:
        return "unknown"
    m = _IN_OUT.match(text)
    if m is None:
        raise ValueError(
            f"'{cell.strip()}' is not a price: write USD per million input / output tokens "
            "(3 / 15), free, list or unknown"
        )
    # No cache prices: a cached token is charged as an input token (never less than it costs).
    return Price(Decimal(m.group(1)), Decimal(m.group(2)), None, None, source="routing file")

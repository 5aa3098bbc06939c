"""Model prices from genai-prices' bundled snapshot (offline: no network at run time)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Price:
    """Base prices in USD per million tokens; `tiered` when long prompts cost more."""

    input_mtok: Decimal
    output_mtok: Decimal
    cache_read_mtok: Decimal | None
    cache_write_mtok: Decimal | None
    tiered: bool
    source: str  # the model genai-prices matched, e.g. "Claude Sonnet 5.5"


@dataclass(frozen=True)
class PriceLookup:
    """What genai-prices knows of a model: its price and context window (either may be missing)."""

    price: Price | None
    context_window: int | None


def _base(value: object) -> tuple[Decimal | None, bool]:
    if value is None:
        return None, False
    if isinstance(value, Decimal):
        return value, False
    base = getattr(value, "base", None)  # genai-prices' TieredPrices
    return (base if isinstance(base, Decimal) else None), True


def lookup_price(provider_id: str, model_id: str) -> PriceLookup:
    """Look a concrete model id up in genai-prices; an unknown model gives an empty lookup."""
    # Imported here: genai-prices loads pydantic and its snapshot (~0.3 s), which planning a
    # route never needs; the daemon warms it up at start instead.
    from genai_prices import Usage, calc_price

    try:
        calc = calc_price(Usage(input_tokens=0, output_tokens=0), model_id, provider_id=provider_id)
    except LookupError:
        return PriceLookup(price=None, context_window=None)
    mp = calc.model_price
    inp, t1 = _base(mp.input_mtok)
    out, t2 = _base(mp.output_mtok)
    cread, _ = _base(mp.cache_read_mtok)
    cwrite, _ = _base(mp.cache_write_mtok)
    price = None
    if inp is not None and out is not None:
        price = Price(inp, out, cread, cwrite, t1 or t2, calc.model.name or calc.model.id)
    return PriceLookup(price=price, context_window=calc.model.context_window)

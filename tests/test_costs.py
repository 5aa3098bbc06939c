"""Cost arithmetic against genai-prices itself, for every model of the catalog."""

from __future__ import annotations

from decimal import Decimal

import genai_prices
import pytest

from cortexd.routing.catalog import Catalog, build_catalog
from cortexd.routing.dispatch import cost_usd
from cortexd.routing.prices import Price, Tier
from cortexd.routing.providers import Usage

CATALOG: Catalog = build_catalog()
CLOUD = [spec for spec in CATALOG if not spec.local]
USAGES = [
    Usage(input_tokens=1_234, output_tokens=567),
    Usage(input_tokens=50_000, output_tokens=2_000, cache_read_tokens=30_000),
    Usage(
        input_tokens=80_000,
        output_tokens=1_000,
        cache_read_tokens=20_000,
        cache_write_tokens=40_000,
    ),
    # Past the 200k-token tier where a model has one: every token moves to the tier's rate.
    Usage(
        input_tokens=250_000,
        output_tokens=4_000,
        cache_read_tokens=100_000,
        cache_write_tokens=50_000,
    ),
]


def test_the_catalog_has_cloud_models() -> None:
    assert {s.name for s in CLOUD} >= {"haiku", "sonnet", "opus", "gpt-4o", "codex"}


@pytest.mark.parametrize("spec", CLOUD, ids=lambda s: s.name)
@pytest.mark.parametrize("usage", USAGES, ids=["plain", "cache-read", "cache-write", "long"])
def test_cost_matches_genai_prices(spec: object, usage: Usage) -> None:
    price = CATALOG.price(spec)  # type: ignore[arg-type]
    assert price is not None
    expected = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        ),
        spec.model_id,  # type: ignore[attr-defined]
        provider_id=spec.provider.value,  # type: ignore[attr-defined]
    ).total_price
    assert cost_usd(price, usage) == expected


def test_a_tiered_model_costs_more_past_its_threshold() -> None:
    spec = CATALOG.resolve("claude-sonnet-4-5")
    assert spec is not None
    price = CATALOG.price(spec)
    assert price is not None and price.tiered
    short = cost_usd(price, Usage(input_tokens=200_000, output_tokens=0))
    long = cost_usd(price, Usage(input_tokens=200_001, output_tokens=0))
    assert short is not None and long is not None
    assert long / short > Decimal("1.9")  # $3 → $6 per million, for all the tokens


def test_local_models_cost_nothing() -> None:
    local = next(s for s in CATALOG if s.local)
    assert cost_usd(CATALOG.price(local), Usage(input_tokens=10**6, output_tokens=10**6)) == 0


SONNET_LIKE = Price(Decimal(3), Decimal(15), Decimal("0.3"), Decimal("3.75"), "x")
LONG_PROMPTS = (Tier("input", 200_000, Decimal(6)), Tier("cache_write", 200_000, Decimal("7.5")))
TIERED = Price(Decimal(3), Decimal(15), Decimal("0.3"), Decimal("3.75"), "x", LONG_PROMPTS)
NO_CACHE_PRICE = Price(Decimal(3), Decimal(15), None, None, "x")
M = 1_000_000


@pytest.mark.parametrize(
    ("price", "usage", "expected"),
    [
        # 1M prompt tokens of which 1M written to the cache: the 5-minute rate, $3.75…
        (SONNET_LIKE, Usage(input_tokens=M, cache_write_tokens=M), "3.75"),
        # …the 1-hour rate, twice the input's: $6.
        (SONNET_LIKE, Usage(input_tokens=M, cache_write_tokens=M, cache_write_1h_tokens=M), "6"),
        # Half and half, with plain input, reads and output beside.
        (
            SONNET_LIKE,
            Usage(
                input_tokens=2 * M,
                output_tokens=M // 10,
                cache_read_tokens=M // 2,
                cache_write_tokens=M,
                cache_write_1h_tokens=M // 2,
            ),
            # 0.5M plain × 3 + 0.5M read × 0.3 + 0.5M × 3.75 + 0.5M × 6 + 0.1M × 15
            "8.025",
        ),
        # 1-hour writes a provider reported alone are still charged as 1-hour writes.
        (SONNET_LIKE, Usage(input_tokens=M, cache_write_1h_tokens=M), "6"),
        # A long prompt: the 1-hour rate follows the input's tier ($6 → $12).
        (
            TIERED,
            Usage(input_tokens=M, cache_write_tokens=M // 2, cache_write_1h_tokens=M // 4),
            # 0.5M plain × 6 + 0.25M × 7.5 + 0.25M × 12
            "7.875",
        ),
        # No cache prices known: 5-minute writes at the input rate, 1-hour ones at twice it.
        (
            NO_CACHE_PRICE,
            Usage(input_tokens=M, cache_write_tokens=M, cache_write_1h_tokens=M // 2),
            "4.5",
        ),
        (None, Usage(input_tokens=M, cache_write_1h_tokens=M), None),
    ],
    ids=["5m", "1h", "mixed", "1h-alone", "tiered", "no-cache-price", "unknown"],
)
def test_cache_writes_cost_by_how_long_they_stay(
    price: Price | None, usage: Usage, expected: str | None
) -> None:
    assert cost_usd(price, usage) == (None if expected is None else Decimal(expected))


ANTHROPIC = [spec for spec in CLOUD if spec.provider.value == "anthropic"]


@pytest.mark.parametrize("spec", ANTHROPIC, ids=lambda s: s.name)
@pytest.mark.parametrize("input_tokens", [80_000, 250_000], ids=["short", "long"])
def test_hour_cache_writes_cost_what_genai_prices_says(spec: object, input_tokens: int) -> None:
    usage = Usage(
        input_tokens=input_tokens,
        output_tokens=1_000,
        cache_read_tokens=20_000,
        cache_write_tokens=40_000,
        cache_write_1h_tokens=15_000,
    )
    price = CATALOG.price(spec)  # type: ignore[arg-type]
    expected = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            cache_write_1h_tokens=usage.cache_write_1h_tokens,
        ),
        spec.model_id,  # type: ignore[attr-defined]
        provider_id="anthropic",
    ).total_price
    assert cost_usd(price, usage) == expected

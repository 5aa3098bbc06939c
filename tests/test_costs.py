"""Cost arithmetic against genai-prices itself, for every model of the catalog."""

from __future__ import annotations

from decimal import Decimal

import genai_prices
import pytest

from cortexd.routing.catalog import Catalog, build_catalog
from cortexd.routing.dispatch import cost_usd
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

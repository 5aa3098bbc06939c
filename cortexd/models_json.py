"""Catalog entries as JSON: what `cortex models --json` prints and `GET /v1/models` adds."""

from __future__ import annotations

from typing import Any

from cortexd.routing import Catalog, ModelSpec, redact_url


def model_row(catalog: Catalog, spec: ModelSpec) -> dict[str, Any]:
    """One catalog entry as JSON-ready data; an unknown price is null, never 0."""
    price = catalog.price(spec)
    return {
        "alias": spec.name,
        "provider": spec.provider.value,
        "model_id": spec.model_id,
        "api": spec.api.value,
        "context_window": spec.context_window,
        "input_usd_per_mtok": None if price is None else str(price.input_mtok),
        "output_usd_per_mtok": None if price is None else str(price.output_mtok),
        "price_source": None if price is None else price.source,
        "base_url": None if spec.base_url is None else redact_url(spec.base_url),
        "gguf_path": None if spec.gguf_path is None else str(spec.gguf_path),
    }

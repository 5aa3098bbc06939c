"""Catalog entries as JSON: what `cortex models --json` prints and `GET /v1/models` adds, and
the model list in the shape Anthropic's clients read."""

from __future__ import annotations

from collections.abc import Iterable
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


#: Anthropic's list gives each model a creation date; cortexd's names have none that means
#: anything, so all carry the epoch (as OpenAI's list here carries ``created: 0``).
_EPOCH = "1970-01-01T00:00:00Z"


def anthropic_list(catalog: Catalog, task_types: Iterable[str]) -> dict[str, Any]:
    """``auto``, every alias and every ``task:`` name as Anthropic's model list."""
    entries: list[tuple[str, str, int | None]] = [
        ("auto", "auto: routed by the routing file", None)
    ]
    entries += [
        (s.name, f"{s.name} ({s.provider.value} {s.model_id})", s.context_window) for s in catalog
    ]
    entries += [(f"task:{t}", f"the {t} route", None) for t in task_types]
    return anthropic_models(entries)


def anthropic_models(entries: list[tuple[str, str, int | None]]) -> dict[str, Any]:
    """``(id, display name, context window)`` entries as Anthropic's ``GET /v1/models``
    page: every entry on one page.

    >>> page = anthropic_models([("auto", "auto: routed by the routing file", None)])
    >>> page["data"][0]["type"], page["has_more"], page["first_id"], page["last_id"]
    ('model', False, 'auto', 'auto')
    """
    data = [
        {
            "type": "model",
            "id": model_id,
            "display_name": name,
            "created_at": _EPOCH,
            "lifecycle": "active",
            "max_input_tokens": window,
        }
        for model_id, name, window in entries
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }

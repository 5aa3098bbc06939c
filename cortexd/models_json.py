"""Catalog entries as JSON: what `cortex models --json` prints and `GET /v1/models` adds, and
the model list in the shape Anthropic's clients read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cortexd.routing import EMBEDDINGS_TASK, Catalog, ModelSpec, redact_url


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


def endpoint_of(task: str) -> str:
    """The endpoint a task type (as the routing table spells it) serves on: the Embeddings
    route makes vectors, on ``/v1/embeddings``; every other route answers chat.

    >>> endpoint_of("Embeddings"), endpoint_of("Meeting summary")
    ('/v1/embeddings', '/v1/chat/completions')
    """
    return "/v1/embeddings" if task == EMBEDDINGS_TASK else "/v1/chat/completions"


def task_rows(task_types: Iterable[str]) -> list[dict[str, Any]]:
    """The ``task:`` names as entries of OpenAI's model list, each saying where it is used
    (``task:Embeddings`` is no chat model: asked for an answer, it is a 400 saying so)."""
    return [
        {
            "id": f"task:{t}",
            "object": "model",
            "created": 0,
            "owned_by": "cortexd",
            # Not under "cortex", which marks a catalog row (`cortex models` reads those).
            "endpoint": endpoint_of(t),
        }
        for t in task_types
    ]


def anthropic_list(catalog: Catalog, task_types: Iterable[str]) -> dict[str, Any]:
    """``auto``, every chat alias and every chat ``task:`` name as Anthropic's model list
    (read by a Messages client, which can use neither an embedding model nor the Embeddings
    route)."""
    entries: list[tuple[str, str, int | None]] = [
        ("auto", "auto: routed by the routing file", None)
    ]
    entries += [
        (s.name, f"{s.name} ({s.provider.value} {s.model_id})", s.context_window)
        for s in catalog
        if not s.embedding
    ]
    entries += [
        (f"task:{t}", f"the {t} route", None)
        for t in task_types
        if endpoint_of(t) != "/v1/embeddings"
    ]
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

"""The model catalog: aliases, synonyms, concrete ids, APIs, local models and prices."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cortexd.routing.catalog import (
    BUILTIN_MODELS,
    Api,
    Catalog,
    ModelSpec,
    Provider,
    build_catalog,
    place_model_id,
)
from cortexd.routing.prices import lookup_price


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return build_catalog()


@pytest.mark.parametrize(
    ("alias", "provider", "model_id", "api"),
    [
        ("haiku", Provider.ANTHROPIC, "claude-haiku-5-5", Api.MESSAGES),
        ("sonnet", Provider.ANTHROPIC, "claude-sonnet-5-5", Api.MESSAGES),
        ("opus", Provider.ANTHROPIC, "claude-opus-5-5", Api.MESSAGES),
        ("gpt-4o", Provider.OPENAI, "gpt-4o", Api.CHAT),
        ("codex", Provider.OPENAI, "gpt-5.3-codex", Api.RESPONSES),
    ],
)
def test_cloud_alias_resolves_to_provider_id_and_api(
    catalog: Catalog, alias: str, provider: Provider, model_id: str, api: Api
) -> None:
    spec = catalog.resolve(alias)
    assert spec is not None
    assert (spec.name, spec.provider, spec.model_id, spec.api) == (alias, provider, model_id, api)
    assert not spec.local


@pytest.mark.parametrize("alias", ["haiku", "sonnet", "opus", "gpt-4o", "codex"])
def test_cloud_alias_context_window_matches_genai_prices(catalog: Catalog, alias: str) -> None:
    spec = catalog.find(alias)
    assert spec is not None
    assert spec.context_window is not None and spec.context_window > 0
    assert spec.context_window == lookup_price(spec.provider.value, spec.model_id).context_window


def test_codex_is_served_through_the_responses_api(catalog: Catalog) -> None:
    spec = catalog.find("codex")
    assert spec is not None
    assert spec.api is Api.RESPONSES


@pytest.mark.parametrize(
    ("spelling", "alias"),
    [
        ("Claude Opus", "opus"),
        ("claude-opus", "opus"),
        ("gpt4o", "gpt-4o"),
        ("GPT 4o", "gpt-4o"),
        ("GPT Codex", "codex"),
        ("OPUS", "opus"),
        ("  Sonnet ", "sonnet"),
        ("claude-sonnet-5-5", "sonnet"),
        ("gpt-5.3-codex", "codex"),
    ],
)
def test_synonyms_and_model_ids_find_the_alias(catalog: Catalog, spelling: str, alias: str) -> None:
    spec = catalog.find(spelling)
    assert spec is not None
    assert spec.name == alias


def test_unknown_name_is_not_found(catalog: Catalog) -> None:
    assert catalog.find("sonet") is None
    assert "sonet" not in catalog
    assert "sonnet" in catalog


@pytest.mark.parametrize(
    "name", ["llama3.1:8b", "qwen2.5-coder:14b", "qwen2.5:14b", "nomic-embed-text"]
)
def test_local_names_are_ollama_models(catalog: Catalog, name: str) -> None:
    spec = catalog.find(name)
    assert spec is not None
    assert spec.provider is Provider.OLLAMA
    assert spec.api is Api.LOCAL
    assert spec.local
    assert spec.family == "local"


@pytest.mark.parametrize("name", ["llama3.1:8b", "nomic-embed-text"])
def test_local_models_cost_nothing(catalog: Catalog, name: str) -> None:
    spec = catalog.find(name)
    assert spec is not None
    price = catalog.price(spec)
    assert price is not None
    assert (price.input_mtok, price.output_mtok) == (Decimal(0), Decimal(0))


def test_placed_local_id_costs_nothing(catalog: Catalog) -> None:
    spec = catalog.resolve("mistral:7b")
    assert spec is not None
    price = catalog.price(spec)
    assert price is not None
    assert price.input_mtok == 0


def test_nomic_embed_text_is_an_embedding_model(catalog: Catalog) -> None:
    spec = catalog.find("nomic-embed-text")
    assert spec is not None
    assert spec.embedding


def test_family_of_cloud_models(catalog: Catalog) -> None:
    families = [spec.family for spec in map(catalog.find, ("sonnet", "codex")) if spec]
    assert families == ["anthropic", "openai"]


def test_gguf_file_makes_a_builtin_local_model_llamacpp(tmp_path: Path) -> None:
    gguf = tmp_path / "qwen.gguf"
    spec = build_catalog(gguf_files={"qwen2.5:14b": gguf}).find("qwen2.5:14b")
    assert spec is not None
    assert (spec.provider, spec.api, spec.gguf_path) == (Provider.LLAMACPP, Api.LOCAL, gguf)
    assert spec.memory_bytes is not None  # what the built-in knew is kept
    assert spec.local


def test_gguf_file_adds_a_new_llamacpp_model(tmp_path: Path) -> None:
    gguf = tmp_path / "tiny.gguf"
    spec = build_catalog(gguf_files={"tiny": gguf}).find("tiny")
    assert spec is not None
    assert (spec.provider, spec.model_id, spec.gguf_path) == (Provider.LLAMACPP, "tiny", gguf)


def test_gguf_model_costs_nothing(tmp_path: Path) -> None:
    catalog = build_catalog(gguf_files={"tiny": tmp_path / "tiny.gguf"})
    spec = catalog.find("tiny")
    assert spec is not None
    price = catalog.price(spec)
    assert price is not None and price.output_mtok == 0


def test_override_replaces_a_builtin() -> None:
    mine = ModelSpec("sonnet", Provider.ANTHROPIC, "claude-sonnet-4-5", Api.MESSAGES)
    spec = build_catalog([mine]).find("sonnet")
    assert spec is not None
    assert spec.model_id == "claude-sonnet-4-5"


def test_builtin_catalog_order_and_names() -> None:
    assert build_catalog().names() == [m.name for m in BUILTIN_MODELS]
    assert [s.name for s in build_catalog()] == [m.name for m in BUILTIN_MODELS]


def test_gpt_4o_price_comes_from_genai_prices(catalog: Catalog) -> None:
    spec = catalog.find("gpt-4o")
    assert spec is not None
    price = catalog.price(spec)
    assert price is not None
    assert (price.input_mtok, price.output_mtok) == (Decimal("2.5"), Decimal("10"))


@pytest.mark.parametrize("alias", ["haiku", "sonnet", "opus", "gpt-4o", "codex"])
def test_every_cloud_alias_has_a_positive_price(catalog: Catalog, alias: str) -> None:
    spec = catalog.find(alias)
    assert spec is not None
    price = catalog.price(spec)
    assert price is not None
    assert price.input_mtok > 0 and price.output_mtok > price.input_mtok
    assert price.source  # the genai-prices model that matched


def test_cloud_prices_agree_with_genai_prices(catalog: Catalog) -> None:
    spec = catalog.find("sonnet")
    assert spec is not None
    assert catalog.price(spec) == lookup_price("anthropic", spec.model_id).price


def test_resolved_concrete_id_price(catalog: Catalog) -> None:
    spec = catalog.resolve("claude-sonnet-4-5")
    assert spec is not None
    price = catalog.price(spec)
    assert price is not None
    assert (price.input_mtok, price.output_mtok) == (Decimal("3"), Decimal("15"))


@pytest.mark.parametrize("model_id", ["gpt-unknown-zz", "claude-nothing-9"])
def test_unknown_concrete_id_has_no_price_never_zero(catalog: Catalog, model_id: str) -> None:
    spec = catalog.resolve(model_id)
    assert spec is not None
    assert catalog.price(spec) is None


def test_unknown_alias_model_id_has_no_price() -> None:
    mine = ModelSpec("mystery", Provider.OPENAI, "mystery-model-x", Api.CHAT)
    catalog = build_catalog([mine])
    spec = catalog.find("mystery")
    assert spec is not None
    assert catalog.price(spec) is None


def test_lookup_price_of_an_unknown_model_is_empty() -> None:
    found = lookup_price("openai", "no-such-model-zz")
    assert (found.price, found.context_window) == (None, None)


def test_resolve_places_an_id_not_in_the_catalog(catalog: Catalog) -> None:
    assert catalog.find("claude-sonnet-4-5") is None
    spec = catalog.resolve("claude-sonnet-4-5")
    assert spec is not None
    assert (spec.name, spec.provider, spec.model_id, spec.api) == (
        "claude-sonnet-4-5",
        Provider.ANTHROPIC,
        "claude-sonnet-4-5",
        Api.MESSAGES,
    )
    assert spec.context_window == 200_000


def test_resolve_places_a_codex_id_on_the_responses_api(catalog: Catalog) -> None:
    spec = catalog.resolve("gpt-5.1-codex")
    assert spec is not None
    assert (spec.provider, spec.api) == (Provider.OPENAI, Api.RESPONSES)


def test_resolve_places_an_ollama_tag_as_local(catalog: Catalog) -> None:
    spec = catalog.resolve("mistral:7b")
    assert spec is not None
    assert (spec.provider, spec.api, spec.context_window) == (Provider.OLLAMA, Api.LOCAL, None)


def test_resolve_prefers_the_catalog(catalog: Catalog) -> None:
    spec = catalog.resolve("Claude Opus")
    assert spec is not None
    assert spec.name == "opus"


@pytest.mark.parametrize("name", ["totally-unknown", "llama3", "omni"])
def test_resolve_gives_none_for_names_it_cannot_place(catalog: Catalog, name: str) -> None:
    assert catalog.resolve(name) is None


@pytest.mark.parametrize(
    ("typo", "alias"),
    [
        ("sonet", "sonnet"),
        ("opsu", "opus"),
        ("hiaku", "haiku"),
        ("codx", "codex"),
        ("gpt4", "gpt-4o"),
        ("lama3.1:8b", "llama3.1:8b"),
        ("claude sonet", "sonnet"),
    ],
)
def test_suggest_the_nearest_alias(catalog: Catalog, typo: str, alias: str) -> None:
    assert catalog.suggest(typo) == alias


def test_suggest_nothing_for_a_far_name(catalog: Catalog) -> None:
    assert catalog.suggest("xyzzy") is None


@pytest.mark.parametrize(
    ("model_id", "placed"),
    [
        ("claude-sonnet-4-5", (Provider.ANTHROPIC, Api.MESSAGES)),
        ("Claude-3-Opus", (Provider.ANTHROPIC, Api.MESSAGES)),
        ("gpt-5.1-codex", (Provider.OPENAI, Api.RESPONSES)),
        ("codex-mini-latest", (Provider.OPENAI, Api.RESPONSES)),
        ("gpt-4.1", (Provider.OPENAI, Api.CHAT)),
        ("o3", (Provider.OPENAI, Api.CHAT)),
        ("o4-mini", (Provider.OPENAI, Api.CHAT)),
        ("chatgpt-4o-latest", (Provider.OPENAI, Api.CHAT)),
        ("text-embedding-3-small", (Provider.OPENAI, Api.EMBEDDINGS)),
        ("mistral:7b", (Provider.OLLAMA, Api.LOCAL)),
        ("hf.co/org/model:Q4_K_M", (Provider.OLLAMA, Api.LOCAL)),
        ("  claude-haiku-4-5  ", (Provider.ANTHROPIC, Api.MESSAGES)),
    ],
)
def test_place_model_id(model_id: str, placed: tuple[Provider, Api]) -> None:
    assert place_model_id(model_id) == placed


@pytest.mark.parametrize("model_id", ["mistral", "llama3", "omni", "gemini-2.5-pro", ""])
def test_place_model_id_gives_none_when_it_cannot_tell(model_id: str) -> None:
    assert place_model_id(model_id) is None

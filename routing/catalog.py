"""The model catalog: aliases (``sonnet``, ``llama3.1:8b``) → provider, model id, window, price.

Built-in defaults cover the routing file's names; the routing file's ``## Model Aliases``
and ``## Local Model Files`` sections add to or replace them. Prices are looked up lazily
(genai-prices loads its snapshot on first use): planning a route with aliases never pays for
them; a concrete model id the catalog lacks is looked up once for its context window.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from cortexd.routing.errors import AmbiguousModelError
from cortexd.routing.names import nearest, normalize
from cortexd.routing.price_table import PriceTable
from cortexd.routing.prices import BATCH_DISCOUNT, Price, Pricing, discounted


class Provider(StrEnum):
    """The backends cortexd can send a request to."""

    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    OLLAMA = "ollama"
    LLAMACPP = "llamacpp"

    @property
    def local(self) -> bool:
        return self in (Provider.OLLAMA, Provider.LLAMACPP)


class Api(StrEnum):
    """Which API of its provider serves a model."""

    MESSAGES = "messages"  # Anthropic Messages
    CHAT = "chat"  # OpenAI Chat Completions
    RESPONSES = "responses"  # OpenAI Responses (Codex models are served only there)
    EMBEDDINGS = "embeddings"
    LOCAL = "local"  # Ollama / llama.cpp


@dataclass(frozen=True)
class ModelSpec:
    """One model as cortexd knows it."""

    name: str
    provider: Provider
    model_id: str
    api: Api
    context_window: int | None = None
    base_url: str | None = None
    synonyms: tuple[str, ...] = ()
    embedding: bool = False
    gguf_path: Path | None = None
    memory_bytes: int | None = None  # local models: rough size loaded, at the default quantisation
    # Cloud models: genai-prices' list price unless the routing file says otherwise (a model
    # behind a self-hosted base URL is not billed at the provider's price).
    pricing: Pricing = "list"

    @property
    def local(self) -> bool:
        return self.provider.local

    @property
    def family(self) -> str:
        """The vendor side a model belongs to, for "opposite provider" review rules."""
        return self.provider.value if not self.local else "local"


_GB = 1024**3

#: Defaults, newest model of each family in genai-prices' snapshot (2026-11). Override any of
#: them with a ``## Model Aliases`` row in the routing file.
BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        "opus",
        Provider.ANTHROPIC,
        "claude-opus-5-5",
        Api.MESSAGES,
        1_000_000,
        synonyms=("claude opus", "claude-opus"),
    ),
    ModelSpec(
        "sonnet",
        Provider.ANTHROPIC,
        "claude-sonnet-5-5",
        Api.MESSAGES,
        1_000_000,
        # "use Claude for this" means Anthropic's everyday model.
        synonyms=("claude sonnet", "claude-sonnet", "claude"),
    ),
    ModelSpec(
        "haiku",
        Provider.ANTHROPIC,
        "claude-haiku-5-5",
        Api.MESSAGES,
        1_000_000,
        synonyms=("claude haiku", "claude-haiku"),
    ),
    ModelSpec(
        "gpt-4o",
        Provider.OPENAI,
        "gpt-4o",
        Api.CHAT,
        128_000,
        synonyms=("gpt4o", "gpt 4o", "4o", "gpt-4-o", "chatgpt", "gpt"),
    ),
    ModelSpec(
        "codex",
        Provider.OPENAI,
        "gpt-5.3-codex",
        Api.RESPONSES,
        400_000,
        synonyms=("gpt codex", "gpt-codex", "openai codex"),
    ),
    ModelSpec(
        "llama3.1:8b",
        Provider.OLLAMA,
        "llama3.1:8b",
        Api.LOCAL,
        131_072,
        memory_bytes=int(4.9 * _GB),
    ),
    ModelSpec(
        "qwen2.5-coder:14b",
        Provider.OLLAMA,
        "qwen2.5-coder:14b",
        Api.LOCAL,
        32_768,
        memory_bytes=int(9.0 * _GB),
    ),
    ModelSpec(
        "qwen2.5:14b",
        Provider.OLLAMA,
        "qwen2.5:14b",
        Api.LOCAL,
        32_768,
        memory_bytes=int(9.0 * _GB),
    ),
    ModelSpec(
        "nomic-embed-text",
        Provider.OLLAMA,
        "nomic-embed-text",
        Api.LOCAL,
        8_192,
        embedding=True,
        memory_bytes=int(0.27 * _GB),
    ),
)

_OPENAI_ID = re.compile(r"^(gpt-|chatgpt-|o\d(\b|-)|text-embedding-|codex-)")


def place_model_id(model_id: str) -> tuple[Provider, Api] | None:
    """Which provider serves a concrete model id that is not in the catalog, if it can be told.

    >>> place_model_id("claude-sonnet-4-5")
    (<Provider.ANTHROPIC: 'anthropic'>, <Api.MESSAGES: 'messages'>)
    >>> place_model_id("gpt-5.1-codex")
    (<Provider.OPENAI: 'openai'>, <Api.RESPONSES: 'responses'>)
    >>> place_model_id("mistral:7b")
    (<Provider.OLLAMA: 'ollama'>, <Api.LOCAL: 'local'>)
    """
    mid = model_id.strip().casefold()
    if mid.startswith("claude-"):
        return Provider.ANTHROPIC, Api.MESSAGES
    if _OPENAI_ID.match(mid):
        if "codex" in mid:
            return Provider.OPENAI, Api.RESPONSES
        if mid.startswith("text-embedding-"):
            return Provider.OPENAI, Api.EMBEDDINGS
        return Provider.OPENAI, Api.CHAT
    if re.fullmatch(r"[a-z0-9][\w.\-/]*:[\w.\-]+", mid):
        return Provider.OLLAMA, Api.LOCAL
    return None


@dataclass
class Catalog:
    """Every model cortexd can name; looked up by alias, synonym or concrete model id.

    A spelling means one model, decided in this order: a model's name (its alias) first,
    then a synonym, then a model id. So an alias whose model id is another model's name
    (``toolgpt`` serving ``gpt-4o`` behind a proxy) never takes that name over: ``gpt-4o``
    still means the model called gpt-4o. A model id that models at different endpoints share,
    none of them named by it, is ambiguous: `find` knows no model by it and `resolve` raises.
    """

    models: Mapping[str, ModelSpec]
    _index: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _shared: dict[str, tuple[str, ...]] = field(default_factory=dict, init=False, repr=False)
    _prices: dict[str, Price | None] = field(default_factory=dict, init=False, repr=False)
    _batch_prices: dict[str, Price | None] = field(default_factory=dict, init=False, repr=False)
    _placed: dict[str, ModelSpec] = field(default_factory=dict, init=False, repr=False)
    #: genai-prices' entries for these models (a daemon's keeps them small: price_table.py).
    prices: PriceTable = field(default_factory=PriceTable, repr=False, compare=False)

    def __post_init__(self) -> None:
        for spec in self.models.values():
            self._index[normalize(spec.name)] = spec.name
        for spec in self.models.values():
            for synonym in spec.synonyms:
                self._index.setdefault(normalize(synonym), spec.name)
        by_id: dict[str, list[str]] = {}
        for spec in self.models.values():
            key = normalize(spec.model_id)
            if key not in self._index:
                by_id.setdefault(key, []).append(spec.name)
        for key, names in by_id.items():
            # Aliases of one model at one endpoint ("mini" for haiku's id) are one model: the
            # id means the first of them. At different endpoints, it would mean either.
            endpoints = {(self.models[n].provider, self.models[n].base_url) for n in names}
            if len(endpoints) == 1:
                self._index[key] = names[0]
            else:
                self._shared[key] = tuple(names)

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self.models.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    def names(self) -> list[str]:
        """Every alias, in catalog order."""
        return list(self.models)

    def spellings(self) -> list[str]:
        """Every name the catalog answers to (aliases, synonyms, model ids)."""
        return list(self._index)

    def find(self, name: str) -> ModelSpec | None:
        """The model known by this alias, synonym or model id; None when unknown or ambiguous."""
        alias = self._index.get(normalize(name))
        return self.models[alias] if alias else None

    def sharing(self, name: str) -> tuple[str, ...]:
        """The models whose model id is `name` when several at different endpoints share it
        and none is named so."""
        return self._shared.get(normalize(name), ())

    def shared_ids(self) -> Mapping[str, tuple[str, ...]]:
        """Every ambiguous model id (normalised) and the models that share it."""
        return dict(self._shared)

    def resolve(self, name: str) -> ModelSpec | None:
        """Like `find`, but also places a concrete id the catalog lacks ("claude-sonnet-4-5").

        Raises `AmbiguousModelError` for a model id that several models share.
        """
        spec = self.find(name)
        if spec is not None:
            return spec
        shared = self.sharing(name)
        if shared:
            raise AmbiguousModelError(name.strip(), shared)
        placed = place_model_id(name)
        if placed is None:
            return None
        provider, api = placed
        model_id = name.strip()
        if model_id not in self._placed:
            window = (
                None
                if provider.local
                else self.prices.lookup(provider.value, model_id).context_window
            )
            self._placed[model_id] = ModelSpec(model_id, provider, model_id, api, window)
        return self._placed[model_id]

    def suggest(self, name: str) -> str | None:
        """The alias closest to a misspelt name."""
        hit = nearest(name, self.spellings())
        spec = self.find(hit) if hit else None
        return spec.name if spec else None

    def price(self, spec: ModelSpec) -> Price | None:
        """USD per million tokens: local models cost nothing; a price the routing file gives;
        else genai-prices' list price. None when unknown (genai-prices lacks the model, or it
        is served from a host that is not its provider's)."""
        if spec.local:
            zero = Decimal(0)
            return Price(zero, zero, zero, zero, source="local model")
        if isinstance(spec.pricing, Price):
            return spec.pricing
        if spec.pricing == "unknown":
            return None
        if spec.name not in self._prices:
            self._prices[spec.name] = self.prices.lookup(spec.provider.value, spec.model_id).price
        return self._prices[spec.name]

    def batch_price(self, spec: ModelSpec) -> tuple[Price | None, str]:
        """What `spec` costs through its provider's Batch API, and where that price comes
        from: genai-prices' batch price where it has one, else the standard price at the
        providers' documented discount (`BATCH_DISCOUNT`), said so."""
        standard = self.price(spec)
        if standard is None:
            return None, "unknown price"
        if spec.pricing == "list":
            if spec.name not in self._batch_prices:
                found = self.prices.lookup(spec.provider.value, spec.model_id, batch=True).price
                same = found is None or found.input_mtok == standard.input_mtok
                self._batch_prices[spec.name] = None if same else found
            listed = self._batch_prices[spec.name]
            if listed is not None:
                return listed, "genai-prices' batch price"
        basis = "the standard price at the documented 50% batch discount (no batch price listed)"
        return discounted(standard, BATCH_DISCOUNT, f"{standard.source}, batch"), basis


def build_catalog(
    overrides: Iterable[ModelSpec] = (),
    gguf_files: Mapping[str, Path] | None = None,
    prices: PriceTable | None = None,
) -> Catalog:
    """The built-in models, then the routing file's aliases, then its GGUF files on top.

    An alias that names a built-in (in any case) replaces it in place and keeps its other
    spellings ("Claude Sonnet" still means sonnet); a missing context window is taken from
    the model it replaces or from genai-prices.
    """
    prices = prices or PriceTable()
    models = {spec.name: spec for spec in BUILTIN_MODELS}
    for spec in overrides:
        key = next((k for k in models if k.casefold() == spec.name.casefold()), spec.name)
        old = models.get(key)
        synonyms = tuple(dict.fromkeys((*spec.synonyms, *(old.synonyms if old else ()))))
        window = spec.context_window
        if window is None and old is not None and old.model_id == spec.model_id:
            window = old.context_window
        if window is None and not spec.local:
            window = prices.lookup(spec.provider.value, spec.model_id).context_window
        models[key] = replace(spec, name=key, synonyms=synonyms, context_window=window)
    for name, path in (gguf_files or {}).items():
        key = next((k for k in models if k.casefold() == name.casefold()), name)
        base = models.get(key) or ModelSpec(key, Provider.LLAMACPP, key, Api.LOCAL)
        models[key] = replace(base, provider=Provider.LLAMACPP, gguf_path=path, api=Api.LOCAL)
    return Catalog(models, prices=prices)

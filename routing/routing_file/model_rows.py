"""The routing file's model rows: the Model Aliases table (provider, id, endpoint, window,
price) and the Local Model Files table (GGUF paths), and the catalog they make.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from cortexd.routing.catalog import BUILTIN_MODELS, Api, Catalog, ModelSpec, Provider, build_catalog
from cortexd.routing.errors import Problem
from cortexd.routing.names import nearest, normalize
from cortexd.routing.price_table import PriceTable
from cortexd.routing.prices import Price, Pricing, default_pricing, read_pricing
from cortexd.routing.routing_file import cells
from cortexd.routing.routing_file.markdown_tables import Row
from cortexd.routing.routing_file.sections import Sheet
from cortexd.routing.table import AliasEntry
from cortexd.routing.urls import redact_url

#: Values of a request's model field that mean "route it": no alias may take them.
RESERVED_NAMES = frozenset({"auto", "default", "cortex", "cortex-auto"})


_PROVIDER_NAMES = {
    "anthropic": Provider.ANTHROPIC,
    "claude": Provider.ANTHROPIC,
    "openai": Provider.OPENAI,
    "ollama": Provider.OLLAMA,
    "llamacpp": Provider.LLAMACPP,
    "llama.cpp": Provider.LLAMACPP,
    "llama-cpp": Provider.LLAMACPP,
    "llama cpp": Provider.LLAMACPP,
}


def catalog_of(
    aliases: Sequence[AliasEntry], files: Mapping[str, Path], prices: PriceTable | None = None
) -> Catalog:
    specs = [spec for spec in map(_alias_spec, aliases) if spec is not None]
    return build_catalog(specs, files, prices)


def _alias_spec(entry: AliasEntry) -> ModelSpec | None:
    provider = _PROVIDER_NAMES.get(normalize(entry.provider))
    if provider is None:
        return None
    if provider.local:
        api = Api.LOCAL
    elif provider is Provider.ANTHROPIC:
        api = Api.MESSAGES
    else:
        api = Api.RESPONSES if "codex" in entry.model_id.casefold() else Api.CHAT
    return ModelSpec(
        entry.alias,
        provider,
        entry.model_id,
        api,
        context_window=entry.context_window,
        base_url=entry.base_url,
        pricing=entry.pricing,
    )


def aliases(sheet: Sheet) -> tuple[AliasEntry, ...]:
    entries: list[AliasEntry] = []
    seen: dict[str, int] = {}
    for row, v in sheet.rows:
        alias = v["alias"].strip()
        if not alias:
            sheet.problem(row, "?", "empty alias", "alias")
            continue
        if normalize(alias) in RESERVED_NAMES or normalize(alias).startswith("task:"):
            sheet.problem(row, alias, f"'{alias}' is reserved (a request's model field uses it)")
            continue
        if normalize(alias) in seen:
            sheet.problem(row, alias, f"duplicate alias (first on line {seen[normalize(alias)]})")
            continue
        seen[normalize(alias)] = row.line
        if normalize(v["provider"]) not in _PROVIDER_NAMES:
            sheet.problem(
                row,
                alias,
                f"unknown provider '{v['provider']}'",
                "provider",
                nearest(v["provider"], ["anthropic", "openai", "ollama", "llamacpp"]),
            )
            continue
        if not v["model"].strip():
            sheet.problem(row, alias, "empty model id", "model")
            continue
        url = v.get("url", "").strip() or None
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                sheet.problem(row, alias, f"'{redact_url(url)}' is not an http(s) URL", "url")
                continue
        window = None
        if v.get("window", "").strip():
            window = sheet.read(row, alias, "window", v["window"], cells.token_count)
            if window is None:
                continue
        provider = normalize(v["provider"])
        pricing = _pricing(sheet, row, alias, _PROVIDER_NAMES[provider], v.get("price", ""), url)
        if pricing is None:
            continue
        entry = AliasEntry(alias, provider, v["model"].strip(), row.line, url, window, pricing)
        entries.append(entry)
    return tuple(entries)


def _price_cell(cell: str) -> Pricing | None:
    try:
        return read_pricing(cell)
    except ValueError as exc:
        raise cells.CellError(str(exc)) from None


def _pricing(
    sheet: Sheet, row: Row, alias: str, provider: Provider, cell: str, url: str | None
) -> Pricing | None:
    """The Price cell, else list price at the provider's own API and unknown elsewhere; None
    when the cell is wrong (reported)."""
    if not cell.strip():
        return default_pricing(provider.value, url)
    given = sheet.read(row, alias, "price", cell, _price_cell)
    if given is None:
        return None
    if provider.local and not (
        isinstance(given, Price) and given.output_mtok == given.input_mtok == 0
    ):
        sheet.problem(row, alias, "a local model costs nothing: leave the price empty", "price")
        return None
    return given


def shared_model_ids(sheet: Sheet, aliases: Sequence[AliasEntry], catalog: Catalog) -> None:
    """An alias whose model id another model has too, while no model is named by that id,
    makes the id mean two models: an error on each alias row that shares it. (An id that is
    also a model's name is not ambiguous: the name wins, see `Catalog`.)"""
    rows = {normalize(a.alias): a for a in aliases}
    for names in catalog.shared_ids().values():
        for name in names:
            entry = rows.get(normalize(name))
            if entry is None:
                continue  # a built-in model: its side is reported on the file's rows
            others = ", ".join(
                f"'{n}' (line {rows[normalize(n)].line})"
                if normalize(n) in rows
                else f"'{n}' (built in)"
                for n in names
                if n != name
            )
            sheet.problems.append(
                Problem(
                    entry.line,
                    f"model id '{entry.model_id}' is also that of {others}: a request for "
                    f"it could mean either (name one of them '{entry.model_id}')",
                    section=sheet.section.title,
                    row=entry.alias,
                    column="Model ID",
                )
            )


def local_files(sheet: Sheet, base_dir: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for row, v in sheet.rows:
        name, raw = v["model"].strip(), v["path"].strip()
        if not name or not raw:
            sheet.problem(row, name or "?", "a local model file needs both a name and a path")
            continue
        builtin = next((b for b in BUILTIN_MODELS if normalize(b.name) == normalize(name)), None)
        if builtin is not None and not builtin.local:
            message = f"'{name}' is a cloud model; give the GGUF model a name of its own"
            sheet.problem(row, name, message, "model")
            continue
        path = Path(raw).expanduser()
        path = path if path.is_absolute() else base_dir / path
        if not path.is_file():
            sheet.problem(
                row,
                name,
                f"GGUF file '{path}' not found; the model stays off until it exists",
                "path",
                severity="warning",
            )
        files[name] = path
    return files

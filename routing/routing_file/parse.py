"""Load and validate the user's routing file (Markdown) into a `RoutingTable`.

Sections are found by their heading, columns by their header name (any order, any case);
everything else in the file is the user's prose and is ignored. Every problem is collected
with its line, section, row and column, and all of them are raised together.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from cortexd.routing.catalog import BUILTIN_MODELS, Api, Catalog, ModelSpec, Provider, build_catalog
from cortexd.routing.errors import Problem, RoutingFileError
from cortexd.routing.names import loose, nearest, normalize
from cortexd.routing.price_table import PriceTable
from cortexd.routing.prices import Price, Pricing, default_pricing, read_pricing
from cortexd.routing.routing_file import cells
from cortexd.routing.routing_file.hedging import (
    Hedging,
    HedgingSettingError,
    parse_hedging,
    row_hedging,
)
from cortexd.routing.routing_file.markdown_tables import Document, Row, Table, parse_document
from cortexd.routing.routing_file.workflow import read_workflow
from cortexd.routing.table import (
    EMBEDDINGS_TASK,
    AliasEntry,
    Budget,
    BudgetPolicy,
    CrossCheck,
    LocalRoute,
    Mode,
    ProviderEntry,
    Route,
    RoutingTable,
    Toggle,
)
from cortexd.routing.urls import redact_url

T = TypeVar("T")

#: A routing file is a page or two of tables; a much larger file is a mistake (or hostile),
#: and parsing megabytes of Markdown would stall a reload for seconds.
MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Column:
    key: str
    names: tuple[str, ...]
    required: bool = False


@dataclass(frozen=True)
class Section:
    title: str
    heading: re.Pattern[str]
    columns: tuple[Column, ...]


def _section(title: str, pattern: str, *columns: Column) -> Section:
    return Section(title, re.compile(pattern, re.IGNORECASE), columns)


_TASK = Column("task", ("task type", "task", "task types"), required=True)

# Order matters: the first section whose heading pattern matches takes the table.
SECTIONS: tuple[Section, ...] = (
    _section(
        "Local Model Files",
        r"\blocal model files?\b|\bgguf\b",
        Column("model", ("model", "local model", "name"), True),
        Column("path", ("file", "path", "gguf file", "gguf", "model file"), True),
    ),
    _section(
        "Routing Table",
        r"\brouting table\b",
        _TASK,
        Column("primary", ("primary", "primary model"), True),
        Column("fallback", ("fallback", "fallbacks", "fallback model", "fallback chain")),
        Column("notes", ("notes", "note", "why")),
        Column("local_only", ("local only", "private", "privacy")),
        Column("hedging", ("hedging", "hedge")),
        Column("provider_batch", ("batch api", "provider batch", "batch")),
    ),
    _section(
        "Model Aliases",
        r"\b(model )?aliases\b",
        Column("alias", ("alias", "name"), True),
        Column("provider", ("provider",), True),
        Column("model", ("model id", "model", "id"), True),
        Column("url", ("base url", "url", "endpoint")),
        Column("window", ("context window", "context")),
        Column("price", ("price", "prices", "cost", "usd per mtok", "price per mtok")),
    ),
    _section(
        "Local Models",
        r"\blocal models?\b",
        _TASK,
        Column("model", ("local model", "model"), True),
        Column("fallback", ("cloud fallback", "fallback")),
        Column("toggle", ("enabled", "mode", "use", "active")),
    ),
    _section(
        "Available Providers",
        r"^\W*(available )?providers\b",
        Column("name", ("provider", "name"), True),
        Column("models", ("models",)),
        Column("api", ("api", "endpoint", "address")),
        Column("notes", ("notes", "note")),
    ),
    _section(
        "Coding Workflow",
        r"\bworkflow\b",
        Column("scenario", ("scenario", "situation", "when"), True),
        Column("tool", ("tool", "model", "use"), True),
        Column("why", ("why", "notes")),
    ),
    _section(
        "Budgets",
        r"\bbudgets?\b",
        Column("scope", ("provider", "scope", "budget"), True),
        Column("limit", ("monthly limit", "limit", "monthly", "amount"), True),
        Column("thresholds", ("alerts", "alert thresholds", "thresholds", "alert at")),
        Column("policy", ("at 100%", "at limit", "policy", "when exceeded", "action")),
    ),
    _section(
        "Cross-Validation",
        r"\bcross[- ]?validation\b|\bsecond opinions?\b",
        _TASK,
        Column("model", ("second opinion", "second opinion model", "model"), True),
    ),
)

SECTIONS_BY_TITLE = {s.title: s for s in SECTIONS}
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
_BUDGET_SCOPES = ("anthropic", "openai", "total")
_POLICY_SYNONYMS = {
    "keep going": BudgetPolicy.CONTINUE,
    "warn": BudgetPolicy.CONTINUE,
    "alert only": BudgetPolicy.CONTINUE,
    "use fallback": BudgetPolicy.FALLBACK,
    "local only": BudgetPolicy.LOCAL,
    "go local": BudgetPolicy.LOCAL,
    "block": BudgetPolicy.REFUSE,
    "stop": BudgetPolicy.REFUSE,
}
# A host is localhost, an IP address or a dotted name: "Tried at 10:30" is not an address.
_HOST = re.compile(
    r"(?:https?://)?(?:localhost|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:]+\]|"
    r"[a-z0-9-]+(?:\.[a-z0-9-]+)+):\d{2,5}\b",
    re.IGNORECASE,
)
_NOTE = re.compile(r"\s*\((?:future|planned|soon|later)[^)]*\)", re.IGNORECASE)


class _Sheet:
    """One section's rows, with cells addressed by column key, reporting into `problems`."""

    def __init__(self, section: Section, tables: Sequence[Table], problems: list[Problem]) -> None:
        self.section = section
        self.problems = problems
        self.rows: list[tuple[Row, dict[str, str]]] = []
        for table in tables:
            index = self._index(table)
            if index is None:
                continue
            for row in table.rows:
                values = {k: row.cells[i] if i < len(row.cells) else "" for k, i in index.items()}
                if any(v.strip() for v in values.values()):
                    self.rows.append((row, values))

    def _index(self, table: Table) -> dict[str, int] | None:
        header = {loose(h): i for i, h in enumerate(table.header)}
        index: dict[str, int] = {}
        missing = False
        for col in self.section.columns:
            pos = next((header[loose(n)] for n in col.names if loose(n) in header), None)
            if pos is not None:
                index[col.key] = pos
            elif col.required:
                missing = True
                near = nearest(col.names[0], table.header, cutoff=0.5)
                if near is not None:
                    message, hint = f"unknown column '{near}'", _heading(col.names[0])
                else:
                    found = ", ".join(table.header) or "none"
                    message, hint = (
                        f"missing column '{_heading(col.names[0])}' (found: {found})",
                        None,
                    )
                self.problems.append(
                    Problem(table.line, message, section=self.section.title, suggestion=hint)
                )
        return None if missing else index

    def read(
        self, row: Row, label: str, column: str, value: str, reader: Callable[[str], T]
    ) -> T | None:
        """Apply `reader` to a cell; a `CellError` becomes a located problem and None."""
        try:
            return reader(value)
        except cells.CellError as exc:
            self.problems.append(
                Problem(
                    row.line,
                    str(exc),
                    section=self.section.title,
                    row=label,
                    column=self._title(column),
                    suggestion=exc.suggestion,
                )
            )
            return None

    def problem(
        self,
        row: Row,
        label: str,
        message: str,
        column: str | None = None,
        suggestion: str | None = None,
        severity: str = "error",
    ) -> None:
        self.problems.append(
            Problem(
                row.line,
                message,
                section=self.section.title,
                row=label,
                column=self._title(column) if column else None,
                suggestion=suggestion,
                severity=severity,
            )
        )

    def _title(self, key: str) -> str:
        col = next(c for c in self.section.columns if c.key == key)
        return _heading(col.names[0])


def _heading(name: str) -> str:
    """A column's name as a heading says it.

    >>> _heading("batch api"), _heading("base url"), _heading("task type")
    ('Batch API', 'Base URL', 'Task Type')
    """
    return " ".join(w.upper() if w in ("api", "url", "id") else w.title() for w in name.split())


def load_routing_file(path: str | Path) -> RoutingTable:
    """Read, parse and validate a routing file; raises `RoutingFileError` with every problem."""
    return load_routing_file_with_digest(path)[0]


def load_routing_file_with_digest(path: str | Path) -> tuple[RoutingTable, str]:
    """`load_routing_file`, and the sha256 of the very bytes the table was parsed from (a
    change proposed on this table is applied only to a file that still holds them)."""
    path = Path(path).expanduser()
    try:
        with path.open("rb") as handle:  # devices and pipes report no size: read a bounded amount
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES // 1024
            message = f"the file is over {limit} KiB; a routing file that large is refused"
            raise RoutingFileError(path, [Problem(0, message)])
        text = data.decode("utf-8-sig")
    except FileNotFoundError as exc:
        raise RoutingFileError(path, [Problem(0, "the routing file does not exist")]) from exc
    except UnicodeDecodeError as exc:
        raise RoutingFileError(path, [Problem(0, f"not UTF-8 text ({exc.reason})")]) from exc
    except OSError as exc:
        raise RoutingFileError(path, [Problem(0, f"cannot read it: {exc.strerror}")]) from exc
    table = parse_routing_text(text, source=str(path), base_dir=path.parent)
    return table, hashlib.sha256(data).hexdigest()


def parse_routing_text(
    text: str, source: str = "<routing file>", base_dir: Path | None = None
) -> RoutingTable:
    """Parse routing-file text; relative GGUF paths are taken relative to `base_dir`."""
    doc = parse_document(text)
    problems: list[Problem] = []
    sheets = _sheets(doc, problems)
    aliases = _aliases(sheets["Model Aliases"])
    files = _local_files(sheets["Local Model Files"], base_dir or Path.cwd())
    catalog = _catalog(aliases, files)
    _shared_model_ids(sheets["Model Aliases"], aliases, catalog)
    routes = _routes(sheets["Routing Table"], catalog)
    if not sheets["Routing Table"].rows and not any(p.section == "Routing Table" for p in problems):
        problems.append(_missing_routing_table(doc))
    local = _local_routes(sheets["Local Models"], catalog, routes)
    workflow = read_workflow(
        sheets["Coding Workflow"].rows, catalog, sheets["Coding Workflow"].problem
    )
    table = RoutingTable(
        source=source,
        mode=_mode(doc, problems),
        hedging=_hedging(doc, problems),
        routes=routes,
        local=local,
        providers=_providers(sheets["Available Providers"]),
        workflow=workflow,
        aliases=aliases,
        local_files=files,
        budgets=_budgets(sheets["Budgets"]),
        ollama_host=_ollama_host(sheets["Available Providers"]),
        warnings=tuple(p for p in problems if p.severity != "error"),
    )
    # Cross-validation rows name task types, which the table itself knows best.
    checks = _cross_checks(sheets["Cross-Validation"], catalog, table.task_types())
    table = replace(table, cross_validation=checks)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise RoutingFileError(source, sorted(errors, key=lambda p: p.line))
    return table


def _missing_routing_table(doc: Document) -> Problem:
    routing = SECTIONS_BY_TITLE["Routing Table"].heading
    heading = next(((t, n) for t, n in doc.headings if routing.search(t)), None)
    if heading is not None:
        return Problem(heading[1], f"the heading '{heading[0]}' has no table with rows under it")
    return Problem(
        0,
        "no 'Routing Table' section was found "
        "(a heading containing 'Routing Table' followed by a table)",
    )


def catalog_for(table: RoutingTable, prices: PriceTable | None = None) -> Catalog:
    """The model catalog as this routing file defines it (built-ins plus its aliases and
    files), priced from `prices` (genai-prices in this process when None)."""
    return _catalog(table.aliases, table.local_files, prices)


def _catalog(
    aliases: Sequence[AliasEntry], files: Mapping[str, Path], prices: PriceTable | None = None
) -> Catalog:
    specs = [spec for spec in map(_alias_spec, aliases) if spec is not None]
    return build_catalog(specs, files, prices)


def _sheets(doc: Document, problems: list[Problem]) -> dict[str, _Sheet]:
    grouped: dict[str, list[Table]] = {s.title: [] for s in SECTIONS}
    for table in doc.tables:
        section = next((s for s in SECTIONS if s.heading.search(table.heading)), None)
        if section is not None:
            grouped[section.title].append(table)
    return {s.title: _Sheet(s, grouped[s.title], problems) for s in SECTIONS}


def _row_hedging(cell: str) -> tuple[bool | None]:
    """The row's Hedging cell, boxed: `Sheet.read` says None for a cell it could not read."""
    try:
        return (row_hedging(cell),)
    except HedgingSettingError as exc:
        raise cells.CellError(str(exc)) from None


def _hedging(doc: Document, problems: list[Problem]) -> Hedging:
    field = next((f for f in doc.fields if normalize(f.key) == "hedging"), None)
    if field is None:
        return Hedging()
    try:
        return parse_hedging(field.value, field.line)
    except HedgingSettingError as exc:
        problems.append(Problem(field.line, str(exc), section="Hedging"))
        return Hedging()


def _mode(doc: Document, problems: list[Problem]) -> Mode:
    field = next((f for f in doc.fields if normalize(f.key) == "mode"), None)
    if field is None:
        return Mode.STATIC_WITH_OVERRIDE
    try:
        return cells.choice(field.value, Mode)
    except cells.CellError as exc:
        problems.append(
            Problem(
                field.line,
                f"unknown mode '{field.value}'",
                section="Mode",
                suggestion=exc.suggestion,
            )
        )
        return Mode.STATIC_WITH_OVERRIDE


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


def _aliases(sheet: _Sheet) -> tuple[AliasEntry, ...]:
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
    sheet: _Sheet, row: Row, alias: str, provider: Provider, cell: str, url: str | None
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


def _shared_model_ids(sheet: _Sheet, aliases: Sequence[AliasEntry], catalog: Catalog) -> None:
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


def _local_files(sheet: _Sheet, base_dir: Path) -> dict[str, Path]:
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


def _routes(sheet: _Sheet, catalog: Catalog) -> dict[str, Route]:
    routes: dict[str, Route] = {}
    seen: dict[str, Route] = {}
    for row, v in sheet.rows:
        task = v["task"].strip()
        if not task:
            sheet.problem(row, "?", "empty task type", "task")
            continue
        if loose(task) in seen:
            sheet.problem(
                row,
                task,
                f"duplicate task type (first defined on line {seen[loose(task)].line})",
                "task",
            )
            continue
        primary = sheet.read(
            row, task, "primary", v["primary"], lambda c: cells.model_chain(c, catalog)
        )
        if primary == ():
            sheet.problem(row, task, "no primary model", "primary")
            continue
        fallback = sheet.read(
            row, task, "fallback", v.get("fallback", ""), lambda c: cells.model_chain(c, catalog)
        )
        local_only = sheet.read(row, task, "local_only", v.get("local_only", ""), cells.yes_no)
        hedge = sheet.read(row, task, "hedging", v.get("hedging", ""), _row_hedging)
        batch = sheet.read(row, task, "provider_batch", v.get("provider_batch", ""), cells.yes_no)
        if None in (primary, fallback, local_only, hedge, batch):
            continue
        assert primary is not None and fallback is not None and hedge is not None
        chain = tuple(dict.fromkeys((*primary, *fallback)))
        notes = v.get("notes", "").strip()
        route = Route(task, chain, row.line, notes, bool(local_only), hedge[0], bool(batch))
        routes[task] = seen[loose(task)] = route
    return routes


def _local_routes(
    sheet: _Sheet, catalog: Catalog, routes: dict[str, Route]
) -> dict[str, LocalRoute]:
    local: dict[str, LocalRoute] = {}
    seen: set[str] = set()
    spelled = {loose(t): t for t in routes}
    for row, v in sheet.rows:
        task = v["task"].strip()
        if not task:
            sheet.problem(row, "?", "empty task type", "task")
            continue
        if loose(task) in seen:
            sheet.problem(row, task, "duplicate task type in the local table", "task")
            continue
        seen.add(loose(task))
        models = sheet.read(row, task, "model", v["model"], lambda c: cells.model_chain(c, catalog))
        fallback = sheet.read(
            row, task, "fallback", v.get("fallback", ""), lambda c: cells.model_chain(c, catalog)
        )
        toggle = sheet.read(
            row,
            task,
            "toggle",
            v.get("toggle", "") or "auto",
            lambda c: cells.choice(
                c, Toggle, {"yes": Toggle.ON, "no": Toggle.OFF, "forced on": Toggle.ON}
            ),
        )
        if models is None or fallback is None or toggle is None:
            continue
        if len(models) != 1:
            sheet.problem(row, task, "the local model must be exactly one model", "model")
            continue
        spec = catalog.resolve(models[0])
        if spec is not None and not spec.local:
            sheet.problem(row, task, f"'{models[0]}' is a cloud model, not a local one", "model")
            continue
        if normalize(task) == normalize(EMBEDDINGS_TASK):
            task = EMBEDDINGS_TASK
        # One task type, one spelling: the Routing Table's, if it has the row.
        task = spelled.get(loose(task), task)
        local[task] = LocalRoute(task, models[0], fallback, row.line, toggle)
    return local


def _providers(sheet: _Sheet) -> tuple[ProviderEntry, ...]:
    return tuple(
        ProviderEntry(
            _NOTE.sub("", v["name"]).strip(),
            v.get("models", ""),
            v.get("api", ""),
            v.get("notes", ""),
            row.line,
        )
        for row, v in sheet.rows
    )


def _ollama_host(sheet: _Sheet) -> str | None:
    for _row, v in sheet.rows:
        if re.search(r"local|ollama", v["name"] + " " + v.get("models", ""), re.IGNORECASE):
            for value in v.values():
                m = _HOST.search(value)
                if m:
                    host = m.group(0)
                    return host if "://" in host else f"http://{host}"
    return None


def _budgets(sheet: _Sheet) -> dict[str, Budget]:
    budgets: dict[str, Budget] = {}
    for row, v in sheet.rows:
        scope = normalize(v["scope"])
        scope = {"all": "total", "overall": "total", "claude": "anthropic"}.get(scope, scope)
        if scope not in _BUDGET_SCOPES:
            sheet.problem(
                row,
                v["scope"],
                f"unknown budget scope '{v['scope']}' (a provider or 'total')",
                "scope",
                nearest(scope, _BUDGET_SCOPES),
            )
            continue
        if scope in budgets:
            sheet.problem(row, scope, f"duplicate budget (first on line {budgets[scope].line})")
            continue
        limit = sheet.read(row, scope, "limit", v["limit"], cells.money)
        marks = sheet.read(
            row, scope, "thresholds", v.get("thresholds") or "50%, 80%, 100%", cells.thresholds
        )
        policy = sheet.read(
            row,
            scope,
            "policy",
            v.get("policy") or "continue",
            lambda c: cells.choice(c, BudgetPolicy, _POLICY_SYNONYMS),
        )
        if limit is not None and marks is not None and policy is not None:
            budgets[scope] = Budget(scope, limit, marks, policy, row.line)
    return budgets


def _cross_checks(sheet: _Sheet, catalog: Catalog, known: list[str]) -> dict[str, CrossCheck]:
    checks: dict[str, CrossCheck] = {}
    by_key = {loose(t): t for t in reversed(known)}
    for row, v in sheet.rows:
        task = by_key.get(loose(v["task"]))
        if task is None:
            sheet.problem(
                row,
                v["task"],
                f"unknown task type '{v['task']}'",
                "task",
                nearest(v["task"], known),
            )
            continue
        models = sheet.read(row, task, "model", v["model"], lambda c: cells.model_chain(c, catalog))
        if models is None:
            continue
        if len(models) != 1:
            sheet.problem(row, task, "name exactly one second-opinion model", "model")
            continue
        checks[task] = CrossCheck(task, models[0], row.line)
    return checks

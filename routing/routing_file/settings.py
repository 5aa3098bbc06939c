"""The routing file's settings: the **Mode** and **Hedging** lines, the Available Providers
table (and Ollama's address in it) and the Budgets table.
"""

from __future__ import annotations

import re

from cortexd.routing.errors import Problem
from cortexd.routing.names import nearest, normalize
from cortexd.routing.routing_file import cells
from cortexd.routing.routing_file.hedging import Hedging, HedgingSettingError, parse_hedging
from cortexd.routing.routing_file.markdown_tables import Document
from cortexd.routing.routing_file.sections import Sheet
from cortexd.routing.table import Budget, BudgetPolicy, Mode, ProviderEntry

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


def hedging(doc: Document, problems: list[Problem]) -> Hedging:
    field = next((f for f in doc.fields if normalize(f.key) == "hedging"), None)
    if field is None:
        return Hedging()
    try:
        return parse_hedging(field.value, field.line)
    except HedgingSettingError as exc:
        problems.append(Problem(field.line, str(exc), section="Hedging"))
        return Hedging()


def mode(doc: Document, problems: list[Problem]) -> Mode:
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


def providers(sheet: Sheet) -> tuple[ProviderEntry, ...]:
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


def ollama_host(sheet: Sheet) -> str | None:
    for _row, v in sheet.rows:
        if re.search(r"local|ollama", v["name"] + " " + v.get("models", ""), re.IGNORECASE):
            for value in v.values():
                m = _HOST.search(value)
                if m:
                    host = m.group(0)
                    return host if "://" in host else f"http://{host}"
    return None


def budgets(sheet: Sheet) -> dict[str, Budget]:
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

"""The routing file's route rows: the Routing Table (a task type's chain), the Local
Models table (a local row and its cloud fallback) and the Cross-Validation table.
"""

from __future__ import annotations

from cortexd.routing.catalog import Catalog
from cortexd.routing.names import loose, nearest, normalize
from cortexd.routing.routing_file import cells
from cortexd.routing.routing_file.hedging import HedgingSettingError, row_hedging
from cortexd.routing.routing_file.sections import Sheet
from cortexd.routing.table import EMBEDDINGS_TASK, CrossCheck, LocalRoute, Route, Toggle


def _row_hedging(cell: str) -> tuple[bool | None]:
    """The row's Hedging cell, boxed: `Sheet.read` says None for a cell it could not read."""
    try:
        return (row_hedging(cell),)
    except HedgingSettingError as exc:
        raise cells.CellError(str(exc)) from None


def routes(sheet: Sheet, catalog: Catalog) -> dict[str, Route]:
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


def local_routes(sheet: Sheet, catalog: Catalog, routes: dict[str, Route]) -> dict[str, LocalRoute]:
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


def cross_checks(sheet: Sheet, catalog: Catalog, known: list[str]) -> dict[str, CrossCheck]:
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

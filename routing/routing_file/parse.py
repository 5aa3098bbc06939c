"""Load and validate the user's routing file (Markdown) into a `RoutingTable`.

Sections are found by their heading, columns by their header name (any order, any case);
everything else in the file is the user's prose and is ignored. Every problem is collected
with its line, section, row and column, and all of them are raised together.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from cortexd.routing.catalog import Catalog
from cortexd.routing.errors import Problem, RoutingFileError
from cortexd.routing.price_table import PriceTable
from cortexd.routing.routing_file import model_rows, route_rows, sections, settings
from cortexd.routing.routing_file.markdown_tables import Document, parse_document
from cortexd.routing.routing_file.sections import SECTIONS_BY_TITLE
from cortexd.routing.routing_file.workflow import read_workflow
from cortexd.routing.table import RoutingTable

#: A routing file is a page or two of tables; a much larger file is a mistake (or hostile),
#: and parsing megabytes of Markdown would stall a reload for seconds.
MAX_FILE_BYTES = 1024 * 1024


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
    sheets = sections.sheets(doc, problems)
    aliases = model_rows.aliases(sheets["Model Aliases"])
    files = model_rows.local_files(sheets["Local Model Files"], base_dir or Path.cwd())
    catalog = model_rows.catalog_of(aliases, files)
    model_rows.shared_model_ids(sheets["Model Aliases"], aliases, catalog)
    routes = route_rows.routes(sheets["Routing Table"], catalog)
    if not sheets["Routing Table"].rows and not any(p.section == "Routing Table" for p in problems):
        problems.append(_missing_routing_table(doc))
    local = route_rows.local_routes(sheets["Local Models"], catalog, routes)
    workflow = read_workflow(
        sheets["Coding Workflow"].rows, catalog, sheets["Coding Workflow"].problem
    )
    table = RoutingTable(
        source=source,
        mode=settings.mode(doc, problems),
        hedging=settings.hedging(doc, problems),
        routes=routes,
        local=local,
        providers=settings.providers(sheets["Available Providers"]),
        workflow=workflow,
        aliases=aliases,
        local_files=files,
        budgets=settings.budgets(sheets["Budgets"]),
        ollama_host=settings.ollama_host(sheets["Available Providers"]),
        warnings=tuple(p for p in problems if p.severity != "error"),
    )
    # Cross-validation rows name task types, which the table itself knows best.
    checks = route_rows.cross_checks(sheets["Cross-Validation"], catalog, table.task_types())
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
    return model_rows.catalog_of(table.aliases, table.local_files, prices)

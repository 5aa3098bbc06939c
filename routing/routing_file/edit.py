"""Editing the user's routing file in place: only the cells that must change.

The routing file is the user's document: a change (a proposal applied, a budget set) rewrites
the cells it names and the ``**Last updated**`` date, and leaves every other byte as it was —
prose, spacing, alignment, emphasis elsewhere, line endings.
"""

from __future__ import annotations

import datetime
import difflib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from cortexd.errors import CortexError
from cortexd.routing.catalog import Catalog, build_catalog
from cortexd.routing.errors import RoutingFileError
from cortexd.routing.names import NO_FALLBACK, loose, nearest, normalize
from cortexd.routing.routing_file import cells
from cortexd.routing.routing_file.markdown_tables import Document, Row, Table, parse_document
from cortexd.routing.routing_file.parse import catalog_for, parse_routing_text
from cortexd.routing.routing_file.sections import SECTIONS, SECTIONS_BY_TITLE, Section
from cortexd.routing.table import RoutingTable


class EditError(CortexError):
    """The routing file cannot be edited as asked (the row or column is gone, the cell
    changed since the proposal was made, the result would not load)."""


@dataclass(frozen=True)
class CellChange:
    """One cell to rewrite: in `section` (a title of `routing_file.SECTIONS`, e.g.
    ``Routing Table``), the row whose key cell (the section's first column: task type,
    scope, …) reads `row`, the column with key `column` (e.g. ``primary``), from `old` to
    `new`. `old` is what the cell reads now, compared loosely (case, spaces, emphasis)."""

    section: str
    row: str
    column: str
    old: str
    new: str


_EOL = re.compile(r"(\r\n|\r|\n)")  # the line breaks markdown-it counts lines by
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
# Budget scopes, and the synonyms routing_file's `_budgets` reads as them.
_SCOPES = ("anthropic", "openai", "total")
_SCOPE_SYNONYMS = {"all": "total", "overall": "total", "claude": "anthropic"}
_NEW_BUDGET = {"thresholds": "50%, 80%, 100%", "policy": "continue"}
#: Columns that name models: compared as model chains, so an alias and its id are one.
_MODEL_COLUMNS = frozenset({"primary", "fallback", "model", "tool"})


def apply_changes(text: str, changes: Sequence[CellChange], *, today: datetime.date) -> str:
    """`text` (a routing file) with each change's cell rewritten and ``Last updated`` set to
    `today`, every other byte kept; an empty list changes nothing. Raises `EditError` when a
    section, row or column is missing, a cell no longer reads its `old`, two changes name
    one cell, or the edited file would not load."""
    if not changes:
        return text
    edited = _bump_date(_rewrite(text, changes), today)
    _load(edited)
    return edited


def set_budget(text: str, scope: str, amount: Decimal, *, today: datetime.date) -> str:
    """`text` with a monthly limit of `amount` USD for `scope` (anthropic, openai or total):
    the scope's Budgets row updated, else a row added to the Budgets table in its style, else
    a Budgets section appended to the file. ``Last updated`` is set to `today`."""
    key = _SCOPE_SYNONYMS.get(normalize(scope), normalize(scope))
    if key not in _SCOPES:
        raise EditError(f"unknown budget scope '{scope}' (one of: {', '.join(_SCOPES)})")
    if not amount.is_finite() or amount <= 0:
        raise EditError(f"a monthly limit must be an amount over $0, not {amount}")
    limit, section = _dollars(amount), SECTIONS_BY_TITLE["Budgets"]
    tables = _tables(parse_document(text), section)
    if found := _rows(tables, section, key):
        table, row, _ = found[0]
        index = _index(table, section, "limit")
        old = "" if index is None else row.cells[index]  # no such column: _rewrite says so
        edited = _rewrite(text, [CellChange(section.title, key, "limit", old, limit)])
    elif tables:
        values = {"scope": key, "limit": limit, **_NEW_BUDGET}
        edited = _insert_row(text, tables[-1], section, values)
    else:
        edited = _append_section(text, key, limit)
    edited = _bump_date(edited, today)
    budget = _load(edited).budgets.get(key)
    if budget is None or budget.monthly_limit != amount:
        raise EditError(f"the {key} budget would not read {limit} after the edit; set it by hand")
    return edited


def unified_diff(old: str, new: str, path: str) -> str:
    """A unified diff from `old` to `new` labelled ``a/<path>`` and ``b/<path>``, to show a
    change before it is written; empty when nothing changed."""
    diff = difflib.unified_diff(
        old.splitlines(), new.splitlines(), f"a/{path}", f"b/{path}", lineterm=""
    )
    return "".join(line + "\n" for line in diff)


@dataclass
class _Lines:
    """A file as lines and their own endings: joined back, the same bytes (CRLF, a BOM and a
    missing final newline included)."""

    bom: str
    bodies: list[str]
    endings: list[str]

    @classmethod
    def of(cls, text: str) -> _Lines:
        bom = "\ufeff" if text.startswith("\ufeff") else ""
        parts = _EOL.split(text[len(bom) :])
        return cls(bom, parts[0::2], [*parts[1::2], ""])

    def text(self) -> str:
        return self.bom + "".join(b + e for b, e in zip(self.bodies, self.endings, strict=True))

    def eol(self) -> str:
        return next((e for e in self.endings if e), "\n")

    def insert_after(self, number: int, body: str) -> None:
        # The new line takes over the old one's ending, so an unterminated last line stays so.
        ending = self.endings[number - 1]
        self.endings[number - 1] = ending or self.eol()
        self.bodies.insert(number, body)
        self.endings.insert(number, ending)


@dataclass(frozen=True)
class _Target:
    change: CellChange
    title: str  # the column as messages name it
    table: Table
    line: int
    index: int


def _rewrite(text: str, changes: Sequence[CellChange]) -> str:
    doc, lines = parse_document(text), _Lines.of(text)
    catalog = _catalog(text)
    targets: dict[tuple[int, int], tuple[_Target, bool]] = {}
    for change in changes:
        t = _target(doc, change, catalog)
        if (t.line, t.index) in targets:
            raise EditError(f"line {t.line}: two changes set its '{t.title}' cell; keep one")
        # Alignment is judged on the table as it was, before any of its cells grows.
        targets[(t.line, t.index)] = t, _aligned(lines, t.table, t.index)
    for t, aligned in targets.values():
        new = re.sub(r"(?<!\\)\|", r"\\|", t.change.new.strip())  # a bare pipe splits the cell
        lines.bodies[t.line - 1] = _set_cell(lines.bodies[t.line - 1], t.index, new, aligned)
    edited = lines.text()
    # The splitting follows markdown-it's, but a row it cannot follow (a table in a block
    # quote, say) must fail here rather than have the wrong cell rewritten.
    rows = {r.line: r for table in parse_document(edited).tables for r in table.rows}
    for t, _ in targets.values():
        row = rows.get(t.line)
        if row is None or loose(row.cells[t.index]) != loose(t.change.new):
            raise EditError(f"line {t.line}: cannot rewrite its '{t.title}' cell by itself")
    return edited


def _catalog(text: str) -> Catalog:
    # The file's own aliases decide what its cells name: "claude-sonnet-4-5" is sonnet.
    try:
        return catalog_for(parse_routing_text(text))
    except RoutingFileError:
        return build_catalog([], {})


def _same(current: str, old: str, column: str, catalog: Catalog) -> bool:
    """Whether a cell still says `old`: the same text, or the same models in other words."""
    if normalize(current) in NO_FALLBACK and normalize(old) in NO_FALLBACK:
        return True
    if loose(current) == loose(old):
        return True
    if column not in _MODEL_COLUMNS:
        return False
    try:
        return cells.model_chain(current, catalog) == cells.model_chain(old, catalog)
    except cells.CellError:
        return False


def _target(doc: Document, change: CellChange, catalog: Catalog) -> _Target:
    section = next((s for s in SECTIONS if loose(s.title) == loose(change.section)), None)
    if section is None:
        titles = ", ".join(s.title for s in SECTIONS)
        raise EditError(f"unknown section '{change.section}' (one of: {titles})")
    wanted = loose(change.column)
    column = next((c for c in section.columns if wanted in map(loose, (c.key, *c.names))), None)
    if column is None:
        keys = ", ".join(c.key for c in section.columns)
        raise EditError(f"{section.title} has no column '{change.column}' (columns: {keys})")
    tables = _tables(doc, section)
    if not tables:
        raise EditError(f"the routing file has no {section.title} table")
    found = _rows(tables, section, change.row)
    if not found:
        hint = nearest(change.row, [key for _, _, key in _rows(tables, section)])
        did_you_mean = f"; did you mean '{hint}'?" if hint else ""
        raise EditError(f"{section.title} has no row '{change.row}'{did_you_mean}")
    if len(found) > 1:
        lines = ", ".join(str(row.line) for _, row, _ in found)
        raise EditError(f"{section.title} has more than one row '{change.row}' (lines {lines})")
    table, row, _ = found[0]
    index, title = _index(table, section, column.key), column.names[0].title()
    if index is None:
        raise EditError(f"line {table.line}: the {section.title} table has no '{title}' column")
    current = row.cells[index]
    if not _same(current, change.old, column.key, catalog):
        raise EditError(
            f"line {row.line}: {section.title} row '{change.row}', column '{title}' reads "
            f"'{current}' now, not '{change.old}' (the file changed since; read it again)"
        )
    if "\n" in change.new or "\r" in change.new:
        raise EditError(f"the new value for column '{title}' has a line break; a cell cannot")
    return _Target(change, title, table, row.line, index)


def _tables(doc: Document, section: Section) -> list[Table]:
    # A table belongs to the first section whose heading matches, as routing_file reads it.
    owner = (next((s for s in SECTIONS if s.heading.search(t.heading)), None) for t in doc.tables)
    return [t for t, s in zip(doc.tables, owner, strict=True) if s is section]


def _index(table: Table, section: Section, key: str) -> int | None:
    names = next(c.names for c in section.columns if c.key == key)
    header = {loose(h): i for i, h in enumerate(table.header)}
    return next((header[loose(n)] for n in names if loose(n) in header), None)


def _rows(
    tables: list[Table], section: Section, name: str | None = None
) -> list[tuple[Table, Row, str]]:
    """The rows whose key cell (the section's first column) reads `name`, or all of them."""

    def key(value: str) -> str:  # "Claude" is the anthropic budget, as routing_file reads it
        value = normalize(value)
        return loose(_SCOPE_SYNONYMS.get(value, value) if section.title == "Budgets" else value)

    first = section.columns[0].key
    return [
        (t, r, r.cells[i])
        for t in tables
        if (i := _index(t, section, first)) is not None
        for r in t.rows
        if name is None or key(r.cells[i]) == key(name)
    ]


def _spans(body: str) -> list[tuple[int, int]]:
    """Where each cell of a table row sits in its line, split as markdown-it splits it: at
    every pipe not right after a backslash (inside code spans too, as GFM says), less the
    empty ends that outer pipes leave."""
    pipes = [i for i, ch in enumerate(body) if ch == "|" and body[i - 1 : i] != "\\"]
    spans = [(a + 1, b) for a, b in itertools.pairwise([-1, *pipes, len(body)])]
    if spans and not body[slice(*spans[0])].strip():
        spans.pop(0)
    if spans and not body[slice(*spans[-1])].strip():
        spans.pop()
    return spans


def _aligned(lines: _Lines, table: Table, index: int) -> bool:
    """Whether the column sits at the same place on the header and every row: a table laid
    out in columns, whose cells keep their width when rewritten."""
    spans = [_spans(lines.bodies[n - 1]) for n in (table.line, *(r.line for r in table.rows))]
    return all(index < len(s) and s[index] == spans[0][index] for s in spans)


def _set_cell(body: str, index: int, value: str, aligned: bool) -> str:
    spans = _spans(body)
    if index < len(spans):
        start, end = spans[index]
        return body[:start] + _fill(body[start:end], value, aligned) + body[end:]
    # A short row (markdown-it reads the missing cells as empty): add them in its pipe style.
    cells = [""] * (index - len(spans)) + [value]
    end = spans[-1][1] if spans else len(body)
    if end < len(body):  # the row ends with an outer pipe
        return body[: end + 1] + "".join(f" {c} |" for c in cells) + body[end + 1 :]
    return body + "".join(f" | {c}" for c in cells)


def _fill(segment: str, value: str, aligned: bool) -> str:
    """`segment` (the text between two pipes) holding `value`, spaced as before."""
    content = segment.strip()
    if content:
        lead = segment[: len(segment) - len(segment.lstrip())]
        trail = segment[len(lead) + len(content) :]
    else:
        lead, trail = " ", segment[1:] or " "
    cell = lead + value
    if aligned and trail:
        return cell.ljust(len(segment)) if len(cell) < len(segment) else cell + " "
    return cell + trail


def _bump_date(text: str, today: datetime.date) -> str:
    field = next((f for f in parse_document(text).fields if loose(f.key) == "lastupdated"), None)
    if field is None:
        return text  # the user keeps no date: do not add one
    lines = _Lines.of(text)
    body = lines.bodies[field.line - 1]
    start = body.find(":", max(body.casefold().find(field.key.casefold()), 0)) + 1
    match = _DATE.search(body, start)
    if match is not None:
        begin, end = match.span()
    elif field.value and (begin := body.find(field.value, start)) >= 0:
        end = begin + len(field.value)
    else:  # a value we cannot place: leave the line as the user wrote it
        return text
    lines.bodies[field.line - 1] = body[:begin] + today.isoformat() + body[end:]
    return lines.text()


def _dollars(amount: Decimal) -> str:
    whole, _, cents = f"{amount.normalize():f}".partition(".")
    return f"${whole}.{cents.ljust(2, '0')}" if cents else f"${whole}"


def _insert_row(text: str, table: Table, section: Section, values: dict[str, str]) -> str:
    # The new row is the last row (or the header) with every cell replaced: the same outer
    # pipes, indentation, spacing and column widths.
    lines = _Lines.of(text)
    last = table.rows[-1].line if table.rows else table.line
    indexes = {c.key: _index(table, section, c.key) for c in section.columns}
    columns = {i: values.get(key, "") for key, i in indexes.items() if i is not None}
    body = lines.bodies[last - 1]
    for index in reversed(range(max(len(_spans(body)), len(table.header)))):
        body = _set_cell(body, index, columns.get(index, ""), _aligned(lines, table, index))
    lines.insert_after(last if table.rows else last + 1, body)  # no rows: after the |---|
    return lines.text()


def _append_section(text: str, scope: str, limit: str) -> str:
    eol = _Lines.of(text).eol()
    if text and not text.endswith(("\n", "\r")):
        text += eol
    if text.strip() and not text.endswith(eol * 2):
        text += eol
    block = (
        "## Budgets\n\n| Provider | Monthly limit | Alerts | At 100% |\n|---|---|---|---|\n"
        f"| {scope} | {limit} | {_NEW_BUDGET['thresholds']} | {_NEW_BUDGET['policy']} |\n"
    )
    return text + block.replace("\n", eol)


def _load(text: str) -> RoutingTable:
    try:
        return parse_routing_text(text, base_dir=None)
    except RoutingFileError as exc:
        message = f"the edited routing file would not load, so nothing was changed:\n{exc}"
        raise EditError(message) from exc

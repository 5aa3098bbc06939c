"""The routing file's sections: which heading takes a table, which columns it has, and
its rows with cells by column key, every problem reported with its line, row and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from cortexd.routing.errors import Problem
from cortexd.routing.names import loose, nearest
from cortexd.routing.routing_file import cells
from cortexd.routing.routing_file.markdown_tables import Document, Row, Table

T = TypeVar("T")


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


class Sheet:
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
                    message, hint = f"unknown column '{near}'", heading(col.names[0])
                else:
                    found = ", ".join(table.header) or "none"
                    message, hint = (
                        f"missing column '{heading(col.names[0])}' (found: {found})",
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
        return heading(col.names[0])


def heading(name: str) -> str:
    """A column's name as a heading says it.

    >>> heading("batch api"), heading("base url"), heading("task type")
    ('Batch API', 'Base URL', 'Task Type')
    """
    return " ".join(w.upper() if w in ("api", "url", "id") else w.title() for w in name.split())


def sheets(doc: Document, problems: list[Problem]) -> dict[str, Sheet]:
    grouped: dict[str, list[Table]] = {s.title: [] for s in SECTIONS}
    for table in doc.tables:
        section = next((s for s in SECTIONS if s.heading.search(table.heading)), None)
        if section is not None:
            grouped[section.title].append(table)
    return {s.title: Sheet(s, grouped[s.title], problems) for s in SECTIONS}

"""Find the tables of a Markdown document, with their section headings and line numbers.

Uses markdown-it-py (CommonMark + GFM tables), so whatever a Markdown viewer shows as a
table is a table here: with or without outer pipes, any spacing, emphasis in cells.
Cell text is the rendered text, so ``**codex**``, ``*codex*`` and ```codex``` all read
``codex``. Line numbers are 1-based and count the lines of the original file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token


@dataclass(frozen=True)
class Row:
    """One body row: its 1-based line and its cells in column order."""

    line: int
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table and the heading of the section it sits in."""

    heading: str
    heading_line: int
    line: int
    header: tuple[str, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Field:
    """A ``**Key**: value`` line of prose, as the routing file's header block uses."""

    key: str
    value: str
    line: int


@dataclass(frozen=True)
class Document:
    """What the routing file parser needs from a Markdown document."""

    tables: tuple[Table, ...]
    fields: tuple[Field, ...] = field(default=())
    headings: tuple[tuple[str, int], ...] = field(default=())  # (text, line) of every heading


_PLAIN_FIELD = re.compile(r"^\s*([A-Za-z][\w ./-]{0,30}?)\s*:\s+(\S.*)$")
_FIELD = re.compile(
    r"^\s*(?:\*\*|__)?\s*([A-Za-z][\w ./-]*?)\s*(?::\s*(?:\*\*|__)|(?:\*\*|__)\s*:)\s*(.*)$"
)


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def inline_text(token: Token) -> str:
    """The visible text of an inline token: emphasis and code marks dropped, breaks as spaces."""
    parts: list[str] = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()


def parse_document(text: str) -> Document:
    """Parse Markdown text (a leading BOM and CRLF line endings are fine) into tables and fields.

    Fields are read only from the preamble — paragraphs before the first ``##`` heading, as
    in the seed's header block — so prose further down ("- Mode: manual when travelling")
    is never taken for configuration.
    """
    text = text.removeprefix("\ufeff")
    tokens = _parser().parse(text)
    tables: list[Table] = []
    fields: list[Field] = []
    headings: list[tuple[str, int]] = []
    heading, heading_line = "", 0
    in_preamble = True
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            heading = inline_text(tokens[i + 1])
            heading_line = _line(tok)
            headings.append((heading, heading_line))
            in_preamble = in_preamble and tok.tag == "h1"
            i += 3
            continue
        if tok.type == "paragraph_open" and in_preamble:
            fields.extend(_fields(tokens[i + 1], _line(tok)))
        if tok.type == "table_open":
            table, i = _read_table(tokens, i, heading, heading_line)
            tables.append(table)
            continue
        i += 1
    return Document(tables=tuple(tables), fields=tuple(fields), headings=tuple(headings))


def _line(tok: Token) -> int:
    return tok.map[0] + 1 if tok.map else 0


def _fields(inline: Token, first_line: int) -> list[Field]:
    found = []
    for offset, raw in enumerate(inline.content.splitlines()):
        m = _FIELD.match(raw) or _PLAIN_FIELD.match(raw)
        if m:
            value = re.sub(r"(\*\*|__|`)", "", m.group(2)).strip()
            found.append(Field(key=m.group(1).strip(), value=value, line=first_line + offset))
    return found


def _read_table(
    tokens: Sequence[Token], start: int, heading: str, heading_line: int
) -> tuple[Table, int]:
    header: list[str] = []
    rows: list[Row] = []
    cells: list[str] = []
    row_line = 0
    in_head = False
    i = start + 1
    while tokens[i].type != "table_close":
        tok = tokens[i]
        if tok.type == "thead_open":
            in_head = True
        elif tok.type == "thead_close":
            in_head = False
        elif tok.type == "tr_open":
            cells, row_line = [], _line(tok)
        elif tok.type in ("th_open", "td_open"):
            cells.append(inline_text(tokens[i + 1]))
        elif tok.type == "tr_close":
            if in_head:
                header = cells
            else:
                rows.append(Row(line=row_line, cells=tuple(cells)))
        i += 1
    table = Table(
        heading=heading,
        heading_line=heading_line,
        line=_line(tokens[start]),
        header=tuple(header),
        rows=tuple(rows),
    )
    return table, i + 1

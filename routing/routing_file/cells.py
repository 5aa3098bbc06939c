"""Reading single cells of the routing file: model chains, money, thresholds, switches.

Each reader returns a value or raises `CellError` with a message for the user; the
routing-file parser adds the file, line, section and column.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeVar

from cortexd.errors import CortexError
from cortexd.routing.catalog import Catalog
from cortexd.routing.errors import AmbiguousModelError
from cortexd.routing.names import NO_FALLBACK, nearest, normalize

E = TypeVar("E", bound=StrEnum)


class CellError(CortexError, ValueError):
    """A cell's content is not valid; `suggestion` is the nearest valid value, if any."""

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.suggestion = suggestion


_CHAIN_SPLIT = re.compile(r"\s+/\s+|\s*,\s*|\s*(?:→|->|=>)\s*")


def model_chain(cell: str, catalog: Catalog) -> tuple[str, ...]:
    """A chain of model aliases: ``codex / sonnet`` → ("codex", "sonnet"); "—" → ().

    A bare slash (``codex/sonnet``) splits only when both sides are known models, so that
    model ids containing a slash stay whole. Unknown names raise with the nearest alias.
    """
    text = cell.strip()
    if normalize(text) in NO_FALLBACK:
        return ()
    parts = [p for p in _CHAIN_SPLIT.split(text) if p]
    names: list[str] = []
    for part in parts:
        pieces = part.split("/")
        if len(pieces) > 1 and all(catalog.find(p) for p in pieces):
            names.extend(pieces)
        else:
            names.append(part)
    resolved: list[str] = []
    for name in names:
        try:
            spec = catalog.resolve(name)
        except AmbiguousModelError as exc:
            raise CellError(str(exc)) from None
        if spec is None:
            raise CellError(f"unknown model '{name}'", catalog.suggest(name))
        if spec.name not in resolved:
            resolved.append(spec.name)
    return tuple(resolved)


_MONEY = re.compile(r"^(?:\$|usd\s*)?\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*(?:\$|usd|dollars?)?$")


def money(cell: str) -> Decimal:
    """A monthly limit in USD: ``$50``, ``50 USD``, ``1,000.00``.

    >>> money("$1,250.50")
    Decimal('1250.50')
    """
    m = _MONEY.match(normalize(cell))
    if not m:
        raise CellError(f"'{cell}' is not an amount in USD (write it like $50 or 50 USD)")
    try:
        value = Decimal(m.group(1).replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only digits
        raise CellError(f"'{cell}' is not a number") from exc
    if value <= 0:
        raise CellError("a monthly limit must be more than $0")
    return value


def thresholds(cell: str) -> tuple[int, ...]:
    """Alert thresholds in percent of the limit: ``50%, 80%, 100%`` or ``50 / 80 / 100``.

    >>> thresholds("80%, 50%,100 %")
    (50, 80, 100)
    """
    parts = [p for p in re.split(r"[,/;]|\s+and\s+|\s{2,}", cell) if p.strip()]
    values: set[int] = set()
    for part in parts:
        m = re.fullmatch(r"\s*(\d{1,4})\s*%?\s*", part)
        if not m or not 0 < int(m.group(1)) <= 1000:
            raise CellError(
                f"'{part.strip()}' is not a threshold (write percentages like 50%, 80%)"
            )
        values.add(int(m.group(1)))
    if not values:
        raise CellError("no alert thresholds given (write percentages like 50%, 80%, 100%)")
    return tuple(sorted(values))


def choice(cell: str, enum: type[E], synonyms: dict[str, E] | None = None) -> E:
    """One value of `enum`, by value or synonym, ignoring case; unknown values get a hint."""
    key = normalize(cell)
    table: dict[str, E] = {normalize(e.value): e for e in enum}
    table.update({normalize(k): v for k, v in (synonyms or {}).items()})
    if key in table:
        return table[key]
    options = ", ".join(e.value for e in enum)
    raise CellError(f"'{cell}' is not one of: {options}", nearest(cell, table))


_YES = {"yes", "y", "true", "on", "✓", "✔", "x", "local only", "local-only", "private"}
_NO = {"no", "n", "false", "off", "", "—", "–", "-"}


def yes_no(cell: str) -> bool:
    """A yes/no cell (``yes``, ``✓``, ``no``, empty)."""
    key = normalize(cell)
    if key in _YES:
        return True
    if key in _NO:
        return False
    raise CellError(f"'{cell}' is not yes or no")


def token_count(cell: str) -> int:
    """A context window: ``200000``, ``200,000``, ``200k``, ``1M``.

    >>> token_count("128k"), token_count("1M"), token_count("32,768")
    (128000, 1000000, 32768)
    """
    m = re.fullmatch(r"\s*(\d[\d,_]*(?:\.\d+)?)\s*([km])?\s*(?:tokens?)?\s*", cell, re.IGNORECASE)
    if not m:
        raise CellError(f"'{cell}' is not a token count (write it like 200000 or 200k)")
    value = float(m.group(1).replace(",", "").replace("_", ""))
    value *= {"k": 1_000, "m": 1_000_000}.get((m.group(2) or "").lower(), 1)
    if value < 1:
        raise CellError("a context window must be at least one token")
    return int(value)

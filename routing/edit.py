"""Editing the user's routing file in place: only the cells that must change.

The routing file is the user's document: a change (a proposal applied, a budget set) rewrites
the cells it names and the ``**Last updated**`` date, and leaves every other byte as it was —
prose, spacing, alignment, emphasis elsewhere, line endings.
"""

from __future__ import annotations

from dataclasses import dataclass

from cortexd.errors import CortexError


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

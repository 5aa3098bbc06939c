"""The routing layer's errors: the routing file's problems, unknown models and task types,
no route. They sit in the one tree drawn in cortexd/errors.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cortexd.errors import CortexError as CortexError  # re-exported


@dataclass(frozen=True)
class Problem:
    """One problem in a routing file, located precisely enough to fix it."""

    line: int
    message: str
    section: str | None = None
    row: str | None = None
    column: str | None = None
    suggestion: str | None = None
    severity: str = "error"  # or "warning": reported, but the file still loads

    def describe(self, source: str) -> str:
        where = ""
        if self.section and self.row:
            where = f" in {self.section} row '{self.row}'"
        elif self.section:
            where = f" in {self.section}"
        if self.column:
            where += f", column '{self.column}'"
        hint = f" — did you mean '{self.suggestion}'?" if self.suggestion else ""
        label = "" if self.severity == "error" else f"{self.severity}: "
        at = f"{source}:{self.line}" if self.line > 0 else source  # 0: the file as a whole
        return f"{at}: {label}{self.message}{where}{hint}"


class RoutingFileError(CortexError):
    """The routing file cannot be used; carries every problem found, not only the first."""

    def __init__(self, source: str | Path, problems: Sequence[Problem]) -> None:
        self.source = str(source)
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join("  " + p.describe(self.source) for p in self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{self.source}: {count} {noun} in the routing file:\n{lines}")


class UnknownModelError(CortexError):
    """A request named a model that is neither an alias nor a concrete id we can place."""

    def __init__(self, name: str, suggestion: str | None = None) -> None:
        self.name = name
        self.suggestion = suggestion
        hint = f" — did you mean '{suggestion}'?" if suggestion else ""
        super().__init__(f"unknown model '{name}'{hint}")


class AmbiguousModelError(UnknownModelError):
    """A name that is no model's alias, but the model id of several: it names none of them."""

    def __init__(self, name: str, models: Sequence[str]) -> None:
        self.name = name
        self.models = tuple(models)
        self.suggestion = self.models[0] if self.models else None
        listed = " and ".join(f"'{m}'" for m in self.models)
        CortexError.__init__(
            self, f"model '{name}' is ambiguous: it is the model id of {listed}; name the alias"
        )


class UnknownTaskError(CortexError):
    """A request named a task type that the routing file does not define."""

    def __init__(self, name: str, suggestion: str | None = None) -> None:
        self.name = name
        self.suggestion = suggestion
        hint = f" — did you mean '{suggestion}'?" if suggestion else ""
        super().__init__(f"unknown task type '{name}'{hint}")


class NoRouteError(CortexError):
    """No model may serve this request, for a reason the message states."""

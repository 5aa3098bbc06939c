"""Example prompts per task type, for classification by similarity (classifier/similarity.py).

The package ships a handful per task type (``task_examples.md``); a user adds theirs in
``task-examples.md`` next to the routing file, in the same form: a heading that names a task
type, then one example per bullet (an indented line continues the bullet above it). Other
lines are the user's prose and are ignored. The user's examples are added to the shipped
ones; a heading that names no task type of the routing file is an error with its line.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from cortexd.routing.errors import CortexError, Problem
from cortexd.routing.names import loose, nearest

#: The examples that ship with cortexd (package data of cortexd.routing).
SHIPPED_FILE = "task_examples.md"
#: The user's examples, in the context folder next to the routing file.
TASK_EXAMPLES_FILE = "task-examples.md"
#: Longer examples are cut: the start of a prompt says what is asked.
MAX_EXAMPLE_CHARS = 1000

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])(?:\s+(.*))?$")
_TITLE = loose("Task Examples")


class TaskExamplesError(CortexError):
    """A task examples file cannot be used; carries every problem found, each with its line."""

    def __init__(self, source: str | Path, problems: Iterable[Problem]) -> None:
        self.source = str(source)
        self.problems = tuple(problems)
        lines = "\n".join("  " + p.describe(self.source) for p in self.problems)
        super().__init__(f"{self.source}: problems in the task examples:\n{lines}")


@dataclass(frozen=True)
class TaskExamples:
    """Example prompts by task type (spelled as in the routing file), in file order."""

    by_task: Mapping[str, tuple[str, ...]]

    @property
    def version(self) -> str:
        """A digest of every example: vectors computed for one version serve only that one."""
        digest = hashlib.sha256()
        for task, texts in sorted(self.by_task.items()):
            digest.update(task.encode() + b"\0" + b"\0".join(t.encode() for t in texts) + b"\1")
        return digest.hexdigest()[:16]

    def __len__(self) -> int:
        return sum(len(texts) for texts in self.by_task.values())

    def plus(self, other: TaskExamples) -> TaskExamples:
        """These examples with `other`'s added (duplicates kept once)."""
        merged = {task: list(texts) for task, texts in self.by_task.items()}
        for task, texts in other.by_task.items():
            merged.setdefault(task, []).extend(texts)
        return TaskExamples({t: tuple(dict.fromkeys(texts)) for t, texts in merged.items()})


def parse_task_examples(
    text: str, source: str, task_types: Iterable[str], *, strict: bool = True
) -> TaskExamples:
    """The examples of one file, for the task types of a routing file.

    `strict` (the user's file) makes a heading that names no task type an error; the shipped
    file names every seed task type, and a routing file without one of them drops its examples.

    >>> found = parse_task_examples("## Code review\\n- look at this diff", "x.md", ["Code review"])
    >>> found.by_task
    {'Code review': ('look at this diff',)}
    """
    spelled = {loose(t): t for t in task_types}
    by_task: dict[str, list[list[str]]] = {}  # each example as its lines
    problems: list[Problem] = []
    task: str | None = None
    skipping = False  # under a heading of a task type this routing file does not have
    last: list[str] | None = None  # the bullet an indented line continues
    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        heading = _HEADING.match(raw)
        if heading:
            last = None
            title = heading.group(2).strip().strip("*_").strip()
            if loose(title) == _TITLE and len(heading.group(1)) == 1:
                task, skipping = None, False
                continue
            task = spelled.get(loose(title))
            skipping = task is None
            if task is None and strict:
                hint = nearest(title, spelled.values(), cutoff=0.5)
                problems.append(
                    Problem(number, f"'{title}' is not a task type of the routing file", None,
                            None, None, hint)
                )  # fmt: skip
            continue
        bullet = _BULLET.match(raw)
        if bullet:
            example = (bullet.group(1) or "").strip()
            if skipping:
                last = None
            elif task is None:
                last = None
                problems.append(
                    Problem(number, "an example before any task type heading ('## Code review')")
                )
            elif not example:
                last = None
                problems.append(Problem(number, f"an empty example under '{task}'"))
            else:
                last = [example]
                by_task.setdefault(task, []).append(last)
            continue
        if last is not None and raw[:1].isspace() and raw.strip():
            last.append(raw.strip())  # an indented line continues the bullet
        elif not raw.strip():
            continue
        else:
            last = None  # prose ends the bullet
    if problems:
        raise TaskExamplesError(source, problems)
    return TaskExamples(
        {
            t: tuple(dict.fromkeys(" ".join(lines)[:MAX_EXAMPLE_CHARS] for lines in items))
            for t, items in by_task.items()
        }
    )


def shipped_task_examples(task_types: Iterable[str]) -> TaskExamples:
    """The examples that ship with cortexd, for the task types of a routing file."""
    text = files("cortexd.routing.classifier").joinpath(SHIPPED_FILE).read_text("utf-8")
    return parse_task_examples(text, SHIPPED_FILE, task_types, strict=False)


def load_task_examples(task_types: Iterable[str], user_file: Path | None) -> TaskExamples:
    """The shipped examples plus the user's (when `user_file` exists). Reads files: call it
    off the event loop. Raises `TaskExamplesError` for a bad user file."""
    names = list(task_types)
    shipped = shipped_task_examples(names)
    if user_file is None or not user_file.is_file():
        return shipped
    text = user_file.read_text(encoding="utf-8")
    return shipped.plus(parse_task_examples(text, str(user_file), names))

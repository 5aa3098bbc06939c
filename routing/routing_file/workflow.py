"""The Coding Workflow table, read as routing rules.

The seed's rows are prose written for people; cortexd recognises the scenarios it can act
on by their words and keeps the rest as prose (with a warning, so the user knows):

- "Working in Claude Code session" → calls from a Claude Code client stay on Claude.
- "Dedicated coding task dispatched from queue" → coding calls from a queue client go to the tool.
- "Code review / second opinion" → "Opposite of what wrote it": review by the other provider.
- "Pair programming / interactive" → prose: for API calls the Routing Table's "Vibe coding
  (interactive)" row wins.
- "Batch code generation (many files)" → coding calls from a batch client go to the tool.
- "Debugging / tracing" → a task type of its own, served by the tool's model (Claude Opus).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from cortexd.routing.catalog import Catalog
from cortexd.routing.routing_file.markdown_tables import Row
from cortexd.routing.table import WorkflowKind, WorkflowRule

_KINDS: tuple[tuple[re.Pattern[str], WorkflowKind], ...] = (
    (re.compile(r"claude code", re.I), WorkflowKind.CLAUDE_CODE_CLIENT),
    (re.compile(r"review|second opinion", re.I), WorkflowKind.REVIEW_OPPOSITE),
    (re.compile(r"debug|tracing|trace", re.I), WorkflowKind.TASK),
    (re.compile(r"\bbatch\b|many files", re.I), WorkflowKind.BATCH),
    (re.compile(r"\bqueue", re.I), WorkflowKind.QUEUE),
    (re.compile(r"pair programming|interactive", re.I), WorkflowKind.INTERACTIVE),
)
_VENDOR_WORDS = frozenset({"claude", "gpt", "chatgpt", "openai", "anthropic"})
_WORD = re.compile(r"[a-z0-9][a-z0-9.:\-]*", re.I)

Report = Callable[..., None]


def tool_models(cell: str, catalog: Catalog) -> tuple[str, ...]:
    """The catalog models a Tool cell names: "Claude (Sonnet/Opus)" → ("sonnet", "opus").

    A bare vendor name without a model ("Claude Code CLI") means that vendor's default
    model: sonnet for Claude, codex for Codex.
    """
    names: list[str] = []
    words = _WORD.findall(cell)
    # A vendor word ("Claude") names a model only when the cell names no specific one:
    # "Claude (Opus)" is opus, "Claude Code CLI" is Claude's everyday model.
    specific = [w for w in words if w.casefold() not in _VENDOR_WORDS]
    for word in specific or words:
        spec = catalog.find(word)
        if spec is not None and spec.name not in names:
            names.append(spec.name)
    if not names and re.search(r"\bclaude\b", cell, re.I):
        names.append("sonnet")
    return tuple(names)


def read_workflow(
    rows: Sequence[tuple[Row, dict[str, str]]], catalog: Catalog, report: Report
) -> tuple[WorkflowRule, ...]:
    """The rules the Coding Workflow rows express; unrecognised scenarios become warnings."""
    rules: list[WorkflowRule] = []
    for row, values in rows:
        scenario, tool = values["scenario"].strip(), values["tool"].strip()
        kind = next((k for pattern, k in _KINDS if pattern.search(scenario)), None)
        if kind is None:
            report(
                row,
                scenario,
                "scenario not understood as a routing rule; kept as prose",
                severity="warning",
            )
            continue
        models = tool_models(tool, catalog)
        needs_models = kind not in (WorkflowKind.REVIEW_OPPOSITE, WorkflowKind.INTERACTIVE)
        if needs_models and not models:
            report(row, scenario, f"no model named in '{tool}'", "tool", catalog.suggest(tool))
            continue
        rules.append(WorkflowRule(scenario, kind, models, row.line))
    return tuple(rules)

"""Two answers side by side with the judge's verdict, for ``cortex ask --second-opinion``."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

#: What each status means to the person reading.
_HEADLINE = {
    "agree": "[green]The two models agree.[/]",
    "disagree": "[yellow]The two models disagree.[/]",
    "second-failed": "[red]The second model failed; only the first answer is here.[/]",
    "judge-failed": "[yellow]Both answered, but the judge failed: compare them yourself.[/]",
    "no-second-model": "[yellow]No second opinion this time.[/]",
}


def show_opinions(console: Console, answer: str | None, cortex: dict[str, Any]) -> None:
    """The main answer and the second one in two columns, then the verdict and the points of
    difference; without a second answer, the main one and why it stands alone. With
    `answer` None (it was streamed already) the second answer comes below instead."""
    opinion = cortex.get("second_opinion") or {}
    status = str(opinion.get("status") or "no-second-model")
    second = opinion.get("answer")
    theirs = f"{escape(str(opinion.get('model')))} (second opinion)"
    if answer is None:
        if second is not None:
            console.print(Panel(Text(str(second)), title=theirs, expand=True))
    elif second is None:
        console.print(Text(answer))
    else:
        table = Table(expand=True, show_lines=False)
        table.add_column(f"{escape(str(cortex.get('model')))} (answered)", ratio=1)
        table.add_column(theirs, ratio=1)
        table.add_row(Text(answer), Text(str(second)))
        console.print(table)
    console.print(_HEADLINE.get(status, escape(status)))
    verdict = opinion.get("verdict")
    if verdict:
        lines: list[Any] = []
        if verdict.get("summary"):
            lines.append(Text(str(verdict["summary"])))
        differences = verdict.get("differences") or []
        if differences:
            lines.append(Text("Points of difference:", style="bold"))
            lines += [Text(f"  • {d}") for d in differences]
        title = f"verdict of {escape(str(verdict.get('judge')))}"
        console.print(Panel(Group(*lines) if lines else Text("—"), title=title, expand=True))
    if opinion.get("detail"):
        console.print(f"[dim]{escape(str(opinion['detail']))}[/]")

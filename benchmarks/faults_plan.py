"""Which calls a faults run makes (benchmarks/faults.py), and on which daemon: the seed
routing file's rows, one cell per row, fault and streaming, and the plan that keeps cells
from seeing each other's failures.

Three failures in a row open a model's circuit for 10 s, and a later cell would then skip
the primary instead of meeting its fault. So the quick faults (hang, overload, break) share
one daemon, in one lane per primary model, a batch at a time (at most two primary failures
a batch); the stall cells all run at once on daemons of their own, grouped so that no row's
fallback is another row's (stalled) primary in the same daemon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cortexd.context.paths import default_routing_text
from cortexd.routing.routing_file.parse import catalog_for, parse_routing_text

#: The issue's promise: a hung primary answered by its fallback, or a row without one
#: refused with a clear 503, within this long.
PROMISE_S = 10.0
#: Failures of one model that open its circuit (routing/dispatch/circuit.py); a lane stays
#: below it between the healthy calls that close the circuit again.
FAILURES_TO_OPEN = 3


@dataclass(frozen=True)
class Row:
    """A Routing Table row: its task type, its chain of aliases and their model ids."""

    task: str
    chain: tuple[str, ...]
    ids: tuple[str, ...]

    @property
    def primary(self) -> str:
        return self.chain[0]

    @property
    def fallbacks(self) -> tuple[str, ...]:
        return self.chain[1:]

    def alias_of(self, model_id: str) -> str:
        """The alias a model id in an answer stands for (the id itself if not in the chain)."""
        for alias, mid in zip(self.chain, self.ids, strict=True):
            if model_id in (alias, mid):
                return alias
        return model_id


def seed_rows(names: Sequence[str] = ()) -> list[Row]:
    """The seed routing file's Routing Table rows (those named, if any: spelled loosely, or
    the start of one row's name)."""
    table = parse_routing_text(default_routing_text())
    catalog = catalog_for(table)
    tasks = list(table.routes)
    if names:
        picked = []
        for name in names:
            task = table.find_task(name)
            starting = [t for t in tasks if t.casefold().startswith(name.casefold())]
            if task not in table.routes and len(starting) == 1:
                task = starting[0]  # "Quick capture" for "Quick capture / filing"
            if task is None or task not in table.routes:
                known = "; ".join(tasks)
                raise SystemExit(f"no row {name!r} in the seed routing file (rows: {known})")
            picked.append(task)
        tasks = list(dict.fromkeys(picked))
    rows = []
    for task in tasks:
        chain = table.routes[task].chain
        ids = []
        for alias in chain:
            spec = catalog.resolve(alias)
            ids.append(spec.model_id if spec is not None else alias)
        rows.append(Row(task, chain, tuple(ids)))
    return rows


@dataclass
class Cell:
    """One call: a row, its primary's fault, streamed or not, and what the client saw."""

    row: Row
    fault: str
    stream: bool
    first_s: float | None = None  # the first token of the answer (streamed: the first delta)
    total_s: float | None = None  # the whole answer, or the error
    status: int | None = None  # the HTTP status the client got
    outcome: str = ""  # "answered", or the error in short
    answered: str = ""  # the model that answered (alias), as the answer says
    fallback: bool = False
    text: str = ""
    cancelled: list[str] = field(default_factory=list)  # attempts the answer lists as such

    @property
    def primary_failures(self) -> int:
        """How many failures of the primary this cell costs its circuit, at most: a hang is
        not retried, a streamed break is not retried once content has reached the client;
        an overload and a non-streamed break are retried once."""
        if self.fault == "hang" or (self.fault == "break" and self.stream):
            return 1
        return 2

    @property
    def within_promise(self) -> bool:
        return self.total_s is not None and self.total_s <= PROMISE_S


def batches(cells: Sequence[Cell]) -> list[list[Cell]]:
    """Consecutive cells grouped so that a batch costs its primary at most
    `FAILURES_TO_OPEN` - 1 failures: run together, they never open its circuit."""
    out: list[list[Cell]] = []
    cost = FAILURES_TO_OPEN
    for cell in cells:
        if cost + cell.primary_failures >= FAILURES_TO_OPEN:
            out.append([])
            cost = 0
        out[-1].append(cell)
        cost += cell.primary_failures
    return out


def stall_groups(rows: Sequence[Row]) -> list[list[Row]]:
    """Rows grouped so that no row's fallback is the primary of a row in its group.

    Every stall cell fails its primary at about the same moment, opening its circuit; a row
    whose fallback is that model would then find it skipped, which is not what is measured.
    """
    groups: list[tuple[list[Row], set[str], set[str]]] = []
    for row in rows:
        for members, primaries, fallbacks in groups:
            if row.primary not in fallbacks and not primaries & set(row.fallbacks):
                members.append(row)
                primaries.add(row.primary)
                fallbacks.update(row.fallbacks)
                break
        else:
            groups.append(([row], {row.primary}, set(row.fallbacks)))
    return [members for members, _, _ in groups]


@dataclass
class Plan:
    """Which cells run on which daemon: the quick faults' lanes, then one per stall group."""

    lanes: dict[str, list[Cell]] = field(default_factory=dict)
    stalls: list[list[Cell]] = field(default_factory=list)

    @property
    def daemons(self) -> int:
        return (1 if self.lanes else 0) + len(self.stalls)


def plan(rows: Sequence[Row], faults: Sequence[str]) -> tuple[Plan, list[Cell]]:
    """The run's plan and every cell, in the table's order (row, fault, not streamed first)."""
    cells = [
        Cell(row, fault, stream) for row in rows for fault in faults for stream in (False, True)
    ]
    out = Plan()
    for cell in cells:
        if cell.fault != "stall":
            out.lanes.setdefault(cell.row.primary, []).append(cell)
    if "stall" in faults:
        for group in stall_groups(rows):
            members = {row.task for row in group}
            out.stalls.append([c for c in cells if c.fault == "stall" and c.row.task in members])
    return out, cells

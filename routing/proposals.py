"""Routing proposals: evidence from the call ledger → proposed edits of the routing table.

Pure (no clock, file or database): the daemon builds `Evidence` from SQLite, the CLI shows
the proposals and applies one's `CellChange`s to the Markdown file. Every decision rests on
a 95% lower confidence bound, never on raw rates (8 of 10 against 6 of 10 is noise); data
that leans one way without clearing it gives a `Pending`: about how many more calls it needs.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cortexd.routing.catalog import Catalog, place_model_id
from cortexd.routing.routing_file.edit import CellChange
from cortexd.routing.table import LocalRoute, Route, RoutingTable, Toggle

#: 95% two-sided: a wrong proposal costs the user a look, not an outage.
Z = 1.96
#: Below ~20 answers a side a Wilson interval spans 30+ points: nothing can be told apart.
MIN_ANSWERED = 20
#: The same floor for failure rates: 20 tries before calling a model unreliable.
MIN_TRIES = 20
#: Fallbacks are tried only after the primary fails: a handful of tries shows one works.
MIN_FALLBACK_TRIES = 5
#: One call in five failing is well past flaky networks (~1-5%); it is a broken route.
FAILING_RATE = 0.2
#: Fewer overrides than this are a mood, not a habit.
MIN_OVERRIDES = 5
#: Most of a task's calls overridden to one model: the table disagrees with its user.
OVERRIDE_SHARE = 0.5
#: A free, private local model may be up to 5 points worse and still be worth turning on.
LOCAL_MARGIN = 0.05
#: Past this many more calls a side the question is not worth asking (months of use).
MAX_MORE_CALLS = 10_000
#: Timeouts are named in the evidence when they are more than this share of the failures.
TIMEOUT_SHARE = 0.5


@dataclass(frozen=True)
class ModelEvidence:
    """What the ledger says about one model on one task type, over the evidence window."""

    task: str  # task type as the routing file spells it
    model: str  # catalog alias name (e.g. "sonnet", "codex", "llama3.1:8b")
    answered: int  # calls of this task this model answered (main answers only)
    achieved: int  # of those, how many achieved their task (0 <= achieved <= answered)
    tries: int  # attempts of this model for this task (answers and failures; no skips)
    failures: int  # attempts that failed: errors, timeouts, broken streams
    timeouts: int  # of the failures, timeouts
    cost_pico: int  # summed cost of the answered calls, integer pico-USD (10**-12 USD)
    overridden_to: int  # calls of this task where the user overrode the route to this model


@dataclass(frozen=True)
class Evidence:
    """Everything `propose` weighs: per task and model, and calls per task type."""

    since: float  # epoch seconds: the window the evidence covers
    until: float
    models: tuple[ModelEvidence, ...]
    task_calls: Mapping[str, int]  # calls per task type in the window


@dataclass(frozen=True)
class Proposal:
    """A change the evidence supports, with the numbers behind it."""

    key: str  # stable identity: "{kind}:{task}:{old}->{new}", same inputs → same key
    id: str  # short stable id: first 8 hex chars of sha256(key)
    kind: str  # "swap" | "failing-primary" | "override" | "local"
    task: str
    summary: str  # one line for people
    evidence: tuple[str, ...]  # lines with the numbers and sample sizes behind it
    calls: int  # the sample size behind it (used for "new evidence" after a rejection)
    changes: tuple[CellChange, ...]  # empty when it cannot be expressed as cell edits


@dataclass(frozen=True)
class Pending:
    """A candidate that the data leans towards but does not yet support."""

    key: str
    task: str
    summary: str
    needs_calls: int  # about how many more calls it needs


Found = Proposal | Pending | None
_Stats = Mapping[tuple[str, str], ModelEvidence]


def wilson_interval(successes: int, n: int, z: float = Z) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); n=0 knows nothing.

    >>> tuple(round(x, 4) for x in wilson_interval(81, 263))
    (0.2553, 0.3662)
    >>> wilson_interval(0, 0)
    (0.0, 1.0)
    """
    if n <= 0:
        return 0.0, 1.0
    p, z2 = min(max(successes / n, 0.0), 1.0), z * z  # bad counts must not crash the CLI
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def difference_interval(s1: int, n1: int, s2: int, n2: int, z: float = Z) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for p1 − p2, from two Wilson intervals.

    >>> tuple(round(x, 4) for x in difference_interval(56, 70, 48, 80))
    (0.0524, 0.3339)
    >>> difference_interval(3, 5, 0, 0)
    (-1.0, 1.0)
    """
    if n1 <= 0 or n2 <= 0:
        return -1.0, 1.0
    p1, p2 = s1 / n1, s2 / n2
    (l1, u1), (l2, u2) = wilson_interval(s1, n1, z), wilson_interval(s2, n2, z)
    d = p1 - p2
    return d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)


def propose(
    evidence: Evidence,
    table: RoutingTable,
    catalog: Catalog,
) -> tuple[list[Proposal], list[Pending]]:
    """The changes the evidence supports and those it leans towards, by task type then kind.

    Whether the user rejected one before is for the caller to weigh: a rejected proposal
    should come back only when evidence gathered since the rejection supports it alone.
    """
    stats = {(m.task, m.model): m for m in evidence.models}
    proposals: list[Proposal] = []
    pending: list[Pending] = []
    for task in table.task_types():
        route = table.routes.get(task)
        if route is not None and (route.local_only or not _known(route.chain, catalog)):
            route = None  # private routes stay as written; unknown models cannot be weighed
        found: list[Found] = []
        if route is not None:
            total = evidence.task_calls.get(task, 0)
            found += [_swap(route, stats), _failing(route, stats)]
            found.append(_override(route, stats, total, catalog))
        found.append(_local(task, route, table.local.get(task), stats, catalog))
        taken: list[tuple[CellChange, ...]] = []
        # One "not yet" a task type, the nearest: two reasons for one change read as two.
        waiting = [item for item in found if isinstance(item, Pending)]
        if waiting:
            pending.append(min(waiting, key=lambda p: p.needs_calls))
        for item in found:
            if isinstance(item, Pending):
                continue
            elif item is not None and not (item.changes and item.changes in taken):
                # One change, one proposal: the first reason wins, and its rejection holds.
                taken.append(item.changes)
                proposals.append(item)
    return proposals, pending


def _swap(route: Route, stats: _Stats) -> Found:
    p = stats.get((route.task, route.primary))
    if p is None or not p.answered:
        return None
    found: list[Found] = []
    for name in route.chain[1:]:
        f = stats.get((route.task, name))
        if f is None or not f.answered or f.achieved * p.answered <= p.achieved * f.answered:
            continue  # no evidence, or it does not even lean towards the fallback
        if f.cost_pico * p.answered > p.cost_pico * f.answered:
            continue  # better but dearer: a trade for the user to make, not a proposal
        changes = _replace_primary(route, name)
        summary = f"{route.task}: make {name} the primary, {_fallback_words(changes)}"
        draft = _Draft("swap", route.task, route.primary, name, summary, changes)
        lines = (_achieved(f), _achieved(p), _difference(f, p))
        ok = _clears(f.achieved, f.answered, p.achieved, p.answered, 0.0)
        found.append(_decide(draft, ok, lines, f.answered + p.answered))
    return _pick(found)


def _failing(route: Route, stats: _Stats) -> Found:
    p = stats.get((route.task, route.primary))
    if p is None or not p.tries or p.failures <= FAILING_RATE * p.tries:
        return None
    rate, new, lines = p.failures / p.tries, "(add fallback)", [_failed(p)]
    changes: tuple[CellChange, ...] = ()
    if len(route.chain) > 1:
        tried = (stats.get((route.task, n)) for n in route.chain[1:])
        f = next((f for f in tried if f and f.tries >= MIN_FALLBACK_TRIES), None)
        if f is None or f.failures / f.tries >= rate:
            return None  # the fallback fails as badly, or nobody knows: nothing to swap to
        new, changes = f.model, _replace_primary(route, f.model)
        lines.append(_failed(f))
    if p.timeouts > TIMEOUT_SHARE * p.failures:
        lines.append(f"{p.timeouts} of the {p.failures} failures were timeouts")
    advice = f"add a fallback for {route.task}"
    if changes:
        advice = f"make {new} the primary, {_fallback_words(changes)}"
    summary = f"{route.task}: {route.primary} fails {_pct(rate)} of its tries; {advice}"
    draft = _Draft("failing-primary", route.task, route.primary, new, summary, changes)
    ok = _above(p.failures, p.tries, FAILING_RATE, min_n=MIN_TRIES)
    return _decide(draft, ok, tuple(lines), p.tries)


def _override(route: Route, stats: _Stats, total: int, catalog: Catalog) -> Found:
    chosen = [m for (t, _), m in stats.items() if t == route.task and m.overridden_to]
    m = max(chosen, key=lambda e: (e.overridden_to, e.model), default=None)
    if m is None or m.model == route.primary or not _known((m.model,), catalog):
        return None
    if not OVERRIDE_SHARE * total < m.overridden_to <= total:
        return None  # not most of the calls (or the counts do not add up)
    changes = _cells(route, m.model, tuple(n for n in route.chain if n != m.model))
    share = m.overridden_to / total
    summary = (
        f"{route.task}: you override it to {m.model} in {_pct(share)} of calls;"
        f" make {m.model} the primary, {_fallback_words(changes)}"
    )
    line = f"{m.model}: chosen by override in {_rate(m.overridden_to, total, ' calls')}"
    ok = _above(m.overridden_to, total, OVERRIDE_SHARE, min_s=MIN_OVERRIDES)
    draft = _Draft("override", route.task, route.primary, m.model, summary, changes)
    return _decide(draft, ok, (line,), total)


def _local(
    task: str, route: Route | None, row: LocalRoute | None, stats: _Stats, catalog: Catalog
) -> Found:
    if row is not None and row.toggle is not Toggle.OFF:
        # `auto` already serves the task wherever the model fits; forcing it `on` would run
        # it where it does not. Only a row the user switched off is worth a proposal.
        return None
    chains = (route.chain if route else (), row.fallback if row else ())
    cloud = next((n for chain in chains for n in chain if _is_local(n, catalog) is False), None)
    c = stats.get((task, cloud or ""))
    if c is None or not c.answered:
        return None
    # Turning the row on runs the row's own model, so only its evidence counts there.
    names = [row.model] if row else [n for (t, n) in stats if t == task and _is_local(n, catalog)]
    found: list[Found] = []
    for name in sorted(names):
        m = stats.get((task, name))
        if m is None or not m.answered:
            continue
        summary = f"{task}: {name} does as well as {c.model}; "
        changes: tuple[CellChange, ...] = ()
        if row is None:
            old = f"{name}:(no local row)"
            summary += f"add a Local Models row for {task} with {name}"
        else:
            old, toggle = f"{name}:{row.toggle.value}", row.toggle.value
            changes = (CellChange("Local Models", task, "toggle", toggle, Toggle.AUTO.value),)
            summary += f"set its row to auto, used wherever it fits (now {toggle})"
        margin = f"margin -{round(LOCAL_MARGIN * 100)} points"
        lines = (_achieved(m), _achieved(c), f"{_difference(m, c)} ({margin})")
        ok = _clears(m.achieved, m.answered, c.achieved, c.answered, -LOCAL_MARGIN)
        draft = _Draft("local", task, old, Toggle.AUTO.value, summary, changes)
        found.append(_decide(draft, ok, lines, m.answered + c.answered))
    return _pick(found)


@dataclass(frozen=True)
class _Draft:
    """A proposal before the numbers decide whether it is one, a `Pending`, or nothing."""

    kind: str
    task: str
    old: str
    new: str
    summary: str
    changes: tuple[CellChange, ...]


def _decide(d: _Draft, ok: Callable[[int], bool], lines: tuple[str, ...], calls: int) -> Found:
    key = f"{d.kind}:{d.task}:{d.old}->{d.new}"
    if ok(0):
        short = hashlib.sha256(key.encode()).hexdigest()[:8]
        return Proposal(key, short, d.kind, d.task, d.summary, lines, calls, d.changes)
    more = _more_calls(ok)
    return None if more is None else Pending(key, d.task, d.summary, more)


def _pick(found: list[Found]) -> Found:
    # The first candidate in the user's chain order that the data supports, else the nearest.
    done = [f for f in found if isinstance(f, Proposal)]
    waiting = [f for f in found if isinstance(f, Pending)]
    return done[0] if done else min(waiting, key=lambda p: p.needs_calls, default=None)


def _clears(s1: int, n1: int, s2: int, n2: int, floor: float) -> Callable[[int], bool]:
    """Whether, with k more calls a side at the rates seen, the difference bound is > floor."""

    def ok(k: int) -> bool:
        a, b = n1 + k, n2 + k
        low, _ = difference_interval(_scale(s1, n1, k), a, _scale(s2, n2, k), b)
        return min(a, b) >= MIN_ANSWERED and low > floor

    return ok


def _above(s: int, n: int, floor: float, min_n: int = 0, min_s: int = 0) -> Callable[[int], bool]:
    """Whether, with k more calls at the rate seen, the rate's lower bound is > floor."""

    def ok(k: int) -> bool:
        scaled = _scale(s, n, k)
        return n + k >= min_n and scaled >= min_s and wilson_interval(scaled, n + k)[0] > floor

    return ok


def _scale(successes: int, n: int, k: int) -> int:
    # The observed rate held over k more calls.
    return round(successes * (n + k) / n)


def _more_calls(ok: Callable[[int], bool]) -> int | None:
    """The fewest more calls (about: rounding makes `ok` a little ragged) for which `ok` holds."""
    hi = 1
    while not ok(hi):
        if hi >= MAX_MORE_CALLS:
            return None
        hi = min(2 * hi, MAX_MORE_CALLS)
    lo = hi // 2  # ok(lo) failed (lo = 0 was checked by the caller): bisect between
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def _replace_primary(route: Route, new: str) -> tuple[CellChange, ...]:
    # The fallback takes the primary's place; the old primary takes its place in the chain.
    return _cells(route, new, tuple(route.primary if n == new else n for n in route.chain[1:]))


def _cells(route: Route, primary: str, rest: tuple[str, ...]) -> tuple[CellChange, ...]:
    # An empty fallback cell reads "—" in the seed; the edit compares cells loosely anyway.
    old = " / ".join(route.chain[1:]) or "—"
    return (
        CellChange("Routing Table", route.task, "primary", route.primary, primary),
        CellChange("Routing Table", route.task, "fallback", old, " / ".join(dict.fromkeys(rest))),
    )


def _fallback_words(changes: tuple[CellChange, ...]) -> str:
    rest = changes[1].new
    return f"{rest} the fallback" if " / " not in rest else f"fallbacks {rest}"


def _known(names: tuple[str, ...], catalog: Catalog) -> bool:
    return all(_is_local(n, catalog) is not None for n in names)


def _is_local(name: str, catalog: Catalog) -> bool | None:
    """Whether a model runs locally; None for a name neither the catalog nor an id pattern knows."""
    spec = catalog.find(name)
    placed = place_model_id(name) if spec is None else None
    return spec.local if spec else (placed[0].local if placed else None)


def _achieved(m: ModelEvidence) -> str:
    cost = m.cost_pico / m.answered / 10**12  # pico-USD: 10**12 to the dollar
    return f"{m.model}: achieved {_rate(m.achieved, m.answered)}, ${cost:.4f} a call"


def _failed(m: ModelEvidence) -> str:
    return f"{m.model}: failed {_rate(m.failures, m.tries, ' tries')}"


def _rate(s: int, n: int, unit: str = "") -> str:
    low = wilson_interval(s, n)[0]
    return f"{s} of {n}{unit} ({_pct(s / n)}, 95% lower bound {_pct(low)})"


def _difference(a: ModelEvidence, b: ModelEvidence) -> str:
    d = a.achieved / a.answered - b.achieved / b.answered
    low, _ = difference_interval(a.achieved, a.answered, b.achieved, b.answered)
    return f"difference {round(d * 100)} points, 95% lower bound {round(low * 100)} points"


def _pct(x: float) -> str:
    return f"{round(x * 100)}%"

"""What a client sees when a row's primary hangs, stalls, is overloaded or breaks (issue 20):
`uv run python -m benchmarks.faults [--rows "Security audit,Code generation"] [--faults ...]`.

Starts the fake upstream (benchmarks/upstream.py) and real cortexd daemons with both cloud
providers pointed at it (benchmarks/processes.py), and for each row of the seed routing file
makes the row's primary:

- ``hang``: accept the request and send nothing;
- ``stall``: send its stream's opening events (Anthropic ``message_start``, Responses
  ``response.created``, Chat Completions the role chunk), then nothing;
- ``overload``: answer 529 (Anthropic) or 503 (OpenAI);
- ``break``: stream two words of its answer, then drop the connection.

Each fault is asked of the upstream by a marker in the prompt that names the primary's
model id (``bench-fault:hang:claude-opus-5-5``): the fallback, sent the same prompt, answers
as usual. Each cell is one chat completion with ``model: "task:<row>"`` through the openai
SDK over cortexd's socket, streamed and not. The table gives the time until the client has
the first token of the answer and until it has the whole answer (or the error, with its
status), which model answered, and what hedging cost (hedging is not built yet: "—").

Cells must not see each other's failures: three failures in a row open a model's circuit
for 10 s, and a later cell would then skip the primary instead of meeting its fault. So:

- the quick faults (hang, overload, break) share one daemon, in one lane per primary
  model; a lane runs its cells a batch at a time (at most two primary failures a batch),
  then one healthy call to the primary closes its circuit again; lanes run side by side;
- stalled primaries hold their calls for up to the reasoning models' 120 s first-content
  wait, so every stall cell runs at once, on daemons of their own: rows are grouped so that
  no row's fallback is another row's (stalled) primary in the same daemon.

A default run (all rows, all faults) takes about 2½ minutes, most of it the stall cells.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx2
import openai
import uvloop

from benchmarks.processes import BIN, Started, start_cortexd, start_upstream
from benchmarks.targets import LIMITS
from benchmarks.upstream import FAULTS, fault_mark
from cortexd.context.paths import default_routing_text
from cortexd.routing.routing_file.parse import catalog_for, parse_routing_text

#: The issue's promise: a hung primary answered by its fallback, or a row without one
#: refused with a clear 503, within this long.
PROMISE_S = 10.0
#: Longer than cortexd's own deadline (120 s), so the daemon, not the client, gives up.
CLIENT_TIMEOUT_S = 180.0
#: Failures of one model that open its circuit (routing/dispatch/circuit.py); a lane stays
#: below it between the healthy calls that close the circuit again.
FAILURES_TO_OPEN = 3
PROMPT = "What is the answer? ({mark}) Reply in one short sentence."
HEALTHY = [{"role": "user", "content": "What is the answer? Reply in one short sentence."}]


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
            if task not in table.routes:
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


def _client(sock: Path) -> openai.AsyncOpenAI:
    transport = httpx2.AsyncHTTPTransport(uds=str(sock), limits=LIMITS)
    return openai.AsyncOpenAI(
        base_url="http://cortexd/v1",
        api_key="unused",  # the socket is guarded by the peer's uid, not a key
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport, timeout=CLIENT_TIMEOUT_S),
    )


def _short(message: str, limit: int = 90) -> str:
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _error_message(error: openai.APIError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return error.message


async def run_cell(client: openai.AsyncOpenAI, cell: Cell) -> Cell:
    """Make the call and fill in what the client saw."""
    mark = fault_mark(cell.fault, cell.row.ids[0])
    messages: Any = [{"role": "user", "content": PROMPT.format(mark=mark)}]
    model = f"task:{cell.row.task}"
    started = time.perf_counter()
    cortex: dict[str, Any] = {}
    chunk_model = ""
    try:
        if not cell.stream:
            answer = await client.chat.completions.create(
                model=model, messages=messages, max_tokens=64
            )
            cell.total_s = cell.first_s = time.perf_counter() - started
            cell.status, cell.text = 200, answer.choices[0].message.content or ""
            cortex = (answer.model_extra or {}).get("cortex") or {}
            chunk_model = answer.model
        else:
            chunks: Any = await client.chat.completions.create(
                model=model, messages=messages, max_tokens=64, stream=True
            )
            cell.status = 200
            async for chunk in chunks:
                chunk_model = chunk.model or chunk_model
                cortex = (chunk.model_extra or {}).get("cortex") or cortex
                delta = chunk.choices[0].delta.content if chunk.choices else None
                if delta:
                    if cell.first_s is None:
                        cell.first_s = time.perf_counter() - started
                    cell.text += delta
            cell.total_s = time.perf_counter() - started
        cell.outcome = "answered"
    except openai.APIStatusError as error:
        cell.total_s = time.perf_counter() - started
        cell.status = error.status_code
        cell.outcome = f"{error.status_code}: {_short(_error_message(error))}"
    except openai.APIError as error:  # an error event in a stream that began as a 200
        cell.total_s = time.perf_counter() - started
        said = f" after {cell.text!r}" if cell.text else ""
        cell.outcome = f"error event{said}: {_short(_error_message(error), 70)}"
    except (httpx2.TransportError, openai.APIConnectionError) as error:
        cell.total_s = time.perf_counter() - started
        cell.outcome = f"connection: {_short(str(error) or type(error).__name__)}"
    for attempt in cortex.get("attempts") or ():
        if isinstance(attempt, dict) and attempt.get("outcome") == "cancelled":
            seconds = attempt.get("seconds")
            after = f" after {seconds:.2f} s" if isinstance(seconds, int | float) else ""
            cell.cancelled.append(f"{cell.row.alias_of(str(attempt.get('model')))}{after}")
    if cortex.get("model"):
        cell.answered = cell.row.alias_of(str(cortex["model"]))
        cell.fallback = bool(cortex.get("fallback"))
    elif cell.text and chunk_model:
        cell.answered = cell.row.alias_of(chunk_model)  # cut off before the cortex block
    return cell


async def close_circuit(client: openai.AsyncOpenAI, alias: str) -> None:
    """One healthy call to `alias` by name: its success closes the model's circuit."""
    for _ in range(30):
        answer = await client.chat.completions.create(
            model=alias,
            messages=HEALTHY,
            max_tokens=16,  # type: ignore[arg-type]
        )
        if ((answer.model_extra or {}).get("cortex") or {}).get("model") == alias:
            return
        await asyncio.sleep(1.0)  # skipped (an open circuit): wait for it to half-open
    print(f"warning: {alias} did not answer by name for 30 s", file=sys.stderr)


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


async def run_lane(client: openai.AsyncOpenAI, alias: str, cells: Sequence[Cell]) -> None:
    """One primary's quick-fault cells, a batch at a time, its circuit closed after each."""
    for batch in batches(cells):
        await asyncio.gather(*(run_cell(client, cell) for cell in batch))
        await close_circuit(client, alias)


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


async def run(plan_: Plan, sockets: Sequence[Path]) -> None:
    clients = [_client(sock) for sock in sockets]
    jobs: list[Awaitable[object]] = []
    index = 0
    if plan_.lanes:
        quick = clients[0]
        jobs += [run_lane(quick, alias, cells) for alias, cells in plan_.lanes.items()]
        index = 1
    for group, client in zip(plan_.stalls, clients[index:], strict=True):
        jobs += [run_cell(client, cell) for cell in group]
    try:
        await asyncio.gather(*jobs)
    finally:
        for client in clients:
            await client.close()


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def table(cells: Sequence[Cell]) -> str:
    lines = [
        "| row | primary → fallback | fault | streamed | first token s | whole answer s "
        "| outcome | answered by | hedging cost | ≤ 10 s |",
        "|---|---|---|---|---:|---:|---|---|---|---|",
    ]
    for cell in cells:
        chain = " → ".join(cell.row.chain) if cell.row.fallbacks else f"{cell.row.primary} → —"
        if cell.answered and cell.outcome == "answered":
            who = cell.answered + (" (fallback)" if cell.fallback else "")
        elif cell.answered:
            who = f"{cell.answered}, cut off"
        else:
            who = "—"
        # Hedging is not built yet: "—". Once it is, the attempt it cancelled is shown (its
        # cost is in the ledger: the answer's cortex block has no cost per attempt).
        hedged = "; ".join(f"{c} cancelled" for c in cell.cancelled) or "—"
        outcome = "200" if cell.outcome == "answered" else cell.outcome.replace("|", "/")
        lines.append(
            f"| {cell.row.task} | {chain} | {cell.fault} | {'yes' if cell.stream else 'no'} "
            f"| {_seconds(cell.first_s)} | {_seconds(cell.total_s)} | {outcome} | {who} "
            f"| {hedged} | {'yes' if cell.within_promise else '**no**'} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="", help="comma-separated task types (default: all)")
    parser.add_argument(
        "--faults", default=",".join(FAULTS), help=f"comma-separated, of {', '.join(FAULTS)}"
    )
    parser.add_argument("--json", type=Path, help="also write every cell to this file")
    parser.add_argument(
        "--cortexd", type=Path, default=BIN, metavar="BIN",
        help="the folder holding the cortexd to measure (default: this environment's), e.g. "
        "a worktree's .venv/bin to measure a pinned commit while the checkout changes",
    )  # fmt: skip
    args = parser.parse_args(argv)
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = [f for f in faults if f not in FAULTS]
    if unknown or not faults:
        parser.error(f"--faults: one or more of {', '.join(FAULTS)}")
    rows = seed_rows([r.strip() for r in args.rows.split(",") if r.strip()])
    plan_, cells = plan(rows, faults)
    began = time.perf_counter()
    upstream, port = start_upstream()
    daemons: list[Started] = []
    sockets: list[Path] = []
    try:
        with ThreadPoolExecutor(plan_.daemons) as pool:  # their start-ups overlap
            futures = [pool.submit(start_cortexd, port, args.cortexd) for _ in range(plan_.daemons)]
            failed: BaseException | None = None
            for future in futures:
                try:
                    daemon, sock = future.result()
                except Exception as error:  # the others are still stopped below
                    failed = error
                    continue
                daemons.append(daemon)
                sockets.append(sock)
            if failed is not None:
                raise failed
        started = time.perf_counter()
        print(
            f"{len(cells)} calls on {plan_.daemons} cortexd daemon(s), started in "
            f"{started - began:.1f} s",
            file=sys.stderr,
        )
        uvloop.run(run(plan_, sockets))
        print(f"calls done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    finally:
        for started_process in (*daemons, upstream):
            started_process.stop()
    command = "uv run python -m benchmarks.faults"
    command += f" --rows {args.rows!r}" if args.rows else ""
    command += f" --faults {args.faults}" if faults != list(FAULTS) else ""
    command += f" --cortexd {args.cortexd}" if args.cortexd != BIN else ""
    print(f"Measured {date.today().isoformat()} with `{command}`")
    print()
    print(table(cells))
    print()
    over = [c for c in cells if not c.within_promise]
    hedged = sum(1 for c in cells if c.cancelled)
    print(
        f"Hedging cost: {hedged} cell(s) list a cancelled attempt (a hedge's loser)"
        if hedged
        else "Hedging cost: '—', no attempt was cancelled (hedging is not built yet, issue 20)"
    )
    print(f"{len(over)} of {len(cells)} cells took longer than {PROMISE_S:.0f} s.")
    if args.json:
        records = []
        for cell in cells:
            record = asdict(cell)
            record["row"] = cell.row.task
            record["chain"] = list(cell.row.chain)
            records.append(record)
        args.json.write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    main()

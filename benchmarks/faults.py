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
import json
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import date
from pathlib import Path

import uvloop

from benchmarks.faults_calls import run
from benchmarks.faults_plan import PROMISE_S, Cell, plan, seed_rows
from benchmarks.processes import BIN, Started, start_cortexd, start_upstream
from benchmarks.upstream_faults import FAULTS


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def table(cells: Sequence[Cell]) -> str:
    """The Markdown table: one line a cell, in the plan's order."""
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

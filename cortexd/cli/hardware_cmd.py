"""``cortex hardware``: the machine as cortexd sees it — GPUs (NVML), Apple Silicon, CPU, RAM —
and why there is no GPU when there is none. Asks the daemon; probes from here without one."""

from __future__ import annotations

import argparse
import json
from typing import Any

GIB = 1024**3


def register(sub: Any) -> None:
    p = sub.add_parser("hardware", help="the GPUs, unified memory, CPU and RAM cortexd sees")
    p.add_argument("--json", action="store_true", help="print the raw JSON")
    p.set_defaults(run=run)


def _gib(n: int | None) -> str:
    return "—" if n is None else f"{n / GIB:.1f} GiB"


def run(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from cortexd.cli.common import rich_console
    from cortexd.client import Client, DaemonNotRunning
    from cortexd.client_admin import Hardware

    console = rich_console()
    source = "cortexd"
    try:
        with Client() as client:
            data = client.hardware()
    except DaemonNotRunning:
        from cortexd.hardware import load_nvml, probe

        data = Hardware.from_json(probe(nvml=load_nvml()).as_json())
        source = "this command (cortexd is not running)"
    if args.json:
        print(json.dumps(data.json, indent=2))
        return 0
    console.print(f"probed by {source}")
    console.print(
        f"CPU: {data.cpu_cores} cores, {data.cpu_threads} threads; RAM: "
        f"{_gib(data.ram_available_bytes)} free of {_gib(data.ram_total_bytes)}"
    )
    if data.apple:
        a = data.apple
        console.print(
            f"Apple Silicon: {escape(a.chip)}, {_gib(a.memory_bytes)} unified memory, "
            f"{a.performance_cores} performance + {a.efficiency_cores} efficiency cores"
        )
    if data.gpus:
        table = Table(title=f"GPUs (driver {data.driver_version}, CUDA {data.cuda_version})")
        for column in ("#", "name", "free", "total", "use", "compute", "processes"):
            table.add_column(column, justify="left" if column == "name" else "right")
        for g in data.gpus:
            use = "—" if g.utilization_pct is None else f"{g.utilization_pct}%"
            table.add_row(
                str(g.index), escape(g.name), _gib(g.free_bytes), _gib(g.total_bytes),
                use, g.compute_capability or "—", str(len(g.processes)),
            )  # fmt: skip
        console.print(table)
    if data.gpu_note:
        console.print(f"[yellow]{escape(data.gpu_note)}[/]")
    rows = data.local_rows
    if rows:
        table = Table(title="Local Models rows")
        for column in ("task type", "local model", "state", "why"):
            table.add_column(column, overflow="fold")
        for r in rows:
            state = "[green]active[/]" if r.active else "[dim]off[/]"
            if r.active and r.place:
                state += f" ({r.place})"
            table.add_row(escape(r.task), escape(r.model), state, escape(r.why))
        console.print(table)
    elif rows is None:
        console.print("[dim]local rows: ask the running daemon (cortexd) to see them[/]")
    return 0

"""The faults run's calls (benchmarks/faults.py): each cell's chat completion through
cortexd's socket with its fault marked in the prompt, what the client saw of it, and the
healthy calls that close a primary's circuit between a lane's batches.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any

import httpx2
import openai

from benchmarks.faults_plan import Cell, Plan, batches
from benchmarks.targets import socket_client
from benchmarks.upstream_faults import fault_mark

#: Longer than cortexd's own deadline (120 s), so the daemon, not the client, gives up.
CLIENT_TIMEOUT_S = 180.0
PROMPT = "What is the answer? ({mark}) Reply in one short sentence."
HEALTHY = [{"role": "user", "content": "What is the answer? Reply in one short sentence."}]


def _client(sock: Path) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://cortexd/v1",
        api_key="unused",  # the socket is guarded by the peer's uid, not a key
        max_retries=0,
        http_client=socket_client(sock, CLIENT_TIMEOUT_S),
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
            messages=HEALTHY,  # type: ignore[arg-type]
            max_tokens=16,
        )
        if ((answer.model_extra or {}).get("cortex") or {}).get("model") == alias:
            return
        await asyncio.sleep(1.0)  # skipped (an open circuit): wait for it to half-open
    print(f"warning: {alias} did not answer by name for 30 s", file=sys.stderr)


async def run_lane(client: openai.AsyncOpenAI, alias: str, cells: Sequence[Cell]) -> None:
    """One primary's quick-fault cells, a batch at a time, its circuit closed after each."""
    for batch in batches(cells):
        await asyncio.gather(*(run_cell(client, cell) for cell in batch))
        await close_circuit(client, alias)


async def run(plan_: Plan, sockets: Sequence[Path]) -> None:
    """Every cell of `plan_`: the lanes on the first socket's daemon, then each stall group
    on its own."""
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

"""``GET /v1/hardware``: the machine as the daemon last probed it (NVML, sysctl, psutil), and
which Local Models rows are active on it and why the others are not."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cortexd.hardware import load_nvml, probe
from cortexd.local_rows import LocalState, assess
from cortexd.routing import ModelSpec, host_and_port
from cortexd.routing.providers import ProviderConnectionError
from cortexd.services import Services

log = logging.getLogger("cortexd")

#: Ollama's port, where its address names none.
OLLAMA_PORT = 11434
#: How long a connect to Ollama's address may take before it counts as not running.
CONNECT_CHECK_S = 0.5


async def probe_now(services: Services) -> None:
    """Probe the machine in a thread (NVML and sysctl block), then decide which local rows
    are active; both are kept, and the router uses the rows from the next request on."""
    profile = await asyncio.to_thread(lambda: probe(nvml=load_nvml()))

    async def pulled(spec: ModelSpec) -> Mapping[str, int]:
        address = services.registry.ollama_address(spec)
        if not await listening(address):
            # No Ollama running: its SDK is not loaded to be told so.
            raise ProviderConnectionError(f"nothing listens at {address}", provider="ollama")
        # Asking Ollama builds its adapter, which imports its SDK: never on the loop.
        await services.registry.ready([spec])
        provider = services.registry(spec)
        return {m.name: m.size for m in await provider.pulled()}  # type: ignore[attr-defined]

    routing = services.routing
    before = services.local
    services.local = await assess(routing.table, routing.catalog, profile, pulled)
    services.hardware = profile
    if services.local.rows != before.rows:
        log.info("%s", rows_line(services.local))
    # The Embeddings row may have turned on.
    services.similarity.prepare(routing, services.local.active_models)


async def listening(address: str) -> bool:
    """Whether something accepts TCP connections at `address` (an unreadable one: assumed
    so, and the SDK says what is wrong)."""
    found = host_and_port(address, OLLAMA_PORT)
    if found is None:
        return True
    try:
        async with asyncio.timeout(CONNECT_CHECK_S):
            _, writer = await asyncio.open_connection(*found)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def hardware(request: Request) -> Response:
    """The last profile and the local rows; probed now if the daemon has none yet."""
    services: Services = request.app.state.services
    if services.hardware is None:
        await probe_now(services)
    assert services.hardware is not None
    out = services.hardware.as_json()
    out["local_rows"] = [asdict(r) for r in services.local.rows]
    return JSONResponse(out)


def rows_line(local: LocalState) -> str:
    """The Local Models rows in one log line: which route now, and why the others do not
    (rows off for the same reason are named together).

    >>> from cortexd.local_rows import RowState
    >>> why = "Ollama is not running"
    >>> rows_line(LocalState((RowState("Embeddings", "nomic-embed-text", False, why),
    ...                       RowState("Bulk operations", "llama3.1:8b", False, why))))
    'local rows: none active; off, Ollama is not running: Embeddings, Bulk operations'
    """
    on = [f"{r.task} ({r.model}, {r.place})" if r.place else f"{r.task} ({r.model})"
          for r in local.rows if r.active]  # fmt: skip
    off: dict[str, list[str]] = {}
    for row in local.rows:
        if not row.active:
            off.setdefault(row.why, []).append(row.task)
    said = [f"local rows: {', '.join(on) or 'none'} active"]
    said += [f"off, {why}: {', '.join(tasks)}" for why, tasks in off.items()]
    return "; ".join(said)

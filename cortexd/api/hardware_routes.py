"""``GET /v1/hardware``: the machine as the daemon last probed it (NVML, sysctl, psutil), and
which Local Models rows are active on it and why the others are not."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cortexd.hardware import load_nvml, probe
from cortexd.local_rows import assess
from cortexd.routing import ModelSpec
from cortexd.services import Services


async def probe_now(services: Services) -> None:
    """Probe the machine in a thread (NVML and sysctl block), then decide which local rows
    are active; both are kept, and the router uses the rows from the next request on."""
    profile = await asyncio.to_thread(lambda: probe(nvml=load_nvml()))

    async def pulled(spec: ModelSpec) -> Mapping[str, int]:
        provider = services.registry(spec)
        return {m.name: m.size for m in await provider.pulled()}  # type: ignore[attr-defined]

    # Asking Ollama builds its adapter, which imports its SDK: never on the loop, so wait
    # for the start-up thread that loads them.
    await services.sdks_ready.wait()
    routing = services.routing
    services.local = await assess(routing.table, routing.catalog, profile, pulled)
    services.hardware = profile
    services.similarity.prepare(services)  # the Embeddings row may have turned on


async def hardware(request: Request) -> Response:
    """The last profile and the local rows; probed now if the daemon has none yet."""
    services: Services = request.app.state.services
    if services.hardware is None:
        await probe_now(services)
    assert services.hardware is not None
    out = services.hardware.as_json()
    out["local_rows"] = [asdict(r) for r in services.local.rows]
    return JSONResponse(out)

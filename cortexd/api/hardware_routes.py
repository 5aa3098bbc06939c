"""``GET /v1/hardware``: the machine as the daemon last probed it (NVML, sysctl, psutil)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cortexd.hardware import load_nvml, probe
from cortexd.services import Services


async def probe_now(services: Services) -> None:
    """Probe the machine in a thread (NVML and sysctl block) and keep the profile."""
    services.hardware = await asyncio.to_thread(lambda: probe(nvml=load_nvml()))


async def hardware(request: Request) -> Response:
    """The last profile; probed now if the daemon has none yet."""
    services: Services = request.app.state.services
    if services.hardware is None:
        await probe_now(services)
    assert services.hardware is not None
    return JSONResponse(services.hardware.as_json())

"""Capture in the daemon: one call from the start-up, one task to cancel at shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path

from starlette.applications import Starlette

from cortexd.capture._ask import AppAsk
from cortexd.capture._service import Capture
from cortexd.capture._watcher import InboxWatcher


def start_capture(app: Starlette, context_dir: Path) -> asyncio.Task[None]:
    """Serve ``POST /v1/capture`` and watch ``<context_dir>/inbox/``; the returned task runs
    the inbox until cancelled. Models are asked through `app`'s own chat route."""
    ask = AppAsk(app)
    capture = Capture(context_dir, ask)
    app.state.capture = capture

    async def run() -> None:
        try:
            await InboxWatcher(capture).run()
        finally:
            await ask.aclose()

    return asyncio.create_task(run(), name="inbox")

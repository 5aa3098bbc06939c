"""What a save of the routing file does while the daemon runs.

The whole file is read and validated off the event loop, then swapped in at once (calls
under way keep the table they started with). A file that fails validation keeps the last
good table serving; the error, with its lines, goes to the log and `/v1/health`, and one
notification goes out when the file turns bad, not at every save while it stays bad. A
save that restores a good file clears the error. A file caught half-written (an editor
that writes in place) is looked at again once it settles, so a save in progress is never
reported as a mistake.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from cortexd.bookkeeping.notices import Notice, Notifier
from cortexd.routing import RoutingFileError, load_routing_file_with_digest
from cortexd.services import Services, file_digest

log = logging.getLogger("cortexd")

#: How long a file that failed to parse must stay unchanged before the failure is reported.
SETTLE_S = 0.25


class HotReload:
    """Called by the file watcher after each burst of changes to the routing file;
    `after` runs after each successful swap (the hardware probe: rows may have changed)."""

    def __init__(
        self,
        services: Services,
        notices: Notifier,
        after: Callable[[], None] = lambda: None,
        *,
        settle_s: float = SETTLE_S,
    ) -> None:
        self._services = services
        self._notices = notices
        self._after = after
        self._settle_s = settle_s

    async def __call__(self) -> None:
        services = self._services
        path = services.routing_path
        try:
            table, digest = await asyncio.to_thread(load_routing_file_with_digest, path)
        except (RoutingFileError, OSError) as error:
            if await self._still_changing(error):
                return  # its writer is not done: the next change brings us back
            await self._failed(error)
            return
        if digest == services.routing_digest:
            if services.last_reload_error is not None:
                services.last_reload_error = None
                log.info("the routing file is back to the version being served")
            return  # touched, or saved unchanged: nothing to swap
        services.swap(table, digest)
        self._after()

    async def _still_changing(self, error: Exception) -> bool:
        path = self._services.routing_path
        before = await asyncio.to_thread(file_digest, path)
        await asyncio.sleep(self._settle_s)
        after = await asyncio.to_thread(file_digest, path)
        return before != after or (after is None and isinstance(error, FileNotFoundError))

    async def _failed(self, error: Exception) -> None:
        services = self._services
        was_good = services.last_reload_error is None
        services.reload_failed(error)
        if not was_good:
            return  # told already; the log and /v1/health carry the new details
        notice = Notice(
            "cortexd kept the previous routing table",
            f"{error}\nFix the file and save it again: cortexd reloads it by itself.",
            level="warning",
            kind="reload",
        )
        try:
            await self._notices.notify(notice)
        except Exception:  # a notifier that fails must not stop reloads
            log.exception("could not deliver the reload notice")

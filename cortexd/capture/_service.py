"""Capture: a note's text through the model's filing onto the shelf, from the inbox or the API.

Each step that touches the disk runs in a thread; the model is asked through the injected
`Ask` (in the daemon, cortexd's own chat route).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cortexd.capture._ask import Ask
from cortexd.capture._captured import Shelf
from cortexd.capture._errors import CaptureError
from cortexd.capture._filing import Filing, classify
from cortexd.capture._inbox import Claim, Inbox, Journal
from cortexd.capture._note import NoteFacts, display_name, render_note
from cortexd.capture._source import MAX_NOTE_BYTES, Source, source_from_text

log = logging.getLogger("cortexd.capture")

INBOX = "inbox"
CAPTURED = "captured"


def _now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class Filed:
    """A filed note: where it is, and how the model filed it."""

    path: Path
    filing: Filing
    model: str | None


class Capture:
    """Files notes under ``<context>/captured/``; watches nothing itself (`InboxWatcher`)."""

    def __init__(
        self,
        context_dir: Path,
        ask: Ask,
        *,
        limit: int = MAX_NOTE_BYTES,
        now: Callable[[], datetime] = _now,
    ) -> None:
        self.inbox = Inbox(context_dir / INBOX, limit)
        self.shelf = Shelf(context_dir / CAPTURED)
        self.limit = limit
        self._ask = ask
        self._now = now

    async def capture_text(self, text: str, source: str) -> Filed:
        """File `text` (sent through the API); `source` names where it came from.
        Raises `CaptureError` (`RefusedError`, `FilingError`, …)."""
        checked = source_from_text(text, self.limit)
        filing, model, when = await self._classify(checked, source)
        return await self._file(checked, source, filing, model, when)

    async def process(self, claim: Claim) -> Filed | None:
        """File a claimed inbox file, exactly once; what cannot be filed goes to ``failed/``.
        None when it was failed, or given back to the inbox because it was still changing."""
        try:
            read = await asyncio.to_thread(self.inbox.read, claim)
            journal = await asyncio.to_thread(self.inbox.journal, claim)
            source = read.source
            if journal is not None and journal.sha256 == source.sha256:
                filing, model, when = journal.filing, journal.model, journal.captured
            else:
                filing, model, when = await self._classify(source, claim.name)
                if await asyncio.to_thread(self.inbox.changed, claim, read.signature):
                    if await asyncio.to_thread(self.inbox.give_back, claim):
                        log.info("%r changed while being filed; it waits again", claim.name)
                        return None
                    read = await asyncio.to_thread(self.inbox.read, claim)
                    source = read.source  # the name is taken again: file the text as it is now
                journal = Journal(source.sha256, filing, when, model)
                await asyncio.to_thread(self.inbox.record, claim, journal)
            filed = await self._file(source, claim.name, filing, model, when)
            await asyncio.to_thread(self.inbox.done, claim)
        except (CaptureError, OSError) as error:
            reason = str(error) if isinstance(error, CaptureError) else _os_reason(error)
            await self._fail(claim, reason)
            return None
        except Exception as error:  # noqa: BLE001 - a bug must not leave the file claimed forever
            log.exception("filing %r failed", display_name(claim.name))
            await self._fail(claim, f"internal error in cortexd ({type(error).__name__})")
            return None
        log.info("filed %r as %s", display_name(claim.name), filed.path)
        return filed

    async def _classify(self, source: Source, name: str) -> tuple[Filing, str | None, datetime]:
        categories = await asyncio.to_thread(self.shelf.categories)
        filing, answer = await classify(self._ask, source.text, display_name(name), categories)
        return filing, answer.model, self._now()

    async def _file(
        self, source: Source, name: str, filing: Filing, model: str | None, when: datetime
    ) -> Filed:
        note = render_note(filing, source.text, NoteFacts(when, name, source.sha256, model))
        path = await asyncio.to_thread(self.shelf.file, filing, note, when)
        return Filed(path, filing, model)

    async def _fail(self, claim: Claim, reason: str) -> None:
        try:
            where = await asyncio.to_thread(self.inbox.fail, claim, reason)
        except (CaptureError, OSError) as error:
            # It stays claimed, and is tried again at the next start.
            log.error("could not move %r to failed/: %s", display_name(claim.name), error)
            return
        log.warning("could not file %r (%s); moved to %s", display_name(claim.name), reason, where)


def _os_reason(error: OSError) -> str:
    where = f" ({error.filename})" if error.filename else ""
    return f"{error.strerror or error}{where}"

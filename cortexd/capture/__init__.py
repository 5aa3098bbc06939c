"""Drop-in capture: notes dropped into ``inbox/`` (or sent with ``cortex capture``) are filed
by the "Quick capture / filing" route under ``captured/<category>/<date>-<slug>.md``."""

from __future__ import annotations

from cortexd.capture._ask import CAPTURE_TASK, Answer, AppAsk, Ask
from cortexd.capture._captured import Shelf
from cortexd.capture._daemon import start_capture
from cortexd.capture._errors import (
    CaptureError,
    FilingError,
    InvalidFilingError,
    RefusedError,
    TooLargeError,
    UnsafeFolderError,
)
from cortexd.capture._filing import Filing, classify, filing_messages, parse_filing
from cortexd.capture._inbox import FAILED, PROCESSING, REASON_SUFFIX, Claim, Inbox, Journal
from cortexd.capture._note import NoteFacts, category_slug, note_name, render_note, slugify
from cortexd.capture._readiness import Settling, Signature, ignored
from cortexd.capture._service import Capture, Filed
from cortexd.capture._source import MAX_NOTE_BYTES, Source, source_from_bytes, source_from_text
from cortexd.capture._watcher import InboxWatcher

__all__ = [
    "CAPTURE_TASK",
    "FAILED",
    "MAX_NOTE_BYTES",
    "PROCESSING",
    "REASON_SUFFIX",
    "Answer",
    "AppAsk",
    "Ask",
    "Capture",
    "CaptureError",
    "Claim",
    "Filed",
    "Filing",
    "FilingError",
    "Inbox",
    "InboxWatcher",
    "InvalidFilingError",
    "Journal",
    "NoteFacts",
    "RefusedError",
    "Settling",
    "Shelf",
    "Signature",
    "Source",
    "TooLargeError",
    "UnsafeFolderError",
    "category_slug",
    "classify",
    "filing_messages",
    "ignored",
    "note_name",
    "parse_filing",
    "render_note",
    "slugify",
    "source_from_bytes",
    "source_from_text",
    "start_capture",
]

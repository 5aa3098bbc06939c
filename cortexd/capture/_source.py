"""A note's text as it arrives, checked: UTF-8 text, no NUL bytes, not blank, not too large."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cortexd.capture._errors import RefusedError, TooLargeError

#: The largest note cortexd files, in bytes (docs/capture.md).
MAX_NOTE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Source:
    """A note's text and the sha256 of its bytes (recorded in the note's front matter)."""

    text: str
    sha256: str


def source_from_bytes(data: bytes, limit: int = MAX_NOTE_BYTES) -> Source:
    """The text of a dropped file; `RefusedError` says why it is not a text note.

    >>> source_from_bytes(b"\\xef\\xbb\\xbfhi").text
    'hi'
    >>> source_from_bytes(b"\\x89PNG\\x00")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cortexd.capture._errors.RefusedError: binary file: it holds NUL bytes; ...
    """
    if len(data) > limit:
        raise TooLargeError(f"too large: {len(data)} bytes, the limit is {limit}")
    if b"\x00" in data:
        raise RefusedError("binary file: it holds NUL bytes; only text and Markdown are filed")
    try:
        text = data.decode("utf-8-sig")  # a BOM is dropped: the front matter comes first
    except UnicodeDecodeError as error:
        raise RefusedError(
            f"not UTF-8 text (byte {error.start} is not valid UTF-8): binary, or text in "
            "another encoding; save it as UTF-8"
        ) from None
    if not text.strip():
        raise RefusedError("the file holds no text")
    return Source(text, hashlib.sha256(data).hexdigest())


def source_from_text(text: str, limit: int = MAX_NOTE_BYTES) -> Source:
    """The text sent to ``cortex capture``, checked as a dropped file would be."""
    return source_from_bytes(text.encode("utf-8", "surrogatepass"), limit)

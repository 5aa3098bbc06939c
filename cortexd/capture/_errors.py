"""The errors of drop-in capture, one tree under `CortexError`::

    CaptureError
    ├── RefusedError         the file cannot be captured: not text, a link, …
    │   └── TooLargeError    over the size limit
    ├── InvalidFilingError   the model's answer is not the filing asked for (retried once)
    ├── FilingError          no model gave a usable filing (the chain failed, or bad JSON twice)
    └── UnsafeFolderError    a folder cortexd writes in is a link or not a folder

An inbox file that raises any of them goes to ``inbox/failed/`` with the message as its reason.
"""

from __future__ import annotations

from cortexd.errors import CortexError


class CaptureError(CortexError):
    """Base of the capture errors; the message says what to do."""


class RefusedError(CaptureError):
    """The file is not something cortexd files: binary, too large, empty, a link, …"""


class TooLargeError(RefusedError):
    """The note is over the size limit."""


class InvalidFilingError(CaptureError):
    """The model's answer is not valid JSON of the filing's shape (the message says why)."""


class FilingError(CaptureError):
    """No model gave a usable filing. `status` is the HTTP status of the model call (429 or
    503 when models were unavailable or over budget; 0 when the answers were invalid)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class UnsafeFolderError(CaptureError):
    """A folder inside ``inbox/`` or ``captured/`` is a symbolic link or not a folder."""

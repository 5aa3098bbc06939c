"""Filing a note under ``captured/<category>/`` without ever replacing a file.

A note's bytes fix its name: ``<date>-<slug>.md``, else ``-2``, ``-3`` … The first free name
is written (no-clobber); a name already holding exactly these bytes means the note was filed
before (a claim resumed after a kill) and is not written again.

Blocking calls: run them in a thread off the event loop.
"""

from __future__ import annotations

import stat
from datetime import datetime
from pathlib import Path

from cortexd.capture._errors import CaptureError, RefusedError
from cortexd.capture._filing import Filing
from cortexd.capture._folders import Folder, read_regular, write_new
from cortexd.capture._note import category_slug, note_name

#: Names tried per note before giving up.
MAX_ATTEMPTS = 1000


class Shelf:
    """The ``captured/`` folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def categories(self) -> list[str]:
        """The category folders in use (real folders only)."""
        if not self.path.is_dir():
            return []
        with Folder.top(self.path) as top:
            return sorted(
                name
                for name in top.names()
                if not name.startswith(".")
                and (info := top.lstat(name)) is not None
                and stat.S_ISDIR(info.st_mode)
            )

    def file(self, filing: Filing, note: str, when: datetime) -> Path:
        """Write `note` (the whole text) for `filing`; the path it is filed at."""
        data = note.encode("utf-8", "surrogatepass")
        category = category_slug(filing.category)
        with Folder.top(self.path) as top, top.sub(category) as folder:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                name = note_name(filing, when, attempt)
                info = folder.lstat(name)
                if info is None:
                    if write_new(folder, name, data):
                        return folder.path / name
                    continue  # taken since the look: try the next name
                if stat.S_ISREG(info.st_mode) and info.st_size == len(data):
                    try:
                        if read_regular(folder, name, len(data), one_name=False) == data:
                            return folder.path / name  # filed before this run was killed
                    except RefusedError:
                        pass
        raise CaptureError(f"no free name for the note in {self.path / category}")

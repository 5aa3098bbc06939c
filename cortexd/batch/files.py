"""Files for cortexd's OpenAI-compatible Files API: kept in the daemon's state folder.

Each file is ``<id>.data`` with its object beside it as ``<id>.json`` (both 0600, written
atomically), so a restart finds every file. An id is checked against its shape before it
touches a path: an id is never a way out of the folder.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

from cortexd.context.atomic import write_atomic
from cortexd.context.paths import private_folder

_ID = re.compile(r"^file-[0-9a-f]{24}(-output|-errors)?$")


def valid_id(file_id: str) -> bool:
    """Whether `file_id` has the shape of our ids.

    >>> valid_id("file-" + "a" * 24), valid_id("../../etc/passwd")
    (True, False)
    """
    return bool(_ID.match(file_id))


class FileStore:
    """The files uploaded for batches, and the batches' output and error files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def data_path(self, file_id: str) -> Path:
        """Where a file's bytes are (`file_id` must be `valid_id`)."""
        if not valid_id(file_id):
            raise ValueError(f"not a file id: {file_id!r}")
        return self.folder / f"{file_id}.data"

    def add(
        self, data: bytes, filename: str, purpose: str, file_id: str | None = None
    ) -> dict[str, Any]:
        """Keep `data` as a new file; its object."""
        private_folder(self.folder)
        file_id = file_id or "file-" + secrets.token_hex(12)
        path = self.data_path(file_id)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.chmod(0o600)
        tmp.replace(path)
        info = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": Path(filename).name[:255] or "upload.jsonl",
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
        }
        write_atomic(self.folder / f"{file_id}.json", json.dumps(info))
        return info

    def get(self, file_id: str) -> dict[str, Any] | None:
        """A file's object; None when there is no such file."""
        if not valid_id(file_id):
            return None
        try:
            found: dict[str, Any] = json.loads((self.folder / f"{file_id}.json").read_text())
        except (OSError, ValueError):
            return None
        return found

    def listing(self) -> list[dict[str, Any]]:
        """Every file's object, newest first."""
        if not self.folder.is_dir():
            return []
        found = [self.get(p.stem) for p in self.folder.glob("file-*.json")]
        return sorted((f for f in found if f), key=lambda f: f["created_at"], reverse=True)

    def delete(self, file_id: str) -> bool:
        """Remove a file; False when there was none."""
        if self.get(file_id) is None:
            return False
        self.data_path(file_id).unlink(missing_ok=True)
        (self.folder / f"{file_id}.json").unlink(missing_ok=True)
        return True

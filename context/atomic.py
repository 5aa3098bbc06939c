"""Writing a file so that a reader sees the old whole file or the new whole file, never half."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from cortexd.context.paths import PRIVATE_FILE, private_folder
from cortexd.errors import CortexError


class FileChangedError(CortexError):
    """The file changed between reading it and writing the edit: nothing was written."""


def write_atomic(path: Path, text: str, mode: int = PRIVATE_FILE) -> None:
    """Write `text` to a temporary file beside `path`, fsync it, rename it over `path`, and
    fsync the folder so the rename itself survives a crash. Line endings are written as
    they are in `text`. The file gets `mode` (0600 unless told), a missing folder 0700."""
    private_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def rewrite(path: Path, text: str, *, was: bytes) -> None:
    """Replace the user's file `path` with `text` — the file a symlink points to, keeping its
    mode — unless it no longer holds the bytes `was` (an editor saved meanwhile)."""
    target = path.resolve()
    try:
        now = target.read_bytes()
    except OSError as error:
        raise FileChangedError(f"cannot read {path} again: {error.strerror}") from None
    if now != was:
        raise FileChangedError(f"{path} changed while the edit was prepared; nothing was written")
    write_atomic(target, text, mode=target.stat().st_mode & 0o777)

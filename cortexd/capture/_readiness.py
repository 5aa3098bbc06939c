"""Which inbox entries to look at, and when a dropped file's writer has finished with it.

There is no portable way to know that no process holds a file open for writing, so a file
is taken once it has stopped changing: the same inode, size, modification and change time
seen on two looks, and no change for `settle_s` seconds — by the change time (``st_ctime``,
which the kernel sets on every write and rename, so a copied ``mtime`` cannot fool it), or,
when the clock disagrees with it, by how long this process has watched it unchanged. A
writer that pauses longer than `settle_s` mid-file is the rule's limit (docs/capture.md).

Editors' swap and backup files, partial downloads and dotfiles are never taken; empty files
wait, since editors and ``touch`` create them before the text arrives.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: Seconds a file must stay unchanged before it is taken.
SETTLE_S = 2.0

_IGNORED_SUFFIXES = (
    ".swp",  # vim
    ".swo",
    ".swx",
    ".kate-swp",
    ".part",  # Firefox, wget, curl --output … .part
    ".partial",
    ".crdownload",  # Chrome, Edge
    ".download",  # Safari
    ".opdownload",  # Opera
    ".tmp",
    ".temp",
)


def ignored(name: str) -> bool:
    """Whether an inbox entry is never taken: dotfiles (``.#x`` locks, ``.x.swp``, rsync's
    temporaries), backups ``x~``, Emacs' ``#x#``, Office's ``~$x``, vim's ``4913`` probe,
    swap files and partial downloads.

    >>> [ignored(n) for n in ("note.md", ".note.md.swp", "note.md~", "a.crdownload", "4913")]
    [False, True, True, True, True]
    """
    lower = name.lower()
    return (
        name.startswith((".", "~$"))
        or name.endswith("~")
        or (name.startswith("#") and name.endswith("#"))
        or name == "4913"
        or lower.endswith(_IGNORED_SUFFIXES)
    )


@dataclass(frozen=True)
class Signature:
    """What changes when a file is written to or replaced."""

    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    mode: int

    @classmethod
    def of(cls, info: os.stat_result) -> Signature:
        """The signature in a stat result."""
        return cls(info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_mode)


class Settling:
    """Tracks inbox entries between looks and says when each has settled."""

    def __init__(self, settle_s: float = SETTLE_S) -> None:
        self.settle_s = settle_s
        self._seen: dict[str, tuple[Signature, float]] = {}

    def ready(self, name: str, signature: Signature, *, now: float, wall: float) -> bool:
        """Whether `name` has settled; `now` is a monotonic clock, `wall` the time of day.

        >>> s = Settling(2.0)
        >>> sig = Signature(1, 10, 0, 100 * 10**9, 0o100644)
        >>> s.ready("a", sig, now=0.0, wall=101.0), s.ready("a", sig, now=0.5, wall=101.5)
        (False, False)
        >>> s.ready("a", sig, now=1.0, wall=102.0)
        True
        """
        seen = self._seen.get(name)
        if seen is None or seen[0] != signature:
            self._seen[name] = (signature, now)  # first look, or it changed: start again
            return False
        watched = now - seen[1]
        quiet = wall - signature.ctime_ns / 1e9
        return watched >= self.settle_s or 0 <= quiet and quiet >= self.settle_s

    def forget(self, name: str) -> None:
        """Stop tracking `name` (taken, or emptied)."""
        self._seen.pop(name, None)

    def keep_only(self, names: set[str]) -> None:
        """Forget the entries no longer in the inbox."""
        for name in set(self._seen) - names:
            del self._seen[name]

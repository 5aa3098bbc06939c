"""glibc's malloc, set for a process that lives for weeks: two arenas, and fixed mmap and
trim thresholds. Set before any thread starts; each setting the environment already makes
(glibc's own ``MALLOC_*`` variables) is left to it.

- **Two arenas** (``M_ARENA_MAX``): glibc gives each thread that allocates an arena of its
  own, and memory freed in one is never reused by another. With the ledger's writer and
  the worker threads' reads, the daemon's memory grew a few MiB every so many thousand
  calls (6 MiB more at idle, and a third of the growth over 50,000 calls).
- **Fixed thresholds** (``M_MMAP_THRESHOLD``, ``M_TRIM_THRESHOLD``, at glibc's own starting
  value of 128 KiB): by default glibc raises the mmap threshold each time a large block is
  freed, after which blocks of that size come from the heap instead, where they leave holes
  the heap cannot give back. A large block (an agent's 300 KB request) then costs an mmap
  and a munmap: microseconds. In `benchmarks.memory` this alone left the growth from
  10,000 to 50,000 calls noisy (2.8, 9.5 and 1.8 MiB against 7.3): what grew was the
  report's month-wide reads (see `ledger/queries.stats` and `Ledger.reader`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping

#: glibc's mallopt parameters.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

#: (parameter, the environment variable that sets it instead, its name among
#: ``GLIBC_TUNABLES``, value)
SETTINGS = (
    (M_ARENA_MAX, "MALLOC_ARENA_MAX", "glibc.malloc.arena_max", 2),
    (M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold", 128 * 1024),
    (M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_", "glibc.malloc.trim_threshold", 128 * 1024),
)


def libc_mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``mallopt``, or None (musl, macOS)."""
    import ctypes

    # The process's own symbols, libc's among them: ctypes.util.find_library would run
    # ldconfig to find the same library.
    try:
        found: Callable[[int, int], int] | None = getattr(ctypes.CDLL(None), "mallopt", None)
    except OSError:
        return None
    return found


def tune_malloc(
    environ: Mapping[str, str],
    platform: str = sys.platform,
    mallopt: Callable[[int, int], int] | None = None,
) -> list[str]:
    """Apply `SETTINGS` on Linux with glibc, but none the environment makes itself (its
    variable, or its tunable in ``GLIBC_TUNABLES``); the names of those set."""
    if not platform.startswith("linux"):
        return []
    mallopt = mallopt or libc_mallopt()
    if mallopt is None:
        return []
    tunables = {t.split("=")[0] for t in environ.get("GLIBC_TUNABLES", "").split(":")}
    wanted = [
        (param, name, value)
        for param, name, tunable, value in SETTINGS
        if name not in environ and tunable not in tunables
    ]
    return [name for param, name, value in wanted if mallopt(param, value)]

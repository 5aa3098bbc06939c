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
  the heap cannot give back. In `benchmarks.memory` the daemon grew 7.3 MiB from 10,000 to
  50,000 calls with the moving threshold, and 2.8 MiB with it fixed. A large block (an
  agent's 300 KB request) then costs an mmap and a munmap: microseconds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping

#: glibc's mallopt parameters.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

#: (parameter, the environment variable that sets it instead, value)
SETTINGS = (
    (M_ARENA_MAX, "MALLOC_ARENA_MAX", 2),
    (M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_", 128 * 1024),
    (M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_", 128 * 1024),
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
    """Apply `SETTINGS` on Linux with glibc; the names of those set (mallopt said yes)."""
    if not platform.startswith("linux"):
        return []
    mallopt = mallopt or libc_mallopt()
    if mallopt is None:
        return []
    return [
        name for param, name, value in SETTINGS if name not in environ and mallopt(param, value)
    ]

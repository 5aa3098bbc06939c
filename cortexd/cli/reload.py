"""Telling the running daemon to reload its routing file: SIGHUP to the lock's holder.

The daemon holds an exclusive ``flock`` on ``<socket>.lock`` and writes its pid there, so the
pid is trusted only while the lock is held: a stale file from a crash names a process that
may now be something else, and is never signalled.
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
from pathlib import Path

from cortexd.errors import CortexError


def daemon_pid(socket: Path) -> int | None:
    """The pid of the cortexd serving `socket`, or None when none holds its lock."""
    lock = socket.with_name(socket.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise CortexError(f"cannot read the lock file {lock}: {error.strerror}") from None
    try:
        if os.fstat(fd).st_uid != os.getuid():
            raise CortexError(f"{lock} belongs to another user; not signalling its process")
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)  # we got it: nobody holds it, no daemon runs
        return None
    finally:
        os.close(fd)


def reload_daemon(socket: Path) -> int | None:
    """Send SIGHUP to the daemon serving `socket`; its pid, or None when none runs."""
    pid = daemon_pid(socket)
    if pid is None:
        return None
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        return None
    return pid


def wait_for_generation(
    socket: Path, before: dict[str, object], timeout_s: float = 5.0
) -> dict[str, object]:
    """The daemon's routing-file state (the health check's ``routing_file``) once its
    generation passed `before`'s, or a new reload error appeared; raises when neither
    happens in time."""
    from cortexd.client import Client

    deadline = time.monotonic() + timeout_s
    with Client(socket) as client:
        while True:
            state: dict[str, object] = client.health()["routing_file"]
            if state.get("generation") != before.get("generation"):
                return state
            if state.get("last_error") and state.get("last_error") != before.get("last_error"):
                return state
            if time.monotonic() > deadline:
                raise CortexError("the daemon did not reload in time; see its log")
            time.sleep(0.05)

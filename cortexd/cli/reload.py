"""Telling the running daemon to reload its routing file: SIGHUP to the daemon's process.

The pid comes from the daemon itself, over its socket (``/v1/health``); where the daemon
holds the socket's lock (``<socket>.lock``, an exclusive ``flock`` with its pid in it), the
two must agree. So a stale lock file left by a crash — whose pid may now be some other
process — is never signalled, nor is a lock taken a moment ago by a daemon still starting;
and a daemon that systemd handed its socket (no lock) is still found.
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
from pathlib import Path

from cortexd.errors import CortexError


def lock_holder(socket: Path) -> int | None:
    """The pid in `socket`'s lock file while its lock is held, else None."""
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


def daemon_pid(socket: Path) -> int | None:
    """The pid of the cortexd serving `socket`, or None when none answers there."""
    from cortexd.client import Client, DaemonNotRunning

    try:
        with Client(socket) as client:
            pid = client.health().pid
    except DaemonNotRunning:
        return None
    if not isinstance(pid, int) or pid <= 1:
        raise CortexError("the daemon did not say its pid; restart it to reload")
    holder = lock_holder(socket)
    if holder is not None and holder != pid:
        raise CortexError(
            f"the daemon on {socket} says pid {pid} but its lock names {holder}; "
            "not signalling either"
        )
    return pid


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
            state: dict[str, object] = dict(client.health().json["routing_file"])
            if state.get("generation") != before.get("generation"):
                return state
            if state.get("last_error") and state.get("last_error") != before.get("last_error"):
                return state
            if time.monotonic() > deadline:
                raise CortexError("the daemon did not reload in time; see its log")
            time.sleep(0.05)

"""`cortex` tells the daemon to reload by SIGHUP to its process: the pid the daemon gives over
its socket, checked against the lock's holder. A stale lock file's pid is never signalled,
and a daemon still starting (lock taken, handler not yet in place) is not killed by one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support.daemon import remove_home, short_home, start_daemon

from cortexd.cli.reload import lock_holder, reload_daemon

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.pwrite(fd, f"{os.getpid()}\\n".encode(), 0)
print("ready", flush=True)
time.sleep(30)
"""


def test_no_lock_file_and_no_daemon_means_nothing_to_reload(tmp_path: Path) -> None:
    assert lock_holder(tmp_path / "cortexd.sock") is None
    assert reload_daemon(tmp_path / "cortexd.sock") is None


def test_a_stale_lock_files_pid_is_never_signalled(tmp_path: Path) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        # A crashed daemon left its lock file, and its pid now belongs to someone else.
        (tmp_path / "cortexd.sock.lock").write_text(f"{bystander.pid}\n")
        assert lock_holder(tmp_path / "cortexd.sock") is None
        assert reload_daemon(tmp_path / "cortexd.sock") is None
        time.sleep(0.2)
        assert bystander.poll() is None  # SIGHUP would have ended it
    finally:
        bystander.kill()
        bystander.wait()


def test_a_held_lock_without_a_daemon_answering_is_not_signalled(tmp_path: Path) -> None:
    lock = tmp_path / "cortexd.sock.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        assert lock_holder(tmp_path / "cortexd.sock") == holder.pid
        assert reload_daemon(tmp_path / "cortexd.sock") is None  # nothing serves the socket
        time.sleep(0.2)
        assert holder.poll() is None
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_sighup_while_the_daemon_starts_does_not_kill_it() -> None:
    home = short_home()
    daemon = start_daemon(home, {}, wait=False)
    try:
        lock = daemon.socket.with_name(daemon.socket.name + ".lock")
        deadline = time.monotonic() + 30
        # From the moment it holds the lock, `cortex` may signal it.
        while lock_holder(daemon.socket) != daemon.process.pid:
            assert time.monotonic() < deadline and daemon.process.poll() is None, lock
            time.sleep(0.001)
        for _ in range(5):
            os.kill(daemon.process.pid, signal.SIGHUP)
            time.sleep(0.02)
        health = daemon.client().get("/v1/health").json()
        assert health["pid"] == daemon.process.pid
        assert reload_daemon(daemon.socket) == daemon.process.pid
        assert daemon.process.poll() is None
        daemon.stop()
        # Ended by the SIGTERM of stop() (uvicorn re-raises it), not by a SIGHUP.
        assert daemon.process.returncode == -signal.SIGTERM, daemon.output()
    finally:
        daemon.stop()
        remove_home(home)

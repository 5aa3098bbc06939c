"""`cortex` tells the daemon to reload by SIGHUP to the process holding the socket's lock —
and only while it holds it: a stale lock file's pid is never signalled."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from cortexd.cli.reload import daemon_pid, reload_daemon

HOLDER = """
import fcntl, os, signal, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.pwrite(fd, f"{os.getpid()}\\n".encode(), 0)
signal.signal(signal.SIGHUP, lambda *_: open(sys.argv[2], "a").write("hup\\n"))
print("ready", flush=True)
time.sleep(30)
"""


def test_no_lock_file_means_no_daemon(tmp_path: Path) -> None:
    assert daemon_pid(tmp_path / "cortexd.sock") is None
    assert reload_daemon(tmp_path / "cortexd.sock") is None


def test_a_stale_lock_files_pid_is_never_signalled(tmp_path: Path) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        # A crashed daemon left its lock file, and its pid now belongs to someone else.
        (tmp_path / "cortexd.sock.lock").write_text(f"{bystander.pid}\n")
        assert reload_daemon(tmp_path / "cortexd.sock") is None
        time.sleep(0.2)
        assert bystander.poll() is None  # SIGHUP would have ended it
    finally:
        bystander.kill()
        bystander.wait()


def test_the_lock_holder_gets_sighup(tmp_path: Path) -> None:
    lock, marks = tmp_path / "cortexd.sock.lock", tmp_path / "marks"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock), str(marks)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        assert daemon_pid(tmp_path / "cortexd.sock") == holder.pid
        assert reload_daemon(tmp_path / "cortexd.sock") == holder.pid
        deadline = time.monotonic() + 5
        while not marks.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marks.read_text() == "hup\n"
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()

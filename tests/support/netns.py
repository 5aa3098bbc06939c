"""Run a client in a private network namespace that can reach one server of the test, and no more.

A client (Claude Code, Codex) runs under ``unshare -n``: a namespace of its own whose only
interface is loopback, so nothing it tries can leave the machine. The server it talks to runs
in the test process, in the normal namespace, which the client's loopback cannot reach. A Unix
socket can: filesystem sockets cross network namespaces. So:

    client -> 127.0.0.1:PORT (relay, inside) -> Unix socket -> forwarder (test) -> server's TCP

The server still sees a real TCP connection, with every header the client sent (its token
check and its Host check are exercised), and the client sees a plain ``http://127.0.0.1:PORT``.

    with loopback_bridge("127.0.0.1", fake.port) as bridge:
        subprocess.run(bridge.command(["curl", bridge.url("/v1/models")]), ...)
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

_CHUNK = 65536
# A socket path must fit sun_path (108 bytes): the bridge's folder is a short one under /tmp,
# not the test's tmp_path, which can be longer than that.
_SOCKET_NAME = "bridge.sock"

# The relay, run as `python -c RELAY SOCKET PORT CLIENT...` inside the namespace, stdlib only.
# It brings loopback up (ioctl, so iproute2 need not be installed), listens on 127.0.0.1:PORT,
# then forks: the child relays each connection to the Unix socket, the parent becomes the
# client (exec, same pid: its exit status is the run's). Binding before the fork means the
# client can never connect before the relay listens. The child dies with the client
# (PR_SET_PDEATHSIG), so no relay outlives its run even when nobody kills the group, and lets
# go of the standard streams, so a reader of the client's output sees EOF when the client ends.
RELAY = r"""
import ctypes, fcntl, os, signal, socket, struct, sys, threading
sock_path, port, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sH", fcntl.ioctl(probe, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
fcntl.ioctl(probe, 0x8914, struct.pack("16sH", b"lo", flags | 1))
probe.close()
server = socket.create_server(("127.0.0.1", port), backlog=64)
client_pid = os.getpid()
if os.fork():
    try:
        os.execvp(argv[0], argv)
    except OSError as err:
        sys.stderr.write(f"relay: cannot run {argv[0]}: {err}\n")
        os._exit(127)
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
if os.getppid() != client_pid:
    os._exit(0)
quiet = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(quiet, fd)
def pump(src, dst):
    try:
        while data := src.recv(65536):
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
def serve(inner):
    outer = socket.socket(socket.AF_UNIX)
    try:
        outer.connect(sock_path)
    except OSError:
        inner.close()
        outer.close()
        return
    back = threading.Thread(target=pump, args=(outer, inner), daemon=True)
    back.start()
    pump(inner, outer)
    back.join()
    inner.close()
    outer.close()
while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


@functools.cache
def _unshare_problem() -> str | None:
    """Why a private network namespace cannot be made here, or None when it can."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    try:
        probe = subprocess.run(
            ["unshare", "-n", "true"], capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return "`unshare -n true` did not finish in 30 s"
    if probe.returncode != 0:
        return f"`unshare -n` is not permitted here: {probe.stderr.strip()}"
    return None


def require_unshare() -> None:
    """Skip the test when this machine cannot make a network namespace (not root, seccomp)."""
    problem = _unshare_problem()
    if problem is not None:
        pytest.skip(f"a client needs a private network namespace: {problem}")


@dataclass(frozen=True)
class Bridge:
    """An open bridge: a client run through `command` reaches the target at 127.0.0.1:`port`."""

    port: int
    socket_path: Path

    def url(self, path: str = "") -> str:
        """The URL the client inside the namespace uses; `path` is appended as given."""
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def prefix(self) -> list[str]:
        """What goes before a client's argv: a new network namespace, the relay in it."""
        return ["unshare", "-n", sys.executable, "-I", "-c", RELAY, str(self.socket_path),
                str(self.port)]  # fmt: skip

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` run in a new network namespace, the relay on `port` started before it.

        Run it in a process group of its own (``start_new_session=True``) and kill the group
        at the end: the client's children (Codex's native binary, the relay) are in it.
        """
        return [*self.prefix, *argv]


class _Forwarder:
    """Accepts on a Unix socket in the test process and forwards each connection over TCP."""

    def __init__(self, socket_path: Path, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.socket(socket.AF_UNIX)
        self._listener.bind(str(socket_path))
        self._listener.listen(64)
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept_loop)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name="loopback-bridge", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                inner, _ = self._listener.accept()
            except OSError:
                return  # closed by close()
            self._spawn(self._serve, inner)

    def _track(self, *socks: socket.socket) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._open.update(socks)
            return True

    def _serve(self, inner: socket.socket) -> None:
        try:
            outer = socket.create_connection(self._target, timeout=10)
        except OSError:
            inner.close()  # the client sees the connection drop, as a refused one would
            return
        outer.settimeout(None)
        if self._track(inner, outer):
            back = threading.Thread(target=_pump, args=(outer, inner), daemon=True)
            back.start()
            _pump(inner, outer)
            back.join()
        with self._lock:
            self._open.difference_update((inner, outer))
        inner.close()
        outer.close()

    def close(self) -> None:
        """Stop accepting, cut every open connection and join the threads."""
        with self._lock:
            self._closed = True
            socks, threads = list(self._open), list(self._threads)
        # shutdown() before close(): it wakes a thread blocked in accept() or recv().
        for sock in [self._listener, *socks]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for thread in threads:
            thread.join(10)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy src to dst until EOF, then half-close dst, so each direction ends on its own."""
    try:
        while data := src.recv(_CHUNK):
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        # A reset on either side ends both directions: wake the other pump too.
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def loopback_bridge(
    target_host: str, target_port: int, *, port: int | None = None
) -> Iterator[Bridge]:
    """A bridge from 127.0.0.1:`port` inside a namespace to `target_host`:`target_port` here.

    `port` defaults to the target's, so the Host header the client sends is the one the
    server would see without the bridge. Skips the test where namespaces cannot be made.
    """
    require_unshare()
    folder = Path(tempfile.mkdtemp(prefix="cortex-bridge-"))
    socket_path = folder / _SOCKET_NAME
    forwarder = _Forwarder(socket_path, (target_host, target_port))
    try:
        yield Bridge(port=port or target_port, socket_path=socket_path)
    finally:
        forwarder.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)
        folder.rmdir()

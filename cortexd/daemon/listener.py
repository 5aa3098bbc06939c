"""The daemon's listening socket: made safely here, handed to the server ready to accept.

A lock file next to the socket decides which instance owns it: the holder of an exclusive
``flock`` may replace a stale socket left by a crash; a second instance finds the lock held
and stops with a message naming the running one. The socket's folder is created 0700 and
the socket is 0600 from the moment it exists (bound under a strict umask). Under systemd
socket activation (``LISTEN_FDS``) the socket handed over is served as it is.

Beside it, a loopback TCP listener for tools that cannot use a socket (Claude Code, Codex):
on by default at a fixed port, so that a client configured once keeps working; only loopback
addresses; a port that is taken costs the TCP listener, never the daemon.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import ipaddress
import os
import socket
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cortexd.errors import CortexError

#: AF_UNIX paths are limited to 108 bytes on Linux (104 on macOS), the final NUL included.
MAX_SOCKET_PATH = 100
_SD_LISTEN_FDS_START = 3
#: The loopback TCP listener's documented address, on unless ``--tcp off`` / ``CORTEX_TCP=off``:
#: a fixed port, so that a client's settings written once keep working.
DEFAULT_TCP = "127.0.0.1:7462"
TCP_OFF = "off"
#: The listener's bearer token, in the state folder (mode 0600).
TOKEN_FILE_NAME = "tcp-token"


class ListenerError(CortexError):
    """The socket cannot be opened; the message says what to do.

    Not under `CortexError`: this module is imported before anything else at start-up, and
    importing `cortexd.routing` costs a third of a second.
    """


class AlreadyRunningError(ListenerError):
    """Another cortexd holds the lock for this socket."""


class TcpBindError(ListenerError):
    """The TCP address is valid but cannot be bound (its port is taken): the daemon goes on
    with its Unix socket alone."""


@dataclass
class Listener:
    """A bound, listening socket and what must be undone when the daemon stops."""

    sock: socket.socket
    path: Path | None  # None: handed over by the service manager, not ours to remove
    lock_fd: int | None = None
    tcp: socket.socket | None = None  # the optional loopback TCP listener
    closed: bool = False

    @property
    def sockets(self) -> list[socket.socket]:
        """Every socket to serve."""
        return [self.sock] + ([self.tcp] if self.tcp is not None else [])

    def close(self) -> None:
        """Close the sockets, remove the Unix one if we made it, and release the lock.

        Safe to call more than once.
        """
        if self.closed:
            return
        self.closed = True
        self.sock.close()  # uvicorn may have closed it already: closing again is harmless
        if self.tcp is not None:
            self.tcp.close()
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        if self.lock_fd is not None:
            os.close(self.lock_fd)  # closing the descriptor releases the flock
            self.lock_fd = None


def activated_socket(env: Mapping[str, str]) -> socket.socket | None:
    """The socket systemd passed (``LISTEN_FDS``, ``LISTEN_PID``), if any."""
    if env.get("LISTEN_PID") != str(os.getpid()):
        return None
    try:
        count = int(env.get("LISTEN_FDS", "0"))
    except ValueError:
        return None
    if count < 1:
        return None
    try:
        sock = socket.socket(fileno=_SD_LISTEN_FDS_START)
    except OSError as exc:
        raise ListenerError(
            f"LISTEN_FDS is set but descriptor {_SD_LISTEN_FDS_START} is no socket: {exc}"
        ) from None
    sock.setblocking(False)
    return sock


def _lock(lock_path: Path, socket_path: Path) -> int:
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ListenerError(f"cannot open the lock file {lock_path}: {exc.strerror}") from None
    if os.fstat(fd).st_uid != os.getuid():
        os.close(fd)
        raise ListenerError(f"{lock_path} belongs to another user; remove it first")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise AlreadyRunningError(
            f"cortexd is already running (pid {holder}) on {socket_path}; "
            "stop it first, or give this one another socket with --socket or CORTEX_SOCKET"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _prepare_folder(folder: Path, own: bool) -> None:
    if not folder.exists() and not folder.is_symlink():
        folder.mkdir(parents=True, mode=0o700)
        folder.chmod(0o700)  # mkdir's mode is filtered by the umask
    info = folder.lstat()
    if not own:
        # A folder the user chose for the socket (CORTEX_SOCKET) is theirs; the socket's own
        # mode and the lock file's O_NOFOLLOW guard it.
        return
    # cortexd's runtime folder may sit in a shared place (/tmp/runtime-$UID without
    # XDG_RUNTIME_DIR): another user could have made it, or put a symlink there.
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise ListenerError(f"{folder} is not a plain folder (a symlink?); remove it first")
    if info.st_uid != os.getuid():
        raise ListenerError(
            f"{folder} belongs to another user; cortexd will not put its socket there"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        folder.chmod(0o700)


def open_listener(
    path: Path, env: Mapping[str, str], *, own_folder: bool = True, backlog: int = 128
) -> Listener:
    """The daemon's socket: activated by systemd, or bound at `path` under the lock.

    `own_folder`: the socket's folder is cortexd's runtime folder, to be kept 0700.
    """
    handed = activated_socket(env)
    if handed is not None:
        return Listener(handed, None)
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise ListenerError(
            f"socket path too long for AF_UNIX ({len(os.fsencode(path))} bytes, at most "
            f"{MAX_SOCKET_PATH}): {path}; choose a shorter one with --socket or CORTEX_SOCKET"
        )
    _prepare_folder(path.parent, own_folder)
    lock_fd = _lock(path.with_name(path.name + ".lock"), path)
    try:
        with contextlib.suppress(FileNotFoundError):
            # We hold the lock, so whoever made this socket is gone: it is stale.
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise ListenerError(f"{path} exists and is not a socket; move it away first")
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is 0600 from its first moment
        try:
            sock.bind(os.fspath(path))
        finally:
            os.umask(old)
        path.chmod(0o600)
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        os.close(lock_fd)
        raise
    return Listener(sock, path, lock_fd)


def tcp_address(flag: str | None, env_value: str | None) -> str | None:
    """Where the loopback TCP listener listens: ``--tcp``, else ``CORTEX_TCP``, else the
    documented default; None when the one that decides says ``off``.

    >>> tcp_address(None, None)
    '127.0.0.1:7462'
    >>> tcp_address(None, " 127.0.0.1:9000 ")
    '127.0.0.1:9000'
    >>> tcp_address("127.0.0.1:9001", "off")
    '127.0.0.1:9001'
    >>> tcp_address("OFF", "127.0.0.1:9000") is None
    True
    """
    chosen = flag if flag is not None else (env_value or "").strip() or DEFAULT_TCP
    return None if chosen.strip().lower() == TCP_OFF else chosen.strip()


def parse_tcp(address: str) -> tuple[str, int]:
    """The host and port of a loopback ``HOST:PORT`` (``localhost`` is 127.0.0.1).

    >>> parse_tcp("[::1]:7462")
    ('::1', 7462)
    >>> parse_tcp("localhost:0")
    ('127.0.0.1', 0)
    """
    host, _, port_text = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if host == "localhost":
        host = "127.0.0.1"
    try:
        port = int(port_text)
        loopback = ipaddress.ip_address(host).is_loopback
        if not 0 <= port <= 65535:
            raise ValueError(port)
    except ValueError:
        raise ListenerError(
            f"--tcp (or CORTEX_TCP) wants HOST:PORT on loopback, or off; not {address!r}"
        ) from None
    if not loopback:
        raise ListenerError(
            f"--tcp {address}: only loopback addresses (127.0.0.1, ::1) are served; "
            "cortexd holds your API keys and is not for the network"
        )
    return host, port


def format_tcp(host: str, port: int) -> str:
    """``HOST:PORT`` as a URL would write it (an IPv6 host in brackets).

    >>> format_tcp("::1", 7462)
    '[::1]:7462'
    """
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def open_tcp(address: str) -> socket.socket:
    """A listening TCP socket on a loopback address (``127.0.0.1:7462``, ``[::1]:0``).

    A malformed or non-loopback address raises `ListenerError`; an address that cannot be
    bound (the port is taken) raises `TcpBindError`, which the daemon survives.
    """
    host, port = parse_tcp(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # Lets a restarted daemon take its port back from connections still in TIME_WAIT; Linux
    # still refuses a port that another socket listens on.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise TcpBindError(
                f"TCP port {port} on {host} is already in use (another cortexd, or another "
                "program); serving on the Unix socket only. Choose another port with "
                "--tcp HOST:PORT or CORTEX_TCP=HOST:PORT, or turn TCP off with --tcp off"
            ) from None
        raise TcpBindError(
            f"cannot listen on {address}: {exc.strerror}; serving on the Unix socket only"
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock

"""The service files as text: the systemd user unit, its socket unit, and the launchd agent.

Pure: everything comes in a `ServiceSpec`; nothing is read from the machine. The systemd
units are rendered from the templates beside this module (``*.in``) with the escaping
systemd needs (``%`` specifiers, quotes around a path with spaces); the
plist is built as a dictionary and written by `plistlib`, so its XML is escaped by
construction.
"""

from __future__ import annotations

import plistlib
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path, PurePosixPath

from cortexd.service.errors import ServiceError

#: The first line of every file `cortex service install` writes: uninstall removes only these.
MARKER = "Written by `cortex service install`; `cortex service uninstall` removes it."
SERVICE_UNIT = "cortexd.service"
SOCKET_UNIT = "cortexd.socket"
LAUNCHD_LABEL = "dev.cortexd"


@dataclass(frozen=True)
class ServiceSpec:
    """What the service files say, resolved for one user on one machine."""

    daemon: Path  # the cortexd executable, absolute
    key_file: Path  # NAME=value lines, mode 0600: the systemd credential `keys.env`
    socket: Path  # where clients connect (the .socket unit listens there)
    log_file: Path  # launchd: the daemon's stdout and stderr
    environment: Mapping[str, str] = field(default_factory=dict)  # non-secret variables only
    runtime_dir: Path | None = None  # $XDG_RUNTIME_DIR, written as systemd's %t
    socket_activated: bool = False  # systemd: a .socket unit starts the service


def _checked(text: str, what: str) -> str:
    """`text`, unless it holds a character no unit file line can carry."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in text):
        raise ServiceError(
            f"{what} {text!r} contains a control character (a newline?); "
            "a service file cannot hold it: choose another path"
        )
    return text


def escape_specifiers(text: str) -> str:
    """`text` with systemd's ``%`` specifiers made literal.

    >>> escape_specifiers("/home/me/100%/keys.env")
    '/home/me/100%%/keys.env'
    """
    return text.replace("%", "%%")


def exec_path(text: str) -> str:
    """The program of an ``ExecStart=`` line: ``%`` made literal, and quoted (``\\`` and
    ``"`` escaped) when it holds a space or a quote, so it stays one word. systemd expands
    ``$VARIABLES`` in the arguments only, so a ``$`` in the program's path stays as it is.

    >>> exec_path("/usr/bin/cortexd")
    '/usr/bin/cortexd'
    >>> exec_path("/opt/my tools/cortexd")
    '"/opt/my tools/cortexd"'
    >>> exec_path('/a/$HOME/100%/"x"')
    '"/a/$HOME/100%%/\\\\"x\\\\""'
    """
    literal = escape_specifiers(text)
    if not any(c in literal for c in " \t\"'\\;"):
        return literal
    inner = literal.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{inner}"'


def environment_line(name: str, value: str) -> str:
    """An ``Environment=`` line for one variable, quoted as a whole.

    >>> environment_line("CORTEX_HOME", "/home/me/my cortex")
    'Environment="CORTEX_HOME=/home/me/my cortex"'
    """
    assignment = f"{name}={_checked(value, name)}"
    inner = assignment.replace("\\", "\\\\").replace('"', '\\"')
    return f'Environment="{escape_specifiers(inner)}"'


def unit_path(path: Path, runtime_dir: Path | None = None) -> str:
    """A path as a unit file's value: under the runtime folder it is written with ``%t``
    (the user manager's $XDG_RUNTIME_DIR), anything else literally.

    >>> unit_path(Path("/run/user/1000/cortex/cortexd.sock"), Path("/run/user/1000"))
    '%t/cortex/cortexd.sock'
    >>> unit_path(Path("/srv/50%/cortexd.sock"))
    '/srv/50%%/cortexd.sock'
    """
    _checked(str(path), "the path")
    if not path.is_absolute():
        raise ServiceError(f"{path} is not an absolute path; a service file needs one")
    if runtime_dir is not None and path.is_relative_to(runtime_dir):
        return "%t/" + escape_specifiers(PurePosixPath(path.relative_to(runtime_dir)).as_posix())
    return escape_specifiers(str(path))


def _template(name: str) -> string.Template:
    return string.Template(files("cortexd.service").joinpath(name).read_text(encoding="utf-8"))


def systemd_unit(spec: ServiceSpec) -> str:
    """The ``cortexd.service`` user unit."""
    if spec.socket_activated:
        unit_extra = f"Requires={SOCKET_UNIT}\nAfter={SOCKET_UNIT}\n"
        # Enabling the service enables its socket, which starts the daemon again should it
        # be stopped and holds connections while it restarts. The daemon itself still
        # starts at login, not at the first connection: the budget checks, the weekly
        # review and the inbox watcher run inside it and must not wait for a client.
        install = f"WantedBy=default.target\nAlso={SOCKET_UNIT}"
    else:
        unit_extra = ""
        install = "WantedBy=default.target"
    environment = "".join(
        environment_line(name, value) + "\n" for name, value in sorted(spec.environment.items())
    )
    return _template("cortexd.service.in").substitute(
        marker=MARKER,
        unit_extra=unit_extra,
        exec_start=exec_path(_checked(str(spec.daemon), "the cortexd path")),
        key_file=unit_path(spec.key_file),
        environment=environment,
        install=install,
    )


def systemd_socket(spec: ServiceSpec) -> str:
    """The ``cortexd.socket`` unit that listens for cortexd and starts it on demand."""
    return _template("cortexd.socket.in").substitute(
        marker=MARKER, listen=unit_path(spec.socket, spec.runtime_dir)
    )


def launchd_plist(spec: ServiceSpec) -> str:
    """The launchd agent ``dev.cortexd.plist``.

    KeepAlive restarts cortexd when it exits with an error or a signal, not after a clean
    exit (the same policy as systemd's Restart=on-failure), so `launchctl kill TERM` stops
    it for good. The keys come from the 0600 key file: launchd has no credentials.
    """
    agent: dict[str, object] = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": [_checked(str(spec.daemon), "the cortexd path")],
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        # launchd restarts at most every 10 s by default; say so where a reader looks.
        "ThrottleInterval": 10,
        "Umask": 0o077,
        "StandardOutPath": _checked(str(spec.log_file), "the log path"),
        "StandardErrorPath": str(spec.log_file),
    }
    if spec.environment:
        agent["EnvironmentVariables"] = {
            name: _checked(value, name) for name, value in sorted(spec.environment.items())
        }
    text = plistlib.dumps(agent, sort_keys=False).decode("utf-8")
    # plistlib writes no comments; the marker goes after the DOCTYPE, where XML allows one.
    head, doctype, rest = text.partition("<!DOCTYPE")
    line_end = rest.index("\n") + 1
    return f"{head}{doctype}{rest[:line_end]}<!-- {MARKER} -->\n{rest[line_end:]}"

"""The service managers' commands (``systemctl --user``, ``launchctl``) and the process
boundary that runs them.

Install and uninstall only ever ask a `Runner` to run an argv; the real one runs the
program found on the given PATH, and tests put fake programs first on that PATH.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from cortexd.service.errors import ServiceError
from cortexd.service.layout import Layout, Platform
from cortexd.service.render import LAUNCHD_LABEL, SERVICE_UNIT, SOCKET_UNIT

#: Long enough for `enable --now` to wait for READY=1 (systemd's own start timeout is 90 s).
COMMAND_TIMEOUT_S = 120.0

Argv = tuple[str, ...]


@dataclass(frozen=True)
class CommandResult:
    """What a manager command did."""

    argv: Argv
    returncode: int
    stdout: str = ""
    stderr: str = ""

    def why(self) -> str:
        """The command and its own words, for an error message."""
        said = (self.stderr.strip() or self.stdout.strip()).splitlines()
        tail = f": {' '.join(said[-3:])}" if said else ""
        return f"`{shlex.join(self.argv)}` failed (exit {self.returncode}){tail}"


Runner = Callable[[Sequence[str]], CommandResult]


class ManagerMissingError(ServiceError):
    """The service manager's command is not on PATH."""


def subprocess_runner(env: Mapping[str, str], timeout: float = COMMAND_TIMEOUT_S) -> Runner:
    """A runner that runs commands found on `env`'s PATH, with `env` as their environment."""

    def run(argv: Sequence[str]) -> CommandResult:
        program = shutil.which(argv[0], path=env.get("PATH", os.defpath))
        if program is None:
            raise ManagerMissingError(_missing(argv[0]))
        try:
            done = subprocess.run(
                [program, *argv[1:]],
                capture_output=True,
                text=True,
                env=dict(env),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ServiceError(
                f"`{shlex.join(argv)}` did not finish within {timeout:.0f} s"
            ) from None
        except OSError as error:
            raise ServiceError(f"cannot run {program}: {error.strerror}") from None
        return CommandResult(tuple(argv), done.returncode, done.stdout, done.stderr)

    return run


def _missing(program: str) -> str:
    if program == "systemctl":
        return (
            "systemctl was not found on PATH: `cortex service` installs a systemd user unit, "
            "which needs systemd; elsewhere run `cortexd` under your own supervisor "
            "(`cortex service install --dry-run` shows the unit)"
        )
    return (
        f"{program} was not found on PATH: `cortex service` needs it to load the launchd "
        "agent (`cortex service install --dry-run` shows the plist)"
    )


class Manager(Protocol):
    """What install, uninstall and status ask of a service manager."""

    def start(self, layout: Layout) -> list[Argv]:
        """After the files are written: load them and start the service."""
        ...

    def stop(self, layout: Layout, installed: Sequence[str]) -> list[Argv]:
        """Before the files are removed: stop and disable what `installed` names."""
        ...

    def after_removal(self) -> list[Argv]:
        """After the files are removed: forget them."""
        ...

    def tolerated(self, result: CommandResult) -> bool:
        """A failed stop that means there was nothing to stop."""
        ...

    def inspect(self, layout: Layout, installed: Sequence[str]) -> list[Argv]:
        """The commands that show the manager's view of the service."""
        ...

    def log_hint(self, layout: Layout) -> str:
        """Where to read why the service failed."""
        ...


@dataclass(frozen=True)
class Systemd:
    """``systemctl --user``: the unit (and its socket) enabled, so started at login, and
    started now."""

    def start(self, layout: Layout) -> list[Argv]:
        # With a socket unit the daemon is started now too, not at the first connection:
        # its scheduled jobs (budget checks, the weekly review, the inbox) keep their times.
        units = (SOCKET_UNIT, SERVICE_UNIT) if layout.spec.socket_activated else (SERVICE_UNIT,)
        return [_systemctl("daemon-reload"), _systemctl("enable", "--now", *units)]

    def stop(self, layout: Layout, installed: Sequence[str]) -> list[Argv]:
        # The socket first, so that it cannot start the service again while it stops.
        units = sorted(installed, key=lambda u: u != SOCKET_UNIT)
        return [_systemctl("disable", "--now", *units)] if units else []

    def after_removal(self) -> list[Argv]:
        return [_systemctl("daemon-reload")]

    def tolerated(self, result: CommandResult) -> bool:
        return False

    def inspect(self, layout: Layout, installed: Sequence[str]) -> list[Argv]:
        properties = "LoadState,ActiveState,SubState,UnitFileState,MainPID,NRestarts"
        units = [SERVICE_UNIT, *(u for u in installed if u == SOCKET_UNIT)]
        return [_systemctl("show", f"--property={properties}", unit) for unit in units]

    def log_hint(self, layout: Layout) -> str:
        return f"journalctl --user -u {SERVICE_UNIT}"


@dataclass(frozen=True)
class Launchd:
    """``launchctl`` in the user's GUI domain: RunAtLoad starts the agent when it loads."""

    def start(self, layout: Layout) -> list[Argv]:
        return [("launchctl", "bootstrap", f"gui/{layout.uid}", str(layout.plist))]

    def stop(self, layout: Layout, installed: Sequence[str]) -> list[Argv]:
        return [("launchctl", "bootout", f"gui/{layout.uid}/{LAUNCHD_LABEL}")] if installed else []

    def after_removal(self) -> list[Argv]:
        return []

    def tolerated(self, result: CommandResult) -> bool:
        # bootout of an agent that is not loaded: ESRCH (3) or "Could not find service" (113).
        return result.argv[1:2] == ("bootout",) and result.returncode in (3, 113)

    def inspect(self, layout: Layout, installed: Sequence[str]) -> list[Argv]:
        return [("launchctl", "print", f"gui/{layout.uid}/{LAUNCHD_LABEL}")]

    def log_hint(self, layout: Layout) -> str:
        return f"tail {shlex.quote(str(layout.spec.log_file))}"


def _systemctl(*args: str) -> Argv:
    return ("systemctl", "--user", *args)


def manager_for(platform: Platform) -> Manager:
    """The service manager of `platform`."""
    return Systemd() if platform is Platform.LINUX else Launchd()

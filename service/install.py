"""Install, uninstall and inspect the service: write the files, then ask the manager.

Each action is planned first (what would be written, removed and run: what ``--dry-run``
prints) and then carried out. A failed install puts back every file it touched, so a
user is never left with half a service; uninstall removes only files install wrote.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cortexd.context.atomic import write_atomic
from cortexd.service.errors import ServiceError
from cortexd.service.layout import KEY_FILE_TEXT, Layout, Platform, ServiceFile
from cortexd.service.manager import Argv, CommandResult, Manager, ManagerMissingError, Runner
from cortexd.service.render import MARKER


@dataclass(frozen=True)
class Plan:
    """What an install or an uninstall does, in order."""

    stop: tuple[Argv, ...] = ()  # before any file changes
    write: tuple[ServiceFile, ...] = ()
    remove: tuple[Path, ...] = ()
    start: tuple[Argv, ...] = ()  # after the files changed
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.stop or self.write or self.remove or self.start)


def is_ours(path: Path) -> bool:
    """Whether `path` is a file that install wrote (it carries the marker line)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = handle.read(4096)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return False
    except OSError as error:
        raise ServiceError(f"cannot read {path}: {error.strerror}") from None
    return MARKER in head


def _installed(layout: Layout) -> list[Path]:
    return [p for p in layout.managed_paths() if is_ours(p)]


def _foreign(layout: Layout) -> list[Path]:
    return [p for p in layout.managed_paths() if p.exists() and not is_ours(p)]


def _check_key_file(path: Path) -> None:
    """Refuse a key file the daemon would refuse, before the service fails to start on it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid != os.getuid():
        raise ServiceError(f"the key file {path} belongs to another user; cortexd will not read it")
    if info.st_mode & 0o077:
        raise ServiceError(
            f"the key file {path} is readable by group or others and cortexd would refuse it; "
            f"run: chmod 600 {path}"
        )


def plan_install(layout: Layout, manager: Manager) -> Plan:
    """The steps of ``cortex service install``; raises before anything is done when a file
    in the way is not ours or the key file is not private."""
    foreign = [p for p in _foreign(layout) if p in {f.path for f in layout.files()}]
    if foreign:
        listed = ", ".join(str(p) for p in foreign)
        raise ServiceError(
            f"{listed} was not written by `cortex service install`; "
            "move it away (or remove it) and install again"
        )
    _check_key_file(layout.spec.key_file)
    write = tuple(f for f in layout.files() if not (f.create_only and f.path.exists()))
    wanted = {f.path for f in layout.files()}
    installed = _installed(layout)
    notes = []
    if installed:
        notes.append("cortexd is already installed: it is stopped, rewritten and started again")
    notes.extend(
        f"{variable} is set in this shell, but the service does not see it: put the key in "
        f"{layout.spec.key_file}"
        for variable in layout.keys_in_shell
    )
    return Plan(
        stop=tuple(manager.stop(layout, [p.name for p in installed])),
        write=write,
        remove=tuple(p for p in installed if p not in wanted),
        start=tuple(manager.start(layout)),
        notes=tuple(notes),
    )


def plan_uninstall(layout: Layout, manager: Manager) -> Plan:
    """The steps of ``cortex service uninstall``: stop, remove our files, forget them. The
    key file goes only while it is the untouched one install created."""
    installed = _installed(layout)
    notes = [f"left {p}: it was not written by `cortex service install`" for p in _foreign(layout)]
    if not installed:
        return Plan(notes=tuple(notes))
    remove = list(installed)
    key = layout.spec.key_file
    try:
        if key.read_text(encoding="utf-8") == KEY_FILE_TEXT:
            remove.append(key)
        else:
            notes.append(f"kept your key file {key}")
    except (OSError, UnicodeDecodeError):
        pass
    return Plan(
        stop=tuple(manager.stop(layout, [p.name for p in installed])),
        remove=tuple(remove),
        start=tuple(manager.after_removal()),
        notes=tuple(notes),
    )


@dataclass
class _Undo:
    """The files an install touched and what they held before, to put back on failure."""

    before: dict[Path, tuple[bytes, int] | None] = field(default_factory=dict)

    def remember(self, path: Path) -> None:
        if path in self.before:
            return
        try:
            self.before[path] = (path.read_bytes(), path.stat().st_mode & 0o777)
        except FileNotFoundError:
            self.before[path] = None

    def restore(self) -> list[str]:
        done = []
        for path, old in reversed(self.before.items()):
            with contextlib.suppress(OSError):
                if old is None:
                    path.unlink(missing_ok=True)
                    done.append(f"removed {path}")
                else:
                    write_atomic(path, old[0].decode("utf-8"), mode=old[1])
                    done.append(f"restored {path}")
        return done


def _write(item: ServiceFile) -> bool:
    """Write `item`; False when it is create-only and a file is already there."""
    if not item.create_only:
        write_atomic(item.path, item.text, mode=item.mode)
        return True
    item.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # O_EXCL: a key file that appeared since the plan is the user's and stays as it is.
    try:
        fd = os.open(item.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, item.mode)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(item.text)
    return True


def _run(runner: Runner, argv: Argv, manager: Manager) -> CommandResult:
    result = runner(argv)
    if result.returncode != 0 and not manager.tolerated(result):
        raise ServiceError(result.why())
    return result


def install(layout: Layout, plan: Plan, manager: Manager, runner: Runner) -> list[str]:
    """Carry out an install plan; returns what was done. On a failure after the first
    change, every file touched is put back and the error says so."""
    done: list[str] = []
    for argv in plan.stop:
        _run(runner, argv, manager)
    undo = _Undo()
    try:
        if layout.platform is Platform.MACOS:
            # launchd opens the log file but does not create its folder.
            layout.spec.log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for item in plan.write:
            if item.create_only:
                if _write(item):
                    undo.before[item.path] = None  # created here: a rollback removes it
                    done.append(f"created {item.path}")
                continue
            undo.remember(item.path)
            _write(item)
            done.append(f"wrote {item.path}")
        for path in plan.remove:
            undo.remember(path)
            path.unlink(missing_ok=True)
            done.append(f"removed {path}")
        for argv in plan.start:
            _run(runner, argv, manager)
            done.append(f"ran {' '.join(argv)}")
    except (ServiceError, OSError) as error:
        why = str(error)
        if isinstance(error, OSError) and error.filename:
            why = f"{error.filename}: {error.strerror}"
        units = [f.path.name for f in plan.write if f.path in layout.managed_paths()]
        for argv in manager.stop(layout, units):
            with contextlib.suppress(ServiceError):
                runner(argv)
        restored = undo.restore()
        for argv in manager.after_removal():
            with contextlib.suppress(ServiceError):
                runner(argv)
        undone = "; ".join(restored) or "nothing had been written"
        raise ServiceError(
            f"install failed: {why}\nrolled back: {undone}\n"
            f"see why with: {manager.log_hint(layout)}"
        ) from None
    return done


def uninstall(plan: Plan, manager: Manager, runner: Runner) -> list[str]:
    """Carry out an uninstall plan; returns what was done. A manager that cannot stop the
    service leaves every file in place, so the user can retry."""
    done: list[str] = []
    for argv in plan.stop:
        _run(runner, argv, manager)
        done.append(f"ran {' '.join(argv)}")
    for path in plan.remove:
        path.unlink(missing_ok=True)
        done.append(f"removed {path}")
    for argv in plan.start:
        _run(runner, argv, manager)
        done.append(f"ran {' '.join(argv)}")
    return done


@dataclass(frozen=True)
class Status:
    """The service's files and the manager's view of it."""

    files: tuple[tuple[Path, str], ...]  # path, "installed" / "absent" / "not ours" / "keys"…
    manager: tuple[CommandResult, ...]
    running: bool


def status(layout: Layout, manager: Manager, runner: Runner) -> Status:
    """Which files are installed and what the manager says (errors of the manager are shown
    as its answer, not raised: status is for finding out what is wrong)."""
    files: list[tuple[Path, str]] = []
    for path in layout.managed_paths():
        state = "installed" if is_ours(path) else "not ours" if path.exists() else "absent"
        files.append((path, state))
    key = layout.spec.key_file
    files.append((key, "keys" if key.exists() else "no keys"))
    installed = [p.name for p, s in files if s == "installed"]
    results = tuple(_ask(runner, argv) for argv in manager.inspect(layout, installed))
    return Status(tuple(files), results, bool(installed) and _running(results))


def _ask(runner: Runner, argv: Argv) -> CommandResult:
    try:
        return runner(argv)
    except ManagerMissingError as error:
        return CommandResult(argv, 127, stderr=str(error))


def _running(results: Sequence[CommandResult]) -> bool:
    for result in results:
        if result.returncode != 0:
            return False
        text = result.stdout
        if "ActiveState=active" in text or "state = running" in text:
            return True
    return False

"""Where the service files go and what they say, for one user, from the environment given.

Everything is read from the mapping passed in (HOME, XDG_CONFIG_HOME, PATH, CORTEX_*), so
tests point it at a temporary home; nothing is written here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from cortexd.context.environment import KEY_VARIABLES, Environment
from cortexd.context.paths import Paths
from cortexd.service.errors import ServiceError
from cortexd.service.render import (
    LAUNCHD_LABEL,
    SERVICE_UNIT,
    SOCKET_UNIT,
    ServiceSpec,
    launchd_plist,
    systemd_socket,
    systemd_unit,
)

#: Variables the daemon reads that the service must see as the installing shell does. Keys
#: are not among them: they travel in the key file (a systemd credential on Linux).
PASSED_VARIABLES = (
    "CORTEX_HOME",
    "CORTEX_SOCKET",
    "CORTEX_ROUTING_FILE",
    "CORTEX_KEY_FILE",
    "CORTEX_TCP",
    "OLLAMA_HOST",
    "ANTHROPIC_BASE_URL",
    "OPENAI_BASE_URL",
)
_PATH_VARIABLES = frozenset(
    {"CORTEX_HOME", "CORTEX_SOCKET", "CORTEX_ROUTING_FILE", "CORTEX_KEY_FILE"}
)

#: The key file install creates when there is none (systemd's LoadCredential= needs one).
#: Uninstall removes it only while it still holds exactly this text.
KEY_FILE_TEXT = """\
# API keys for cortexd, one NAME=value a line; a line starting with # is ignored.
# cortexd reads this file only while it is private to you (mode 600).
# Created by `cortex service install`; the service reads it at every start.
#ANTHROPIC_API_KEY=sk-ant-...
#OPENAI_API_KEY=sk-...
"""


class Platform(Enum):
    """The service manager: systemd on Linux, launchd on macOS."""

    LINUX = "linux"
    MACOS = "macos"

    @classmethod
    def of(cls, sys_platform: str) -> Platform:
        """The platform for a `sys.platform` value."""
        if sys_platform.startswith("linux"):
            return cls.LINUX
        if sys_platform == "darwin":
            return cls.MACOS
        raise ServiceError(
            f"cortex service knows systemd (Linux) and launchd (macOS), not {sys_platform}; "
            "run cortexd under your own supervisor"
        )


@dataclass(frozen=True)
class ServiceFile:
    """One file install writes."""

    path: Path
    text: str
    mode: int = 0o644
    create_only: bool = False  # the user's key file: created when missing, never replaced


@dataclass(frozen=True)
class Layout:
    """The service files of one platform and where they live."""

    platform: Platform
    spec: ServiceSpec
    folder: Path  # ~/.config/systemd/user or ~/Library/LaunchAgents
    uid: int
    keys_in_shell: tuple[str, ...] = ()  # key variables set where install runs (not passed)

    @classmethod
    def resolve(
        cls,
        env: Mapping[str, str],
        platform: Platform,
        *,
        executable: Path,
        uid: int,
        socket_activated: bool = False,
    ) -> Layout:
        """The layout for the user whose environment is `env`; `executable` is the running
        Python, beside which the ``cortexd`` script is installed."""
        if socket_activated and platform is not Platform.LINUX:
            raise ServiceError(
                "--socket is for systemd: a launchd agent would need cortexd to take its "
                "socket from launchd, which it does not; install without --socket"
            )
        home_text = env.get("HOME", "").strip()
        if not home_text or not Path(home_text).is_absolute():
            raise ServiceError("HOME is not set to an absolute path; cannot place service files")
        home = Path(home_text)
        cortex_env = Environment.read(env)
        paths = Paths.resolve(cortex_env)
        if platform is Platform.LINUX:
            config = env.get("XDG_CONFIG_HOME", "").strip()
            base = Path(config) if config and Path(config).is_absolute() else home / ".config"
            folder = base / "systemd" / "user"
        else:
            folder = home / "Library" / "LaunchAgents"
        # macOS logs where platformdirs' user_log_dir puts them; CORTEX_HOME keeps all in one.
        log_dir = (
            cortex_env.home / "log"
            if cortex_env.home is not None
            else home / "Library" / "Logs" / "cortex"
        )
        runtime_text = env.get("XDG_RUNTIME_DIR", "").strip()
        # The user manager always sets XDG_RUNTIME_DIR=/run/user/$UID; a shell without a
        # session may lack it (platformdirs then falls back to /tmp), the service will not.
        runtime = Path(runtime_text) if runtime_text.startswith("/") else Path(f"/run/user/{uid}")
        socket = paths.socket
        if platform is Platform.LINUX and cortex_env.socket is None and cortex_env.home is None:
            socket = runtime / "cortex" / socket.name
        spec = ServiceSpec(
            daemon=find_daemon(executable, env),
            key_file=_absolute(paths.key_file),
            socket=_absolute(socket),
            log_file=_absolute(log_dir / "cortexd.log"),
            environment=passed_environment(env),
            runtime_dir=runtime,
            socket_activated=socket_activated,
        )
        keys = tuple(v for v in KEY_VARIABLES.values() if env.get(v, "").strip())
        return cls(platform, spec, folder, uid, keys)

    @property
    def unit(self) -> Path:
        return self.folder / SERVICE_UNIT

    @property
    def socket_unit(self) -> Path:
        return self.folder / SOCKET_UNIT

    @property
    def plist(self) -> Path:
        return self.folder / f"{LAUNCHD_LABEL}.plist"

    def managed_paths(self) -> tuple[Path, ...]:
        """Every service file install may write on this platform (not the key file)."""
        if self.platform is Platform.LINUX:
            return (self.unit, self.socket_unit)
        return (self.plist,)

    def files(self) -> tuple[ServiceFile, ...]:
        """What install writes, in order: the key file when missing, then the service files."""
        key = ServiceFile(self.spec.key_file, KEY_FILE_TEXT, 0o600, create_only=True)
        if self.platform is Platform.MACOS:
            return (key, ServiceFile(self.plist, launchd_plist(self.spec)))
        written = [key, ServiceFile(self.unit, systemd_unit(self.spec))]
        if self.spec.socket_activated:
            written.append(ServiceFile(self.socket_unit, systemd_socket(self.spec)))
        return tuple(written)


def find_daemon(executable: Path, env: Mapping[str, str]) -> Path:
    """The ``cortexd`` script beside the running interpreter, else the one on PATH."""
    beside = executable.parent / "cortexd"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside.absolute()
    found = shutil.which("cortexd", path=env.get("PATH", os.defpath))
    if found is None:
        raise ServiceError(
            f"cannot find the cortexd executable (not beside {executable}, not on PATH); "
            "install cortexd first, e.g. `uv tool install cortexd`"
        )
    return Path(found).absolute()


def passed_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The non-secret variables of `env` the service needs, paths made absolute (a service
    does not start in the folder install ran in)."""
    passed: dict[str, str] = {}
    for name in PASSED_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            passed[name] = str(_absolute(Path(value))) if name in _PATH_VARIABLES else value
    return passed


def _absolute(path: Path) -> Path:
    """`path` absolute and normalised (systemd refuses a credential path with ``..``)."""
    return Path(os.path.abspath(path.expanduser()))

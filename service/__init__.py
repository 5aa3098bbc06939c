"""Running cortexd as a service: a systemd user unit (and socket) on Linux, a launchd agent
on macOS, and ``cortex service install|uninstall|status`` to put them in place.

Rendering (`render`) is pure; where the files go comes from the environment (`layout`);
the manager commands (`manager`) run through an injected `Runner`, the process boundary.
"""

from __future__ import annotations

from cortexd.service.errors import ServiceError
from cortexd.service.install import (
    Plan,
    Status,
    install,
    is_ours,
    plan_install,
    plan_uninstall,
    status,
    uninstall,
)
from cortexd.service.layout import KEY_FILE_TEXT, Layout, Platform, ServiceFile
from cortexd.service.manager import (
    CommandResult,
    Launchd,
    Manager,
    ManagerMissingError,
    Runner,
    Systemd,
    manager_for,
    subprocess_runner,
)
from cortexd.service.render import (
    LAUNCHD_LABEL,
    MARKER,
    SERVICE_UNIT,
    SOCKET_UNIT,
    ServiceSpec,
    launchd_plist,
    systemd_socket,
    systemd_unit,
)

__all__ = [
    "KEY_FILE_TEXT",
    "LAUNCHD_LABEL",
    "MARKER",
    "SERVICE_UNIT",
    "SOCKET_UNIT",
    "CommandResult",
    "Launchd",
    "Layout",
    "Manager",
    "ManagerMissingError",
    "Plan",
    "Platform",
    "Runner",
    "ServiceError",
    "ServiceFile",
    "ServiceSpec",
    "Status",
    "Systemd",
    "install",
    "is_ours",
    "launchd_plist",
    "manager_for",
    "plan_install",
    "plan_uninstall",
    "status",
    "subprocess_runner",
    "systemd_socket",
    "systemd_unit",
    "uninstall",
]

"""The systemd notify protocol (READY=1, STATUS=…, WATCHDOG=1, STOPPING=1), without a dependency."""

from __future__ import annotations

import socket
from collections.abc import Mapping


class SystemdNotifier:
    """Sends notifications to ``$NOTIFY_SOCKET`` when the service manager set one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        address = env.get("NOTIFY_SOCKET", "")
        # An abstract socket is written with a leading '@'.
        self._address = "\0" + address[1:] if address.startswith("@") else address

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def send(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields in one datagram; False when there is nobody to tell."""
        if not self._address:
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto("\n".join(fields).encode(), self._address)
            except OSError:
                return False
        return True

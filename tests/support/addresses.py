"""Loopback addresses for failure tests."""

from __future__ import annotations

import socket


def refused_url(path: str = "") -> str:
    """An http URL on loopback where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"

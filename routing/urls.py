"""Showing URLs without the secrets people put in them (user:password@, ?api-key=…)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """The URL with any user info and query string masked.

    >>> redact_url("https://user:sk-secret@host:8443/v1?api-key=sk-x")
    'https://***@host:8443/v1?***'
    >>> redact_url("http://localhost:11434")
    'http://localhost:11434'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))


def host_and_port(url: str, default_port: int) -> tuple[str, int] | None:
    """Where a server's URL points, for a bare TCP connect: host and port (the way Ollama
    writes its own address too: ``host:port`` or ``0.0.0.0`` without a scheme); None when it
    cannot be read.

    >>> host_and_port("http://127.0.0.1:11434", 11434), host_and_port("0.0.0.0", 11434)
    (('127.0.0.1', 11434), ('127.0.0.1', 11434))
    >>> host_and_port("https://gpu-box.lan", 11434), host_and_port("http://[::1", 1)
    (('gpu-box.lan', 443), None)
    """
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if not host:
        return None
    if host in ("0.0.0.0", "::"):  # listening everywhere: reached on loopback
        host = "127.0.0.1"
    if port is None:
        port = 443 if parts.scheme == "https" else default_port
    return host, port

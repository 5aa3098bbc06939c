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

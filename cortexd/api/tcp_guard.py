"""The optional loopback TCP listener's guard: its token, and Host/Origin checks.

A Unix socket is guarded by its file mode and the peer's uid; a TCP port on 127.0.0.1 is
reachable by every local user and, through DNS rebinding, by web pages in a browser. So a
request that came over TCP must carry the token (kept in a 0600 file) as a bearer credential
or an ``x-api-key`` (what Anthropic's clients send), name this port in its
``Host`` (a rebinding page sends its own host name), and send no foreign ``Origin``.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import stat
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from cortexd.routing import CortexError


class TokenFileError(CortexError):
    """The token file cannot be used safely."""


def load_or_create_token(path: Path) -> str:
    """The token in `path`, created (0600, random) when missing; a readable one is refused."""
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise TokenFileError(
                f"{path} is readable by others (mode {oct(mode)[2:]}); run: chmod 600 {path}"
            )
        token = path.read_text(encoding="utf-8").strip()
        if len(token) >= 32:
            return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    path.chmod(0o600)
    return token


def _credentials(headers: dict[bytes, bytes]) -> list[bytes]:
    """The tokens a request offers: a bearer credential (the scheme's case does not matter,
    RFC 7235) and an ``x-api-key``, which Anthropic's clients send for a key.

    >>> _credentials({b"authorization": b"bearer  abc", b"x-api-key": b"def"})
    [b'abc', b'def']
    >>> _credentials({b"authorization": b"Basic abc"})
    []
    """
    found = []
    scheme, _, credential = headers.get(b"authorization", b"").strip().partition(b" ")
    if scheme.lower() == b"bearer" and credential.strip():
        found.append(credential.strip())
    key = headers.get(b"x-api-key", b"").strip()
    if key:
        found.append(key)
    return found


class TcpGuard:
    """ASGI middleware: requests over TCP need the token, this port's Host, no foreign Origin.

    Requests over the Unix socket (whose server address has no port) pass untouched.
    """

    def __init__(self, app: ASGIApp, token: str, port: int) -> None:
        self.app = app
        self._token = token.encode()
        self._hosts = {f"{h}:{port}".encode() for h in ("127.0.0.1", "localhost", "[::1]")}
        self._origins = {b"http://" + h for h in self._hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Decided by the socket the request came in on, not by the client's address (uvicorn
        # leaves that empty when a TCP peer is already gone): fail closed.
        server = scope.get("server")
        on_tcp = isinstance(server, (tuple, list)) and len(server) == 2 and server[1] is not None
        if scope["type"] != "http" or not on_tcp:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        refusal = None
        if headers.get(b"host", b"") not in self._hosts:
            refusal = (403, "the Host header must name this loopback listener")
        elif b"origin" in headers and headers[b"origin"] not in self._origins:
            refusal = (403, "requests from web pages (a foreign Origin) are refused")
        elif not any(hmac.compare_digest(c, self._token) for c in _credentials(headers)):
            refusal = (
                401,
                "the listener's token is required, as `Authorization: Bearer <token>` or"
                " `x-api-key: <token>` (see the token file)",
            )
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message = refusal
        body = json.dumps(
            {
                "error": {
                    "message": message,
                    "type": "authentication_error",
                    "param": None,
                    "code": None,
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    # A wrong token stays wrong: the SDKs (and Claude Code) obey this.
                    (b"x-should-retry", b"false"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

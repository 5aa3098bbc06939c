"""One POST to the daemon's own ASGI application, without an HTTP client in between.

A batch sends thousands of requests to its own daemon; an httpx2 client over its ASGI
transport parsed a URL, built request and response models and normalised headers for each
(9 % of the daemon's CPU in a 2,000-line batch under the profiler). The ASGI protocol itself
is three messages each way, so the call is made directly.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Message


class AppCall:
    """POST JSON to `app` as a client with `user_agent` would."""

    def __init__(self, app: ASGIApp, user_agent: str) -> None:
        self._app = app
        self._agent = user_agent.encode()

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        """The status, headers (lower-case names) and decoded JSON body of the answer."""
        data = json.dumps(body, ensure_ascii=False).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"cortexd"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"user-agent", self._agent),
            ],
            "client": ("127.0.0.1", 0),
            "server": ("cortexd", 80),
        }
        sent = False
        done = asyncio.Event()
        status = 500
        headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            await done.wait()  # the client stays until the answer is whole
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    headers[name.decode("latin-1").lower()] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        try:
            await self._app(scope, receive, send)
        finally:
            done.set()
        raw = b"".join(chunks)
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = {
                "error": {"code": "not_json", "message": raw[:500].decode("utf-8", "replace")}
            }
        return status, headers, decoded

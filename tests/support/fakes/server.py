"""A small HTTP/1.1 server on raw asyncio, run in a background thread, for the provider fakes.

Raw asyncio rather than an HTTP framework so that faults can be injected at the socket level:
a connection reset, a chunked body that never finishes, a request that is never answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import itertools
import json
import socket
import struct
import threading
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

_HOST = "127.0.0.1"
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0
# Python's HTTPStatus lacks Anthropic's 529.
_EXTRA_REASONS = {529: "Site Overloaded"}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    connection: int = 0  # which TCP connection carried it, numbered from 1; shows keep-alive

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header's value by case-insensitive name."""
        return self.headers.get(name.lower(), default)


@dataclass(frozen=True)
class Reply:
    """An HTTP response: a Content-Length body, or, when ``chunks`` is set, a chunked stream.

    ``truncate`` drops the connection after the chunks without the terminating empty chunk.
    """

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: Sequence[bytes] | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    truncate: bool = False


@dataclass(frozen=True)
class Hang:
    """Never answer: hold the connection until the client leaves or the server stops."""


@dataclass(frozen=True)
class Reset:
    """Reset the connection (RST, through SO_LINGER 0) without sending anything."""


Action = Reply | Hang | Reset


class FakeServer:
    """An HTTP/1.1 server on 127.0.0.1, on an ephemeral port, in its own thread and event loop.

    Subclasses answer in ``handle``. Use it as a context manager (or ``start()``/``stop()``);
    every request is recorded in ``requests``. Keep-alive connections are served until the
    client closes them; stopping cancels whatever is still open.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._errors: list[str] = []
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._connection_ids = itertools.count(1)
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Start serving; returns once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("the fake server is already started")
        self._ready = threading.Event()
        self._start_error = None
        self._thread = threading.Thread(
            target=self._run, name=f"{type(self).__name__}-server", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("the fake server did not start in time")
        if self._start_error is not None:
            self._thread.join(_STOP_TIMEOUT)
            self._thread = None
            raise RuntimeError("the fake server failed to start") from self._start_error
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join the thread. Safe to call twice.

        The URLs stay as they were, so a test can point a client at a server that is down.
        """
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stop_event = self._loop, self._stop_event
        if loop is not None and stop_event is not None:
            with contextlib.suppress(RuntimeError):  # the loop may already have ended
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(_STOP_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError("the fake server did not stop in time")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what tests read -------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (0 before ``start``)."""
        return self._port

    @property
    def url(self) -> str:
        """The server's root URL, ``http://127.0.0.1:<port>``."""
        if not self._port:
            raise RuntimeError("the fake server is not started")
        return f"http://{_HOST}:{self._port}"

    @property
    def base_url(self) -> str:
        """The URL to hand to the SDK; providers whose SDK wants a path prefix override it."""
        return self.url

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of exceptions raised by ``handle`` (each also answered with a 500)."""
        with self._lock:
            return list(self._errors)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    def handle(self, request: RecordedRequest) -> Action:
        """Answer one request; runs on the server's thread."""
        raise NotImplementedError

    # -- the server thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # surfaced to start() rather than lost in the thread
            if not self._ready.is_set():
                self._start_error = err
                self._ready.set()
            else:
                raise

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        server = await asyncio.start_server(self._on_connection, host=_HOST, port=0)
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop_event.wait()
        finally:
            server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await server.wait_closed()

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer, next(self._connection_ids))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away, or sent something we cannot frame; either way, done
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection: int
    ) -> None:
        while True:
            request = await _read_request(reader, connection)
            if request is None:
                return
            with self._lock:
                self._requests.append(request)
            action = self._dispatch(request)
            if isinstance(action, Hang):
                # Reading until EOF notices a client that gives up; stop() cancels the rest.
                await reader.read()
                return
            if isinstance(action, Reset):
                _abort_with_reset(writer)
                return
            close = (request.header("connection") or "").lower() == "close"
            finished = await _send(writer, action, close=close)
            if close or not finished:
                return

    def _dispatch(self, request: RecordedRequest) -> Action:
        try:
            return self.handle(request)
        except Exception:
            text = traceback.format_exc()
            with self._lock:
                self._errors.append(text)
            return Reply(status=500, headers={"content-type": "text/plain"}, body=text.encode())


async def _read_request(reader: asyncio.StreamReader, connection: int) -> RecordedRequest | None:
    """Read one request, or None when the client closed the connection between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as err:
        if not err.partial.strip():
            return None
        raise
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _version = request_line.split(" ", 2)
    headers: dict[str, str] = {}
    for line in header_lines:
        if not line:
            continue
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0") or "0"))
    parts = urlsplit(target)
    return RecordedRequest(
        method=method.upper(),
        path=parts.path,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=headers,
        body=body,
        json=_parse_json(body),
        connection=connection,
    )


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            # Skip any trailers, up to the blank line that ends the message.
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _reason(status: int) -> str:
    if status in _EXTRA_REASONS:
        return _EXTRA_REASONS[status]
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


async def _send(writer: asyncio.StreamWriter, reply: Reply, *, close: bool) -> bool:
    """Write one reply; returns False when the connection must not be reused."""
    if reply.delay:
        await asyncio.sleep(reply.delay)
    headers = {"date": formatdate(usegmt=True), "server": "cortexd-fake"}
    headers.update({name.lower(): value for name, value in reply.headers.items()})
    if reply.chunks is None:
        headers["content-length"] = str(len(reply.body))
    else:
        headers["transfer-encoding"] = "chunked"
    if close or reply.truncate:
        headers["connection"] = "close"
    head = f"HTTP/1.1 {reply.status} {_reason(reply.status)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    writer.write(head.encode("latin-1"))
    if reply.chunks is None:
        writer.write(reply.body)
        await writer.drain()
        return True
    await writer.drain()
    for index, chunk in enumerate(reply.chunks):
        if not chunk:
            continue  # an empty chunk would end the body early
        if index and reply.chunk_delay:
            await asyncio.sleep(reply.chunk_delay)
        writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        await writer.drain()
    if reply.truncate:
        return False
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    return True


def _abort_with_reset(writer: asyncio.StreamWriter) -> None:
    # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()

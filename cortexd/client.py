"""A small client for cortexd's socket, for the CLI, editor plugins and scripts.

Sync (`Client`) and async (`AsyncClient`) over an httpx2 Unix-socket transport — httpx2 is
the HTTP package the official SDKs use, so one HTTP stack serves cortexd and its clients.
Errors come back as `DaemonError` with the daemon's message, or `DaemonNotRunning`. Every
answer comes back typed, a frozen dataclass that keeps the whole JSON as ``.json``: chat
answers, their stream, embeddings, captures, plans and health (`cortexd.client_answers`);
calls, ratings (`cortexd.client_calls`); stats, costs, budgets (`cortexd.client_spend`);
hardware, models, proposals (`cortexd.client_admin`); batches and the queue
(`cortexd.client_batches`).
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import quote

import httpx2

from cortexd.client_answers import Captured, ChatAnswer, ChatChunk, Embeddings, Health, Plan
from cortexd.context.environment import Environment
from cortexd.context.paths import Paths
from cortexd.errors import CortexError

if TYPE_CHECKING:  # loaded by the methods that answer them: a `cortex` command needs one
    from cortexd.client_admin import Hardware, ModelList, Proposals, Rejected
    from cortexd.client_batches import Batch, BatchEstimate, BatchList, QueuedTask, QueueListing
    from cortexd.client_calls import CallDetail, CallSummary, Rated
    from cortexd.client_spend import Budgets, Costs, Stats

#: How long a call may take; an answer from a reasoning model can take minutes.
TIMEOUT = httpx2.Timeout(600.0, connect=2.0)
#: Where the daemon's batches are.
_BATCHES = "/v1/cortex/batches"


class DaemonNotRunning(CortexError):
    """Nothing answers on the socket."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket
        super().__init__(
            f"cortexd is not running (no answer on {socket}); "
            "start it with `cortexd` or `cortex service install`"
        )


class DaemonError(CortexError):
    """The daemon answered with an error (its OpenAI-style message)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(f"{message} (HTTP {status})")


def default_socket() -> Path:
    """Where the daemon listens: ``CORTEX_SOCKET``, ``CORTEX_HOME``, or the runtime folder."""
    return Paths.resolve(Environment.read()).socket


def chat_body(
    messages: Sequence[Mapping[str, Any]],
    *,
    model: str = "auto",
    task: str | None = None,
    stream: bool = False,
    **cortex: Any,
) -> dict[str, Any]:
    """A chat completions body; `task` and the keyword arguments fill the cortex object."""
    options = {k: v for k, v in {"task": task, **cortex}.items() if v not in (None, False)}
    body: dict[str, Any] = {"model": model, "messages": list(messages), "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    if options:
        body["cortex"] = options
    return body


def _probe(path: Path) -> None:
    """Raise `DaemonNotRunning` unless something accepts on the socket.

    Checked with a plain socket first: a Unix-socket transport that fails to connect leaves
    its socket for the garbage collector, and there is nothing to say but "not running".
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            raise DaemonNotRunning(path) from None


def _params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if params is None else {k: v for k, v in params.items() if v is not None}


def _raise_for(answer: httpx2.Response) -> None:
    if answer.status_code < 400:
        return
    try:
        message = answer.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = answer.text[:500] or answer.reason_phrase
    raise DaemonError(answer.status_code, message)


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if not line.startswith("data: "):
            continue
        data = line[6:]
        if data == "[DONE]":
            return
        event = json.loads(data)
        if "error" in event:
            raise DaemonError(200, event["error"].get("message", "the stream broke off"))
        yield event


class Client:
    """The daemon, synchronously. `name` is the client its calls are recorded under (the
    ledger's ``client``, ``cortex stats --by client``): ``cortex`` for the CLI's own."""

    def __init__(self, socket: Path | None = None, *, name: str = "cortex") -> None:
        self.socket = socket or default_socket()
        self._http = httpx2.Client(
            transport=httpx2.HTTPTransport(uds=str(self.socket)),
            base_url="http://cortexd",
            timeout=TIMEOUT,
            headers={"user-agent": name},
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(
        self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        _probe(self.socket)
        try:
            answer = self._http.request(method, path, json=body, params=_params(params))
        except (httpx2.ConnectError, FileNotFoundError) as exc:
            raise DaemonNotRunning(self.socket) from exc
        _raise_for(answer)
        return answer.json()

    def health(self, check_all: bool = False) -> Health:
        """``GET /v1/health``; `check_all` asks every provider, loading SDKs no call has."""
        path = "/v1/health?check=all" if check_all else "/v1/health"
        return Health.from_json(self._request("GET", path))

    def models(self) -> ModelList:
        """``GET /v1/models``: ``auto``, every alias with its catalog row, the task routes."""
        from cortexd.client_admin import ModelList

        return ModelList.from_json(self._request("GET", "/v1/models"))

    def route(self, body: Mapping[str, Any]) -> Plan:
        """``POST /v1/route``: the plan for a chat body."""
        return Plan.from_json(self._request("POST", "/v1/route", dict(body)))

    def chat(self, body: Mapping[str, Any]) -> ChatAnswer:
        """``POST /v1/chat/completions`` without streaming."""
        return ChatAnswer.from_json(self._request("POST", "/v1/chat/completions", dict(body)))

    def estimate_batch(self, input: str | Path, *, provider_batch: bool = False) -> BatchEstimate:
        """``POST /v1/cortex/batches/estimate``: what the batch file `input` (a path on this
        machine) would cost, and the budgets it would pass."""
        from cortexd.client_batches import BatchEstimate

        body: dict[str, Any] = {"input": str(Path(input).resolve())}
        if provider_batch:
            body["provider_batch"] = True
        return BatchEstimate.from_json(self._request("POST", _BATCHES + "/estimate", body))

    def start_batch(
        self,
        input: str | Path,
        output: str | Path,
        *,
        concurrency: int | None = None,
        provider_batch: bool = False,
        retry_failed: bool = False,
        poll_seconds: float | None = None,
    ) -> Batch:
        """``POST /v1/cortex/batches``: the daemon runs the batch file `input`, writing one
        result a line to `output`; `concurrency` sends at once per provider, `provider_batch`
        through the providers' Batch APIs (polled every `poll_seconds`), `retry_failed` sends
        a line their batch did not answer again the normal way."""
        from cortexd.client_batches import Batch

        body: dict[str, Any] = {"input": str(Path(input).resolve())}
        body["output"] = str(Path(output).resolve())
        options = {
            "concurrency": concurrency,
            "provider_batch": provider_batch,
            "retry_failed": retry_failed,
            "poll_seconds": poll_seconds,
        }
        body.update((k, v) for k, v in options.items() if v not in (None, False))
        return Batch.from_json(self._request("POST", _BATCHES, body))

    def batches(self) -> BatchList:
        """``GET /v1/cortex/batches``: the latest batches, newest first."""
        from cortexd.client_batches import BatchList

        return BatchList.from_json(self._request("GET", _BATCHES))

    def batch(self, batch_id: str) -> Batch:
        """``GET /v1/cortex/batches/{id}``: one batch's state and counts."""
        from cortexd.client_batches import Batch

        return Batch.from_json(self._request("GET", f"{_BATCHES}/{quote(batch_id, safe='')}"))

    def cancel_batch(self, batch_id: str) -> Batch:
        """``POST /v1/cortex/batches/{id}/cancel``: lines not yet sent are reported unsent."""
        from cortexd.client_batches import Batch

        path = f"{_BATCHES}/{quote(batch_id, safe='')}/cancel"
        return Batch.from_json(self._request("POST", path))

    @overload
    def queue(self) -> QueueListing: ...

    @overload
    def queue(self, text: str) -> QueuedTask: ...

    def queue(self, text: str | None = None) -> QueueListing | QueuedTask:
        """``GET /v1/cortex/queue``: the coding tasks by state; with `text`, ``POST`` it as a
        new task (its file name, and the folder its answer will be in)."""
        from cortexd.client_batches import QueuedTask, QueueListing

        if text is None:
            return QueueListing.from_json(self._request("GET", "/v1/cortex/queue"))
        return QueuedTask.from_json(self._request("POST", "/v1/cortex/queue", {"text": text}))

    def stats(
        self, *, since: str | None = None, task: str | None = None, by: str | None = None
    ) -> Stats:
        """``GET /v1/stats``: per task type × model, and spend per day."""
        from cortexd.client_spend import Stats

        params = {"since": since, "task": task, "by": by}
        return Stats.from_json(self._request("GET", "/v1/stats", params=params))

    def costs(self) -> Costs:
        """``GET /v1/costs``: this month's spend per provider and its projection."""
        from cortexd.client_spend import Costs

        return Costs.from_json(self._request("GET", "/v1/costs"))

    def embed(self, body: Mapping[str, Any]) -> Embeddings:
        """``POST /v1/embeddings``."""
        return Embeddings.from_json(self._request("POST", "/v1/embeddings", dict(body)))

    def capture(self, text: str, name: str | None = None) -> Captured:
        """``POST /v1/capture``: file a note as the inbox would; its path, title, category."""
        body: dict[str, Any] = {"text": text} if name is None else {"text": text, "name": name}
        return Captured.from_json(self._request("POST", "/v1/capture", body))

    def hardware(self) -> Hardware:
        """``GET /v1/hardware``: the machine as the daemon last probed it."""
        from cortexd.client_admin import Hardware

        return Hardware.from_json(self._request("GET", "/v1/hardware"))

    def budgets(self) -> Budgets:
        """``GET /v1/budgets``: each budget against this month's spend, and the alerts sent."""
        from cortexd.client_spend import Budgets

        return Budgets.from_json(self._request("GET", "/v1/budgets"))

    def proposals(self) -> Proposals:
        """``GET /v1/proposals``: routing changes the ledger supports, with their evidence."""
        from cortexd.client_admin import Proposals

        return Proposals.from_json(self._request("GET", "/v1/proposals"))

    def reject(self, proposal_id: str) -> Rejected:
        """``POST /v1/proposals/reject``: set a proposal aside until new evidence."""
        from cortexd.client_admin import Rejected

        return Rejected.from_json(
            self._request("POST", "/v1/proposals/reject", {"id": proposal_id})
        )

    def calls(self, limit: int = 20) -> tuple[CallSummary, ...]:
        """``GET /v1/calls``: the latest calls, oldest first."""
        from cortexd.client_calls import CallSummary

        found = self._request("GET", "/v1/calls", params={"limit": limit})["data"]
        return tuple(CallSummary.from_json(c) for c in found)

    def call(self, call_id: str) -> CallDetail:
        """``GET /v1/calls/{id}``: one call whole (a unique prefix of its id will do)."""
        from cortexd.client_calls import CallDetail

        return CallDetail.from_json(self._request("GET", f"/v1/calls/{quote(call_id, safe='')}"))

    def feedback(self, call_id: str, rating: str, note: str | None = None) -> Rated:
        """``POST /v1/feedback``: rate a call good or bad."""
        from cortexd.client_calls import Rated

        body = {"call_id": call_id, "rating": rating, "note": note}
        return Rated.from_json(self._request("POST", "/v1/feedback", body))

    def tail(self, limit: int = 10) -> Iterator[CallSummary]:
        """The latest calls, then each new one as it is recorded (until interrupted)."""
        from cortexd.client_calls import CallSummary

        params = {"limit": limit, "follow": "true"}
        # No read timeout: a quiet hour between calls is no failure.
        for event in self._sse(
            "GET", "/v1/calls", params=params, timeout=httpx2.Timeout(None, connect=2.0)
        ):
            yield CallSummary.from_json(event)

    def stream(self, body: Mapping[str, Any]) -> Iterator[ChatChunk]:
        """``POST /v1/chat/completions`` streaming: the chunks as they arrive."""
        for event in self._sse("POST", "/v1/chat/completions", json=dict(body)):
            yield ChatChunk.from_json(event)

    def _sse(self, method: str, path: str, **options: Any) -> Iterator[dict[str, Any]]:
        _probe(self.socket)
        try:
            with self._http.stream(method, path, **options) as answer:
                if answer.status_code >= 400:
                    answer.read()
                    _raise_for(answer)
                yield from _events(answer.iter_lines())
        except (httpx2.ConnectError, FileNotFoundError) as exc:
            raise DaemonNotRunning(self.socket) from exc


class AsyncClient:
    """The daemon, asynchronously (for editor plugins and async scripts); `name` as for
    `Client`."""

    def __init__(self, socket: Path | None = None, *, name: str = "cortex") -> None:
        self.socket = socket or default_socket()
        self._http = httpx2.AsyncClient(
            transport=httpx2.AsyncHTTPTransport(uds=str(self.socket)),
            base_url="http://cortexd",
            timeout=TIMEOUT,
            headers={"user-agent": name},
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, body: Any = None) -> Any:
        _probe(self.socket)
        try:
            answer = await self._http.request(method, path, json=body)
        except (httpx2.ConnectError, FileNotFoundError) as exc:
            raise DaemonNotRunning(self.socket) from exc
        _raise_for(answer)
        return answer.json()

    async def health(self) -> Health:
        """``GET /v1/health``."""
        return Health.from_json(await self._request("GET", "/v1/health"))

    async def chat(self, body: Mapping[str, Any]) -> ChatAnswer:
        """``POST /v1/chat/completions`` without streaming."""
        return ChatAnswer.from_json(await self._request("POST", "/v1/chat/completions", dict(body)))

    async def stream(self, body: Mapping[str, Any]) -> AsyncIterator[ChatChunk]:
        """``POST /v1/chat/completions`` streaming: the chunks as they arrive."""
        _probe(self.socket)
        try:
            async with self._http.stream("POST", "/v1/chat/completions", json=dict(body)) as answer:
                if answer.status_code >= 400:
                    await answer.aread()
                    _raise_for(answer)
                async for line in answer.aiter_lines():
                    for event in _events(iter([line])):
                        yield ChatChunk.from_json(event)
                    if line == "data: [DONE]":
                        return
        except (httpx2.ConnectError, FileNotFoundError) as exc:
            raise DaemonNotRunning(self.socket) from exc

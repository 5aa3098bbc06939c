"""Starting, talking to and restarting the llama.cpp worker process.

The worker (`llamacpp_worker`) runs one request at a time; this side serialises calls, turns
the worker's events into our errors, and notices when it dies: a death while a model loads
marks that file bad (until it changes on disk) so one broken file cannot crash the worker on
every call; any other death fails the call in flight like a provider failure, and the next
call starts a fresh worker. A crash with layers on the GPU is not the file's fault (a CUDA
assertion, out of memory, aborts too): the call is sent again to a fresh worker with half the
layers, then with none, and the file keeps that cap; only a crash on the CPU marks it bad.

It also knows which files are in memory (from the worker's ``loaded`` and ``unloaded``
events) and how long each took to load, so a cold model can be skipped while it warms.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import sys
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cortexd.routing.providers.errors import (
    ContextLengthError,
    InvalidRequestError,
    ModelLoadError,
    NotConfiguredError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    ServerError,
)
from cortexd.routing.providers.llamacpp_process import crashed, describe_exit, worker_environment
from cortexd.routing.providers.llamacpp_worker import gpu_ladder, on_the_gpu

NAME = "llamacpp"
#: One event line may carry many embedding vectors; asyncio's default line limit is 64 KiB.
_LINE_LIMIT = 64 * 1024 * 1024
log = logging.getLogger(__name__)


def _file_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns


@dataclass(frozen=True)
class Load:
    """How a model file was last loaded: the layers on the GPU (-1: all), the seconds, and
    the GPU layer counts that failed on the way there, in words."""

    gpu_layers: int
    seconds: float
    tried: tuple[str, ...] = ()


class LlamaCppWorker:
    """The supervised worker. Calls are serialised; `call` yields the worker's events."""

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        idle_unload_s: float = 300.0,
        start_timeout_s: float = 60.0,
        python: str = sys.executable,
    ) -> None:
        self._env = worker_environment(os.environ if env is None else env, idle_unload_s)
        self._start_timeout_s = start_timeout_s
        self._python = python
        self._proc: asyncio.subprocess.Process | None = None
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._lock = asyncio.Lock()
        self._next_id = 0
        self._bad_files: dict[tuple[str, int, int], str] = {}
        # The most GPU layers a file may load with, after a crash with more (0: the CPU).
        self._gpu_cap: dict[tuple[str, int, int], int] = {}
        self._crashes: list[str] = []  # this call's crashes on the way down, in words
        self.in_memory: dict[str, Load] = {}  # model files loaded now, by path
        self.last_load: dict[str, Load] = {}  # the latest load of every file, kept after unloads
        self.unavailable: str | None = None  # why llama.cpp cannot run here, once known
        self.starts = 0  # how many workers were started (restarts show up here)
        self.gpu_offload = False  # whether this llama.cpp build can put layers on a GPU

    @property
    def pid(self) -> int | None:
        """The running worker's process id, if one runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    async def _start(self) -> None:
        self._stderr.clear()
        self._events = asyncio.Queue()
        proc = await asyncio.create_subprocess_exec(
            self._python,
            "-m",
            "cortexd.routing.providers.llamacpp_worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env,
            limit=_LINE_LIMIT,
        )
        self._proc = proc
        self.starts += 1
        self._tasks = [
            asyncio.create_task(self._read(proc)),
            asyncio.create_task(self._drain_stderr(proc)),
        ]
        try:
            async with asyncio.timeout(self._start_timeout_s):
                first = await self._events.get()
        except TimeoutError:
            await self.aclose()
            raise ProviderTimeoutError(
                "the llama.cpp worker did not start", provider=NAME
            ) from None
        if first.get("event") == "unavailable":
            self.unavailable = f"llama-cpp-python cannot be loaded: {first.get('message')}"
            await self.aclose()
        elif first.get("event") == "ready":
            self.gpu_offload = bool(first.get("gpu_offload"))
        else:
            await self.aclose()
            raise ProviderConnectionError(
                f"the llama.cpp worker failed to start ({self._last_words()})", provider=NAME
            )

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            try:
                event = json.loads(line)
            except ValueError:
                log.warning("llama.cpp worker wrote a line that is not JSON: %.200r", line)
                continue
            if event.get("event") == "unloaded":  # the worker's own doing, outside any call
                self.in_memory.pop(str(event.get("path")), None)
            else:
                await self._events.put(event)
        self.in_memory.clear()
        code = await proc.wait()
        await self._events.put({"id": None, "event": "died", "returncode": code})

    async def _drain_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            text = line.decode("utf-8", "replace").rstrip()
            self._stderr.append(text)
            log.debug("llama.cpp worker: %s", text)

    def _last_words(self) -> str:
        lines = [line for line in self._stderr if line.strip()]
        return " | ".join(lines[-3:]) if lines else "no output"

    async def _ensure(self) -> asyncio.subprocess.Process:
        if self.unavailable is not None:
            raise NotConfiguredError(self.unavailable, provider=NAME)
        if self._proc is None or self._proc.returncode is not None:
            await self._reap()
            await self._start()
            if self.unavailable is not None:
                raise NotConfiguredError(self.unavailable, provider=NAME)
        assert self._proc is not None
        return self._proc

    async def _send(self, proc: asyncio.subprocess.Process, message: dict[str, Any]) -> None:
        assert proc.stdin is not None
        proc.stdin.write((json.dumps(message) + "\n").encode())
        with contextlib.suppress(ConnectionError):
            await proc.stdin.drain()

    async def ping(self) -> list[str]:
        """Start the worker if needed; the model files it has loaded."""
        loaded: list[str] = []
        async with contextlib.aclosing(self.call({"op": "ping"}, model=None)) as events:
            async for event in events:
                if event.get("event") == "pong":
                    loaded = list(event.get("loaded") or ())
        return loaded

    async def call(
        self, message: dict[str, Any], *, model: str | None, model_file: Path | None = None
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Send one request and yield its events up to its end; failures raise our errors.

        A worker that crashes with layers on the GPU before anything was yielded is
        restarted and the request sent again with fewer layers (half, then none): a card
        out of memory slows a call down instead of failing it."""
        key = None
        if model_file is not None:
            key = _file_key(model_file)
            known = self._bad_files.get(key)
            if known is not None:
                raise ModelLoadError(known, provider=NAME, model=model)
        asked = int((message.get("load") or {}).get("n_gpu_layers", 0))
        async with self._lock:
            self._crashes = []
            while True:
                proc = await self._ensure()
                sent = self._with_layers(message, key)
                gpu_layers = int((sent.get("load") or {}).get("n_gpu_layers", 0))
                self._next_id += 1
                rid = self._next_id
                await self._send(proc, {**sent, "id": rid})
                loading = finished = yielded = False
                try:
                    while True:
                        event = await self._events.get()
                        kind = event.get("event")
                        if kind == "died":
                            finished = True
                            error = self._death(
                                event.get("returncode"), loading, model, model_file, gpu_layers,
                                retry=not yielded, fewer=_fewer(asked, gpu_layers),
                            )  # fmt: skip
                            if error is None:
                                break  # stepped down: send it again to a fresh worker
                            raise error
                        if event.get("id") != rid:
                            continue  # left over from a call that was abandoned
                        if kind == "loading":
                            loading = True
                        elif kind == "loaded":
                            loading = False
                            self._loaded(sent, event, model)
                        elif kind == "error":
                            finished = True
                            raise _error(event, model)
                        elif kind == "done":
                            finished = True
                            return
                        else:
                            yielded = True
                            yield event
                finally:
                    if not finished:
                        await self._abandon(proc, rid)

    def _with_layers(
        self, message: dict[str, Any], key: tuple[str, int, int] | None
    ) -> dict[str, Any]:
        """`message` with the GPU layers this worker and file can take: none on a build
        without GPU offload, at most the file's cap after a crash with more."""
        load = message.get("load")
        if not load:
            return message
        asked = int(load.get("n_gpu_layers", 0))
        cap = self._gpu_cap.get(key) if key is not None else None
        layers = asked
        if not self.gpu_offload:
            layers = 0
        elif cap is not None and (asked < 0 or asked > cap):
            layers = cap
        if layers == asked:
            return message
        crashed_before = cap is not None and layers == cap
        return {**message, "load": {**load, **on_the_gpu(layers, after_failure=crashed_before)}}

    async def _abandon(self, proc: asyncio.subprocess.Process, rid: int) -> None:
        """The caller stopped listening: cancel the request and wait for its end."""
        await self._send(proc, {"op": "cancel", "id": rid})
        try:
            async with asyncio.timeout(10):
                while True:
                    event = await self._events.get()
                    if event.get("event") == "died" or (
                        event.get("id") == rid and event.get("event") in ("done", "error")
                    ):
                        return
        except TimeoutError:
            await self.aclose()  # stuck in C code: a fresh worker is cheaper than waiting

    def _loaded(
        self, message: Mapping[str, Any], event: Mapping[str, Any], model: str | None
    ) -> None:
        path = str(message.get("model_path"))
        tried = (*self._crashes, *(event.get("tried") or ()))
        load = Load(int(event.get("gpu_layers") or 0), float(event.get("seconds") or 0.0), tried)
        self.in_memory[path] = self.last_load[path] = load
        if tried:
            log.warning(
                "%s loaded with %s on the GPU after: %s",
                model, _layers(load.gpu_layers), "; ".join(tried),
            )  # fmt: skip

    def _death(
        self,
        code: int | None,
        loading: bool,
        model: str | None,
        model_file: Path | None,
        gpu_layers: int = 0,
        *,
        retry: bool = False,
        fewer: int = 0,
    ) -> ProviderError | None:
        """The error a worker's death means for the call in flight; None when the call is
        to be sent again with `fewer` GPU layers (`retry`: nothing of it was yielded yet)."""
        how = describe_exit(code)
        if model_file is not None and crashed(code) and gpu_layers:
            # Not the file's fault yet: a CUDA assertion (out of memory while loading or
            # on the first batch, a driver that refuses) aborts the process too.
            with contextlib.suppress(OSError):
                self._gpu_cap[_file_key(model_file)] = fewer
            words = f"{_layers(gpu_layers)} on the GPU: {how} ({self._last_words()})"
            self._crashes.append(words)
            log.warning(
                "llama.cpp crashed running %s with %s; trying %s",
                model_file.name, words, _layers(fewer),
            )  # fmt: skip
            if retry:
                return None
            return ModelLoadError(
                f"llama.cpp crashed running {model_file.name} with {words}; it loads with"
                f" {_layers(fewer)} on the GPU from the next call",
                provider=NAME,
                model=model,
            )
        if loading and model_file is not None and crashed(code):
            message = (
                f"llama.cpp crashed loading {model_file.name} ({how}): the file is malformed"
                f" or not supported; last output: {self._last_words()}"
            )
            with contextlib.suppress(OSError):
                self._bad_files[_file_key(model_file)] = message
            return ModelLoadError(message, provider=NAME, model=model)
        return ProviderConnectionError(
            f"the llama.cpp worker died ({how}); it restarts on the next call",
            provider=NAME,
            model=model,
        )

    async def _reap(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.in_memory.clear()
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            await proc.wait()
            if proc.stdin is not None:
                proc.stdin.close()

    async def aclose(self) -> None:
        """Stop the worker: close its stdin, give it a moment, then kill it."""
        proc = self._proc
        if proc is not None and proc.returncode is None and proc.stdin is not None:
            proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await proc.wait()
        await self._reap()


def _fewer(asked: int, crashed_with: int) -> int:
    """The next rung below `crashed_with` on the ladder of what the call asked for.

    >>> _fewer(12, 12), _fewer(12, 6), _fewer(12, 5), _fewer(-1, -1)
    (6, 0, 0, 0)
    """
    return next((n for n in gpu_ladder(asked) if 0 <= n < crashed_with), 0)


def _layers(n: int) -> str:
    if n < 0:
        return "all layers"
    return "no layers" if n == 0 else "1 layer" if n == 1 else f"{n} layers"


def _error(event: Mapping[str, Any], model: str | None) -> ProviderError:
    kind, message = event.get("kind"), str(event.get("message") or "llama.cpp failed")
    if kind == "load":
        return ModelLoadError(f"cannot load the model: {message}", provider=NAME, model=model)
    if kind == "context_length":
        return ContextLengthError(message, provider=NAME, model=model)
    if kind == "request":
        return InvalidRequestError(message, provider=NAME, model=model)
    return ServerError(message, provider=NAME, model=model)

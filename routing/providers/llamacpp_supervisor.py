"""Starting, talking to and restarting the llama.cpp worker process.

The worker (`llamacpp_worker`) runs one request at a time; this side serialises calls, turns
the worker's events into our errors, and notices when it dies: a death while a model loads
marks that file bad (until it changes on disk) so one broken file cannot crash the worker on
every call; any other death fails the call in flight like a provider failure, and the next
call starts a fresh worker. A crash while loading with layers on the GPU is not the file's
fault (a driver or memory failure can abort too): that file loads on the CPU from then on, and
is marked bad only if it crashes there as well. The worker's environment holds no secrets.

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
import signal
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

NAME = "llamacpp"
_KEEP = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TMPDIR", "TZ", "LD_LIBRARY_PATH",
     "DYLD_LIBRARY_PATH", "VIRTUAL_ENV", "SYSTEMROOT", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"}
)  # fmt: skip
_KEEP_PREFIXES = (
    "LC_",
    "PYTHON",
    "CUDA_",
    "GGML_",
    "LLAMA_",
    "OMP_",
    "OPENBLAS_",
    "MKL_",
    "HIP_",
    "ROCR_",
    "NVIDIA_",
)
#: One event line may carry many embedding vectors; asyncio's default line limit is 64 KiB.
_LINE_LIMIT = 64 * 1024 * 1024
log = logging.getLogger(__name__)


def worker_environment(env: Mapping[str, str], idle_unload_s: float) -> dict[str, str]:
    """The worker's environment: only what running Python and llama.cpp needs.

    An allow-list, not a deny-list: keys, proxy credentials, tokens in URLs never reach a
    process that reads untrusted model files and needs no network.

    >>> env = {"ANTHROPIC_API_KEY": "x", "HOME": "/h", "HTTPS_PROXY": "http://u:p@h"}
    >>> sorted(worker_environment(env, 60))
    ['CORTEX_LLAMACPP_IDLE_S', 'GGML_NO_BACKTRACE', 'HOME']
    """
    clean = {k: v for k, v in env.items() if k in _KEEP or k.startswith(_KEEP_PREFIXES)}
    clean["CORTEX_LLAMACPP_IDLE_S"] = str(idle_unload_s)
    # On an abort ggml attaches gdb to print a backtrace: seconds lost, and noise in the log.
    clean["GGML_NO_BACKTRACE"] = "1"
    return clean


def describe_exit(code: int | None) -> str:
    """A process's end in words.

    >>> describe_exit(-6)
    'killed by SIGABRT'
    >>> describe_exit(134)
    'exit code 134 (SIGABRT)'
    """
    if code is None:
        return "still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    if code > 128:
        with contextlib.suppress(ValueError):
            return f"exit code {code} ({signal.Signals(code - 128).name})"
    return f"exit code {code}"


#: Deaths that mean the file broke llama.cpp. SIGKILL is not among them: it is what the
#: kernel's out-of-memory killer sends, and a good file may load once memory is free.
_CRASH_SIGNALS = frozenset(
    {signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE}
)


def _crashed(code: int | None) -> bool:
    """Whether an exit status is a crash (a fatal signal, or 128 + one from a shell).

    >>> _crashed(-6), _crashed(134), _crashed(-9), _crashed(137), _crashed(1)
    (True, True, False, False, False)
    """
    if code is None:
        return False
    number = -code if code < 0 else code - 128 if code > 128 else 0
    return number in {int(s) for s in _CRASH_SIGNALS}


def _file_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns


@dataclass(frozen=True)
class Load:
    """How a model file was last loaded: the layers on the GPU (-1: all) and the seconds."""

    gpu_layers: int
    seconds: float


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
        self._cpu_only: set[tuple[str, int, int]] = set()  # crashed loading onto the GPU
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
        """Send one request and yield its events up to its end; failures raise our errors."""
        cpu_only = False
        if model_file is not None:
            key = _file_key(model_file)
            known = self._bad_files.get(key)
            if known is not None:
                raise ModelLoadError(known, provider=NAME, model=model)
            cpu_only = key in self._cpu_only
        async with self._lock:
            proc = await self._ensure()
            # A build without GPU offload ignores the layers: they are all on the CPU.
            gpu_layers = int((message.get("load") or {}).get("n_gpu_layers", 0))
            if gpu_layers and (cpu_only or not self.gpu_offload):
                gpu_layers = 0
                message = {**message, "load": {**message["load"], "n_gpu_layers": 0}}
            self._next_id += 1
            rid = self._next_id
            await self._send(proc, {**message, "id": rid})
            loading = finished = False
            try:
                while True:
                    event = await self._events.get()
                    kind = event.get("event")
                    if kind == "died":
                        finished = True
                        raise self._death(
                            event.get("returncode"), loading, model, model_file, gpu_layers
                        )
                    if event.get("id") != rid:
                        continue  # left over from a call that was abandoned
                    if kind == "loading":
                        loading = True
                    elif kind == "loaded":
                        loading = False
                        self._loaded(message, event, model)
                    elif kind == "error":
                        finished = True
                        raise _error(event, model)
                    elif kind == "done":
                        finished = True
                        return
                    else:
                        yield event
            finally:
                if not finished:
                    await self._abandon(proc, rid)

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
        load = Load(int(event.get("gpu_layers") or 0), float(event.get("seconds") or 0.0))
        self.in_memory[path] = self.last_load[path] = load
        for failure in event.get("tried") or ():
            log.warning("%s did not load with %s; it loaded with fewer", model, failure)

    def _death(
        self,
        code: int | None,
        loading: bool,
        model: str | None,
        model_file: Path | None,
        gpu_layers: int = 0,
    ) -> ProviderError:
        how = describe_exit(code)
        if loading and model_file is not None and _crashed(code) and gpu_layers:
            with contextlib.suppress(OSError):
                self._cpu_only.add(_file_key(model_file))
            layers = "all its layers" if gpu_layers < 0 else f"{gpu_layers} layers"
            return ModelLoadError(
                f"llama.cpp crashed loading {model_file.name} with {layers} on the GPU ({how});"
                f" it loads on the CPU from the next call; last output: {self._last_words()}",
                provider=NAME,
                model=model,
            )
        if loading and model_file is not None and _crashed(code):
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


def _error(event: Mapping[str, Any], model: str | None) -> ProviderError:
    kind, message = event.get("kind"), str(event.get("message") or "llama.cpp failed")
    if kind == "load":
        return ModelLoadError(f"cannot load the model: {message}", provider=NAME, model=model)
    if kind == "context_length":
        return ContextLengthError(message, provider=NAME, model=model)
    if kind == "request":
        return InvalidRequestError(message, provider=NAME, model=model)
    return ServerError(message, provider=NAME, model=model)

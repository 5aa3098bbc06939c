"""The llama.cpp worker process: loads GGUF files and runs them, one request at a time.

llama.cpp aborts its whole process on some malformed model files, and model files are
untrusted input, so inference never runs inside the daemon: the daemon starts this module as
a child (``python -m cortexd.routing.providers.llamacpp_worker``), without API keys in its
environment, and talks to it in JSON lines — requests on stdin, events on stdout. C code that
prints to stdout would corrupt that channel, so fd 1 is pointed at stderr and the protocol
keeps a private copy of the original stdout.

Requests: ``{"id", "op": "chat", "model_path", "load": {…}, "params": {…}}``,
``{"id", "op": "embed", "model_path", "load": {…}, "inputs": […]}``, ``{"op": "cancel", "id"}``,
``{"id", "op": "ping"}``, ``{"id", "op": "load", "model_path", "load": {…}}`` (load only: a
warm-up). Events, each with the request's id: ``loading``, ``loaded`` (with the layers that
went to the GPU and the seconds it took), ``chunk`` (an OpenAI chat.completion.chunk),
``usage``, ``embedding``, ``pong``, ``done``, ``error`` (with ``kind``: load, context_length,
request, runtime); and, with no id, ``unloaded`` when a model leaves memory.

A load that fails with layers on the GPU (out of GPU memory, a driver that refuses) is tried
again with half the layers, then on the CPU, before it counts as a failure.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

#: How long a model may sit unused before it is unloaded (overridden by the daemon).
IDLE_UNLOAD_S = 300.0
#: Loaded models kept at once; the least recently used goes first.
MAX_LOADED = 2


@dataclass
class _Loaded:
    llm: Any
    path: str
    last_used: float = field(default_factory=time.monotonic)


def gpu_ladder(requested: int) -> list[int]:
    """The GPU layer counts to try, in order: what was asked, half of it, then the CPU.

    >>> gpu_ladder(32), gpu_ladder(1), gpu_ladder(-1), gpu_ladder(0)
    ([32, 16, 0], [1, 0], [-1, 0], [0])
    """
    if requested == 0:
        return [0]
    half = [requested // 2] if requested > 1 else []
    return [requested, *half, 0]


def on_the_gpu(layers: int, *, after_failure: bool) -> dict[str, Any]:
    """The load settings that put `layers` on the GPU. After a failure with more, none means
    none: the KV cache and the large batches' matrix products stay off the card as well,
    since a card out of memory fails those too.

    >>> on_the_gpu(0, after_failure=True)
    {'n_gpu_layers': 0, 'offload_kqv': False, 'op_offload': False}
    >>> on_the_gpu(8, after_failure=True)
    {'n_gpu_layers': 8}
    """
    if layers == 0 and after_failure:
        return {"n_gpu_layers": 0, "offload_kqv": False, "op_offload": False}
    return {"n_gpu_layers": layers}


class Worker:
    """The request loop; `out` receives events, `load` builds a llama_cpp.Llama."""

    def __init__(
        self, out: Callable[[dict[str, Any]], None], load: Callable[..., Any], idle_s: float
    ) -> None:
        self._out = out
        self._load = load
        self._idle_s = idle_s
        self._models: dict[tuple[str, bool, str], _Loaded] = {}
        self._cancelled: set[Any] = set()
        self.requests: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def cancel(self, request_id: Any) -> None:
        self._cancelled.add(request_id)

    def run(self) -> None:
        """Serve requests until stdin closes (None in the queue)."""
        while True:
            try:
                request = self.requests.get(timeout=min(self._idle_s, 30.0))
            except queue.Empty:
                self._unload_idle()
                continue
            if request is None:
                return
            self._serve(request)
            self._unload_idle()

    def _unload_idle(self) -> None:
        now = time.monotonic()
        for key, loaded in list(self._models.items()):
            if now - loaded.last_used > self._idle_s:
                self._unload(key)

    def _unload(self, key: tuple[str, bool, str]) -> None:
        loaded = self._models.pop(key)
        loaded.llm.close()
        if all(m.path != loaded.path for m in self._models.values()):
            self._out({"id": None, "event": "unloaded", "path": loaded.path})

    def _model(self, rid: Any, path: str, embedding: bool, load: dict[str, Any]) -> Any:
        key = (path, embedding, json.dumps(load, sort_keys=True))
        if key not in self._models:
            self._out({"id": rid, "event": "loading"})
            while len(self._models) >= MAX_LOADED:
                self._unload(min(self._models, key=lambda k: self._models[k].last_used))
            started = time.monotonic()
            llm, layers, tried = self._load_stepping_down(path, embedding, load)
            self._models[key] = _Loaded(llm, path)
            seconds = round(time.monotonic() - started, 4)
            event = {"id": rid, "event": "loaded", "gpu_layers": layers, "seconds": seconds}
            self._out({**event, "tried": tried} if tried else event)
        entry = self._models[key]
        entry.last_used = time.monotonic()
        return entry.llm

    def _load_stepping_down(
        self, path: str, embedding: bool, load: dict[str, Any]
    ) -> tuple[Any, int, list[str]]:
        """The model, loaded with as many of the asked GPU layers as will load; the failures
        on the way down, in words."""
        ladder = gpu_ladder(int(load.get("n_gpu_layers", 0)))
        tried: list[str] = []
        for layers in ladder:
            settings = {**load, **on_the_gpu(layers, after_failure=bool(tried))}
            try:
                return self._load(path, embedding=embedding, **settings), layers, tried
            except (ValueError, RuntimeError, OSError) as exc:
                if layers == ladder[-1]:
                    raise
                tried.append(f"{_layers(layers)} on the GPU: {exc}")
        raise AssertionError("unreachable: the ladder ends with a load that raises or returns")

    def _serve(self, request: dict[str, Any]) -> None:
        rid = request.get("id")
        op = request.get("op")
        try:
            if op == "ping":
                loaded = sorted({k[0] for k in self._models})
                self._out({"id": rid, "event": "pong", "loaded": loaded})
                self._out({"id": rid, "event": "done"})
                return
            path, load = str(request["model_path"]), dict(request.get("load") or {})
            embedding = op == "embed" or (op == "load" and bool(request.get("embedding")))
            try:
                llm = self._model(rid, path, embedding, load)
            except (ValueError, RuntimeError, OSError) as exc:
                self._out({"id": rid, "event": "error", "kind": "load", "message": str(exc)})
                return
            if op == "load":
                pass  # a warm-up: loading was the whole request
            elif op == "embed":
                self._embed(rid, llm, list(request["inputs"]))
            elif op == "chat":
                self._chat(rid, llm, dict(request["params"]))
            else:
                self._out({"id": rid, "event": "error", "kind": "request", "message": f"op {op!r}"})
                return
            self._out({"id": rid, "event": "done"})
        except ValueError as exc:
            kind = "context_length" if "context window" in str(exc) else "request"
            self._out({"id": rid, "event": "error", "kind": kind, "message": str(exc)})
        except Exception as exc:  # noqa: BLE001 - any failure is reported, the worker lives on
            message = f"{type(exc).__name__}: {exc}"
            self._out({"id": rid, "event": "error", "kind": "runtime", "message": message})
        finally:
            self._cancelled.discard(rid)

    def _chat(self, rid: Any, llm: Any, params: dict[str, Any]) -> None:
        import llama_cpp

        counts = {"prompt": 0, "completion": 0}

        def count(ids: Any, scores: Any) -> Any:
            # Called once per sampled token with the whole sequence so far: exact usage,
            # which llama-cpp-python's streams do not report.
            if counts["completion"] == 0:
                counts["prompt"] = len(ids)
            counts["completion"] += 1
            return scores

        chunks = llm.create_chat_completion(
            **params, stream=True, logits_processor=llama_cpp.LogitsProcessorList([count])
        )
        for chunk in chunks:
            if rid in self._cancelled:
                chunks.close()
                return
            self._out({"id": rid, "event": "chunk", "data": chunk})
        usage = {"prompt_tokens": counts["prompt"], "completion_tokens": counts["completion"]}
        self._out({"id": rid, "event": "usage", "usage": usage})

    def _embed(self, rid: Any, llm: Any, inputs: list[str]) -> None:
        # Normalised, as Ollama's and OpenAI's are, so vectors compare by dot product.
        vectors, tokens = llm.embed(inputs, normalize=True, return_count=True)
        self._out({"id": rid, "event": "embedding", "vectors": vectors, "tokens": tokens})


def _layers(n: int) -> str:
    return "all layers" if n < 0 else f"{n} layers"


def _load_llama(path: str, *, embedding: bool, **options: Any) -> Any:
    import llama_cpp

    return llama_cpp.Llama(model_path=path, embedding=embedding, verbose=False, **options)


def _reader(stream: IO[str], worker: Worker) -> None:
    for line in stream:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("op") == "cancel":
            worker.cancel(message.get("id"))
        else:
            worker.requests.put(message)
    worker.requests.put(None)


def main() -> None:
    """Run the worker on this process's stdin and stdout."""
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # whatever llama.cpp prints goes to stderr, not into the protocol
    lock = threading.Lock()

    def out(event: dict[str, Any]) -> None:
        line = json.dumps(event, separators=(",", ":"))
        with lock:
            protocol.write(line + "\n")
            protocol.flush()

    try:
        # A build that fails to import makes the provider unavailable.
        import llama_cpp
    except Exception as exc:  # noqa: BLE001 - ImportError, OSError from a broken shared library
        out({"id": None, "event": "unavailable", "message": f"{type(exc).__name__}: {exc}"})
        return
    idle = float(os.environ.get("CORTEX_LLAMACPP_IDLE_S", IDLE_UNLOAD_S))
    worker = Worker(out, _load_llama, idle)
    threading.Thread(target=_reader, args=(sys.stdin, worker), daemon=True).start()
    offload = bool(llama_cpp.llama_supports_gpu_offload())
    out({"id": None, "event": "ready", "pid": os.getpid(), "gpu_offload": offload})
    worker.run()


if __name__ == "__main__":
    main()

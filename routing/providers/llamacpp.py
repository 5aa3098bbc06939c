"""GGUF models through llama-cpp-python, run in the supervised worker process.

The routing file's ``## Local Model Files`` names each model's file; the chat template comes
from the file. The worker speaks OpenAI's chunk format (llama-cpp-python's own), so the
Chat Completions translation serves here too; usage is counted in the worker, since
llama-cpp-python's streams do not report it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cortexd.routing.providers.chat import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    StreamEnd,
    StreamEvent,
    Timing,
    Usage,
)
from cortexd.routing.providers.contract import (
    LOAD_BYTES_PER_S,
    Capabilities,
    ProviderStatus,
    Warmth,
)
from cortexd.routing.providers.errors import (
    ModelLoadError,
    ModelNotFoundError,
    NotConfiguredError,
    ProviderError,
    StreamInterruptedError,
    UnsupportedRequestError,
)
from cortexd.routing.providers.llamacpp_supervisor import NAME, LlamaCppWorker
from cortexd.routing.providers.openai_wire import ChatStreamDecoder, to_chat
from cortexd.routing.providers.stream import StreamCollector

#: Tokens an answer may take when the request sets no max_tokens (random or looping output
#: must not run until the context is full).
DEFAULT_MAX_TOKENS = 1024
#: Architectures whose models embed rather than chat.
_ENCODERS = frozenset({"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "modern-bert"})


@dataclass(frozen=True, slots=True)
class GgufInfo:
    """What a GGUF file's header says about the model."""

    architecture: str
    context_length: int | None
    has_chat_template: bool
    layers: int | None = None
    width: int | None = None  # the embedding length
    heads: int | None = None
    kv_heads: int | None = None  # fewer than `heads` with grouped-query attention

    @property
    def embedding(self) -> bool:
        return self.architecture in _ENCODERS


def read_gguf_info(path: Path) -> GgufInfo:
    """The architecture, trained context, chat template presence and the shape (layers,
    width, attention heads) from the file's header."""
    import gguf  # here: numpy and gguf cost ~0.7 s, and only local-model users pay it

    reader = gguf.GGUFReader(str(path), "r")

    def value(key: str) -> Any:
        field = reader.get_field(key)
        return None if field is None else field.contents()

    def number(key: str) -> int | None:
        found = value(f"{arch}.{key}")
        return int(found) if found else None

    arch = str(value("general.architecture") or "")
    heads = number("attention.head_count")
    return GgufInfo(
        arch,
        number("context_length"),
        value("tokenizer.chat_template") is not None,
        layers=number("block_count"),
        width=number("embedding_length"),
        heads=heads,
        kv_heads=number("attention.head_count_kv") or heads,
    )


class LlamaCppProvider:
    """Local GGUF models by name (`models`: name → file), served by `worker`."""

    name = NAME

    def __init__(
        self,
        models: Mapping[str, Path],
        worker: LlamaCppWorker,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
        n_gpu_layers: int = -1,
        offload: Callable[[str], int | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`offload(model)` says how many of a model's layers go to the GPU, from the
        hardware probe (None: `n_gpu_layers`, which by default offloads all of them)."""
        self._models = dict(models)
        self._offload = offload
        self._worker = worker
        self._clock = clock
        self._info: dict[tuple[Path, int], GgufInfo] = {}
        load = {
            "n_ctx": n_ctx,
            "n_threads": n_threads,
            "n_threads_batch": n_threads_batch,
            "n_gpu_layers": n_gpu_layers,
        }
        self._load = {k: v for k, v in load.items() if v is not None}

    def _load_for(self, model: str) -> dict[str, Any]:
        layers = self._offload(model) if self._offload is not None else None
        return self._load if layers is None else {**self._load, "n_gpu_layers": layers}

    def _file(self, model: str) -> Path:
        path = self._models.get(model)
        if path is None:
            raise ModelNotFoundError(
                "no GGUF file is configured for this model (## Local Model Files)",
                provider=NAME,
                model=model,
            )
        if not path.is_file():
            raise ModelNotFoundError(
                f"the GGUF file {path} does not exist", provider=NAME, model=model
            )
        return path

    async def _gguf(self, model: str) -> GgufInfo:
        path = self._file(model)
        key = (path, path.stat().st_mtime_ns)
        if key not in self._info:
            try:
                self._info[key] = await asyncio.to_thread(read_gguf_info, path)
            except (ValueError, OSError, KeyError, IndexError) as exc:
                raise ModelLoadError(
                    f"{path.name} is not a readable GGUF file: {exc}", provider=NAME, model=model
                ) from None
        return self._info[key]

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        if request.tools:
            raise UnsupportedRequestError(
                "local llama.cpp models take no tools here", provider=NAME, model=request.model
            )
        body = to_chat(request)
        params: dict[str, Any] = {
            "messages": body["messages"],
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        }
        for key in ("temperature", "top_p", "stop"):
            if key in body:
                params[key] = body[key]
        fmt = request.response_format
        if fmt is not None and fmt.wants_json:
            # llama-cpp-python turns this into a grammar: the output is JSON by construction.
            params["response_format"] = {"type": "json_object"}
            if fmt.schema is not None:
                params["response_format"]["schema"] = dict(fmt.schema)
        return params

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """The whole answer, collected from the worker's stream."""
        async with contextlib.aclosing(self.stream(request)) as events:
            async for event in events:
                if isinstance(event, StreamEnd):
                    return event.response
        raise StreamInterruptedError("the worker's stream ended early", provider=NAME)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        """Deltas from the worker, then `StreamEnd` with usage counted in the worker."""
        path = self._file(request.model)
        params = self._params(request)
        started = self._clock()
        decoder = ChatStreamDecoder()
        collector = StreamCollector(started, self._clock)
        load = self._load_for(request.model)
        message = {"op": "chat", "model_path": str(path), "load": load, "params": params}
        events = self._worker.call(message, model=request.model, model_file=path)
        async with contextlib.aclosing(events):  # the worker's lock and cancel, at once
            async for event in events:
                if event.get("event") == "chunk":
                    for delta in decoder.feed(event["data"]):
                        collector.add(delta)
                        yield delta
                elif event.get("event") == "usage":
                    decoder.feed({"choices": [], "usage": event["usage"]})
        if not decoder.finished:
            raise StreamInterruptedError(
                "the worker ended the answer without a finish reason",
                provider=NAME,
                model=request.model,
            )
        # llama-cpp-python names the model by its file path; the caller knows it by name.
        summary = replace(decoder.summary(), model=request.model)
        yield StreamEnd(collector.finish(summary))

    async def embed(self, request: EmbedRequest) -> EmbedResponse:
        """Normalised vectors from an embedding model (nomic-embed-text and its kind)."""
        path = self._file(request.model)
        started = self._clock()
        message = {
            "op": "embed",
            "model_path": str(path),
            "load": self._load_for(request.model),
            "inputs": list(request.inputs),
        }
        vectors: list[list[float]] = []
        tokens = 0
        events = self._worker.call(message, model=request.model, model_file=path)
        async with contextlib.aclosing(events):
            async for event in events:
                if event.get("event") == "embedding":
                    vectors, tokens = event["vectors"], int(event.get("tokens") or 0)
        elapsed = self._clock() - started
        return EmbedResponse(
            model=request.model,
            vectors=tuple(tuple(float(x) for x in v) for v in vectors),
            usage=Usage(input_tokens=tokens),
            timing=Timing(elapsed, elapsed),
        )

    async def warmth(self, model: str) -> Warmth | None:
        """In the worker's memory or not; its last load time, else one estimated from the
        file's size (None when no file is configured)."""
        path = self._models.get(model)
        if path is None:
            return None
        last = self._worker.last_load.get(str(path))
        loaded = str(path) in self._worker.in_memory
        if last is not None:
            return Warmth(loaded, last.seconds, measured=True)
        try:
            size = path.stat().st_size
        except OSError:
            return None
        return Warmth(loaded, size / LOAD_BYTES_PER_S, measured=False)

    async def warm(self, model: str) -> None:
        """Load the model in the worker without asking it anything."""
        path = self._file(model)
        info = await self._gguf(model)
        message = {
            "op": "load",
            "model_path": str(path),
            "load": self._load_for(model),
            "embedding": info.embedding,
        }
        async with contextlib.aclosing(
            self._worker.call(message, model=model, model_file=path)
        ) as events:
            async for _ in events:
                pass

    async def capabilities(self, model: str) -> Capabilities:
        """From the GGUF header: chat or embeddings, and the trained context length."""
        info = await self._gguf(model)
        window = info.context_length
        if window and self._load.get("n_ctx"):
            window = min(window, int(self._load["n_ctx"]))
        if info.embedding:
            return Capabilities(context_window=window, chat=False, embeddings=True)
        return Capabilities(context_window=window, json_mode=True, json_schema=True)

    async def status(self) -> ProviderStatus:
        """Configured when files are named; reachable when the worker starts and answers."""
        missing = sorted(name for name, path in self._models.items() if not path.is_file())
        if not self._models:
            return ProviderStatus(
                NAME, False, True, None, "worker process", "no GGUF files configured"
            )
        try:
            await self._worker.ping()
        except ProviderError as error:
            configured = not isinstance(error, NotConfiguredError)
            return ProviderStatus(NAME, configured, True, False, "worker process", error.detail)
        detail = f"{len(self._models)} GGUF models" + (
            f"; missing files: {', '.join(missing)}" if missing else ""
        )
        return ProviderStatus(NAME, True, True, True, "worker process", detail)

    async def aclose(self) -> None:
        """Stop the worker process."""
        await self._worker.aclose()

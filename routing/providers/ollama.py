"""Local models through Ollama's official client (`ollama.AsyncClient`).

Chat with an explicit ``num_ctx`` (Ollama's default window silently truncates longer
prompts), embeddings, and what the server has: pulled models (``/api/tags``), loaded models
(``/api/ps``) and a model's details (``/api/show``), which tell its capabilities and window.
`map_error` is the one place that knows the client's exceptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx
import ollama

from cortexd.routing.names import ollama_name
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
    ContextLengthError,
    ModelLoadError,
    ModelNotFoundError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    ServerError,
    StreamInterruptedError,
)
from cortexd.routing.providers.http_errors import error_for_status
from cortexd.routing.providers.ollama_wire import (
    OllamaStreamDecoder,
    choose_num_ctx,
    estimate_tokens,
    from_ollama,
    load_seconds,
    to_ollama,
)
from cortexd.routing.providers.settings import (
    CONNECT_TIMEOUT_S,
    DEFAULT_TIMEOUT_S,
    OLLAMA_DEFAULT_HOST,
)
from cortexd.routing.providers.stream import run_stream
from cortexd.routing.urls import redact_url

NAME = "ollama"
DEFAULT_HOST = OLLAMA_DEFAULT_HOST
CAUGHT: tuple[type[BaseException], ...] = (
    ollama.ResponseError,
    ollama.RequestError,
    ConnectionError,  # the client's word for "nothing listens there"
    TimeoutError,  # our own per-call limit (asyncio.timeout)
    httpx.HTTPError,
    ValueError,
)
#: A load_duration at least this long was a real load (a model in memory reports ~ms).
MEASURED_LOAD_S = 0.25
_LOAD_FAILURE = re.compile(
    r"requires more system memory|out of memory|unable to load|failed to load|"
    r"runner process has terminated|error loading model",
    re.IGNORECASE,
)


def map_error(exc: BaseException, *, model: str | None) -> ProviderError:
    """Our error for anything the Ollama client (or httpx under it) raised."""
    where: dict[str, Any] = {"provider": NAME, "model": model}
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return ProviderTimeoutError("timed out waiting for Ollama", **where)
    if isinstance(exc, ConnectionError | httpx.ConnectError):
        return ProviderConnectionError("cannot reach Ollama: is it running?", **where)
    if isinstance(exc, ollama.ResponseError):
        message = str(exc.error)
        if exc.status_code == 404 or "not found" in message and "pull" in message:
            hint = f" (run: ollama pull {model})" if model else ""
            return ModelNotFoundError(f"{message}{hint}", status=404, **where)
        if _LOAD_FAILURE.search(message):
            status = exc.status_code if exc.status_code > 0 else None
            return ModelLoadError(message, status=status, **where)
        return error_for_status(exc.status_code if exc.status_code > 0 else 200, message, **where)
    if isinstance(exc, ollama.RequestError):
        return error_for_status(400, str(exc.error), **where)
    if isinstance(exc, httpx.TransportError):
        return StreamInterruptedError(f"the connection broke ({type(exc).__name__})", **where)
    if isinstance(exc, UnicodeEncodeError):  # our request, not Ollama's answer
        return error_for_status(400, f"the request cannot be encoded: {exc.reason}", **where)
    if isinstance(exc, ValueError):
        return StreamInterruptedError("Ollama sent malformed JSON", **where)
    return ServerError(f"{type(exc).__name__}: {exc}", **where)


@dataclass(frozen=True, slots=True)
class OllamaModel:
    """A model the Ollama server has pulled or loaded.

    `size_vram` and `context_length` are known for loaded models only.
    """

    name: str
    size: int
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    size_vram: int | None = None
    context_length: int | None = None


def _model(entry: Any) -> OllamaModel:
    details = entry.details
    return OllamaModel(
        name=entry.model or getattr(entry, "name", None) or "",
        size=int(entry.size or 0),
        family=details.family if details else None,
        parameter_size=details.parameter_size if details else None,
        quantization=details.quantization_level if details else None,
        size_vram=int(entry.size_vram) if getattr(entry, "size_vram", None) is not None else None,
        context_length=getattr(entry, "context_length", None),
    )


class OllamaProvider:
    """One Ollama server at `host` (the registry decides it: an alias's base URL, the
    daemon's Ollama address, else Ollama's default); `timeout` bounds each read."""

    name = NAME

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        tls: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`tls`: the process's TLS context, shared (see `ProviderRegistry`)."""
        self.host = host
        self._clock = clock
        shared: dict[str, Any] = {} if tls is None else {"verify": tls}
        self._client = ollama.AsyncClient(
            host=self.host, timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S), **shared
        )
        self._num_ctx: dict[str, int] = {}  # last size per model: shrinking would reload it
        self._shown: dict[str, Capabilities] = {}
        self._load_s: dict[str, float] = {}  # measured load times (Ollama's load_duration)

    async def _window(self, model: str) -> int | None:
        return (await self.capabilities(model)).context_window

    async def _plan(self, request: ChatRequest) -> tuple[dict[str, Any], int]:
        window = await self._window(request.model)
        tokens = estimate_tokens(request.prompt_chars(), len(request.messages))
        if window and tokens // 2 > window:  # twice our generous estimate: surely too long
            raise ContextLengthError(
                f"the prompt (about {tokens} tokens) exceeds the model's window of {window}",
                provider=NAME,
                model=request.model,
            )
        num_ctx = choose_num_ctx(
            tokens, request.max_tokens, window, self._num_ctx.get(request.model, 0)
        )
        return to_ollama(request, num_ctx), num_ctx

    def _worked(self, model: str, num_ctx: int) -> None:
        # Remembered only once a call succeeded with it: a size that failed (out of memory)
        # must not stick to every later call.
        self._num_ctx[model] = max(num_ctx, self._num_ctx.get(model, 0))

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """One ``/api/chat`` call with ``stream: false``."""
        started = self._clock()
        try:
            body, num_ctx = await self._plan(request)
            async with asyncio.timeout(request.timeout):
                answer = await self._client.chat(**body, stream=False)
        except CAUGHT as exc:
            raise map_error(exc, model=request.model) from None
        self._worked(request.model, num_ctx)
        data = answer.model_dump()
        self._loaded_in(request.model, load_seconds(data))
        elapsed = self._clock() - started
        return replace(from_ollama(data, num_ctx), timing=Timing(elapsed, elapsed))

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        """Deltas from the NDJSON stream, then `StreamEnd`; a break raises our error."""
        try:
            body, num_ctx = await self._plan(request)
        except CAUGHT as exc:
            raise map_error(exc, model=request.model) from None

        async def open_events() -> AsyncIterator[Any]:
            return await self._client.chat(**body, stream=True)

        decoder = OllamaStreamDecoder(num_ctx)
        events = run_stream(
            open_events,
            decoder,
            provider=NAME,
            model=request.model,
            map_error=lambda exc: map_error(exc, model=request.model),
            caught=CAUGHT,
            clock=self._clock,
        )
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, StreamEnd):
                    self._worked(request.model, num_ctx)
                    self._loaded_in(request.model, decoder.load_seconds)
                yield event

    def _loaded_in(self, model: str, seconds: float) -> None:
        # A model already in memory reports a few milliseconds: only a real load is a sample.
        if seconds >= MEASURED_LOAD_S:
            self._load_s[model] = seconds

    async def warmth(self, model: str) -> Warmth | None:
        """Loaded or not (``/api/ps``); the load time Ollama last reported for it, else one
        estimated from its size (None when the server cannot be asked)."""
        try:
            running = await self.loaded()
        except ProviderError:
            return None
        wanted = ollama_name(model)
        loaded = any(ollama_name(m.name) == wanted for m in running)
        if model in self._load_s:
            return Warmth(loaded, self._load_s[model], measured=True)
        try:
            pulled = await self.pulled()
        except ProviderError:
            return None
        size = next((m.size for m in pulled if ollama_name(m.name) == wanted), 0)
        return Warmth(loaded, size / LOAD_BYTES_PER_S, measured=False)

    async def warm(self, model: str) -> None:
        """Load the model: a chat with no messages, which Ollama answers once it is loaded."""
        try:
            answer = await self._client.chat(model=model, messages=[], stream=False)
        except CAUGHT as exc:
            raise map_error(exc, model=model) from None
        self._loaded_in(model, load_seconds(answer.model_dump()))

    async def embed(self, request: EmbedRequest) -> EmbedResponse:
        """Vectors from ``/api/embed`` (normalised by Ollama), in input order."""
        started = self._clock()
        try:
            async with asyncio.timeout(request.timeout):
                result = await self._client.embed(
                    model=request.model, input=list(request.inputs), dimensions=request.dimensions
                )
        except CAUGHT as exc:
            raise map_error(exc, model=request.model) from None
        elapsed = self._clock() - started
        return EmbedResponse(
            model=request.model,
            vectors=tuple(tuple(float(x) for x in row) for row in result.embeddings),
            usage=Usage(input_tokens=int(getattr(result, "prompt_eval_count", 0) or 0)),
            timing=Timing(elapsed, elapsed),
        )

    async def pulled(self) -> list[OllamaModel]:
        """The models the server has (``/api/tags``)."""
        try:
            listing = await self._client.list()
        except CAUGHT as exc:
            raise map_error(exc, model=None) from None
        return [_model(m) for m in listing.models]

    async def loaded(self) -> list[OllamaModel]:
        """The models in memory now, with their VRAM share and context (``/api/ps``)."""
        try:
            listing = await self._client.ps()
        except CAUGHT as exc:
            raise map_error(exc, model=None) from None
        return [_model(m) for m in listing.models]

    async def capabilities(self, model: str) -> Capabilities:
        """From ``/api/show``: its capability list and ``<arch>.context_length`` (cached)."""
        if model in self._shown:
            return self._shown[model]
        try:
            shown = await self._client.show(model)
        except CAUGHT as exc:
            raise map_error(exc, model=model) from None
        caps = set(shown.capabilities or ("completion",))
        info = shown.modelinfo or {}
        window = next(
            (int(v) for k, v in info.items() if k.endswith(".context_length") and v), None
        )
        chat = "completion" in caps
        result = Capabilities(
            context_window=window,
            chat=chat,
            tools="tools" in caps,
            images="vision" in caps,
            json_mode=chat,
            json_schema=chat,
            reasoning="thinking" in caps,
            embeddings="embedding" in caps,
        )
        self._shown[model] = result
        return result

    async def status(self) -> ProviderStatus:
        """Reachable when ``/api/tags`` answers; the detail counts the pulled models."""
        shown = redact_url(self.host)
        try:
            models = await self.pulled()
        except ProviderError as error:
            return ProviderStatus(NAME, True, True, False, shown, error.detail)
        return ProviderStatus(NAME, True, True, True, shown, f"{len(models)} models pulled")

    async def aclose(self) -> None:
        """Close the client's connection pool."""
        await self._client.close()  # type: ignore[no-untyped-call]
